"""Email alerts for a saved opportunity search: subscriptions (bot.alerts.store) and the digest run (bot.alerts.digest)."""
