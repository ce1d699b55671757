"""Every setting of Supplier Navigator, in one place.

Settings are data: each has a name (the environment variable), a default and one line of help. The README's
settings table is tested against this list, so code and docs cannot drift apart.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATA_DIR", "var", "Directory for generated files: databases, trained models, logs (relative to the repo)."),
    Setting("KNOWLEDGE_DIR", "knowledge", "Directory of the staff-edited knowledge files."),
    Setting("RASA_PORT", "5005", "Port of the Rasa server (REST and socket.io channels)."),
    Setting("ACTIONS_PORT", "5055", "Port of the Rasa action server."),
    Setting("WEB_PORT", "8000", "Port of the widget page and static web server."),
    Setting("HOST", "127.0.0.1", "Interface the three services listen on."),
    Setting("PUBLIC_RASA_URL", "", "Rasa server URL as the browser sees it; empty means http://HOST:RASA_PORT."),
    Setting("ACTION_ENDPOINT_URL", "", "Action server webhook; empty means http://HOST:ACTIONS_PORT/webhook."),
    Setting("TRACKER_STORE_URL", "", "SQLAlchemy URL of the tracker store; empty means a SQLite file in DATA_DIR."),
    Setting("REDIS_URL", "",
            "Shared lock store, redis://[:password@]host:port/db; empty means in-memory (one Rasa server)."),
    Setting("RASA_API_TOKEN", "", "Token for Rasa's HTTP API; empty means one is generated once into DATA_DIR."),
    Setting("CORS_ORIGINS", "*", "Origins allowed to call the Rasa server from a browser."),
    Setting("OFFLINE", "0", "1 turns off every live network fetch (feeds); tests and CI set it."),
    Setting("FEED_REFRESH_HOURS", "6", "How often `make run` refreshes the opportunity feeds in the background."),
    Setting("ALERTS_SMTP_HOST", "", "SMTP server for opportunity alert emails; empty means alerts run only with --dry-run."),
    Setting("ALERTS_SMTP_PORT", "25", "Port of the SMTP server for alert emails."),
    Setting("ALERTS_SMTP_USER", "", "SMTP login for alert emails; empty means no login."),
    Setting("ALERTS_SMTP_PASSWORD", "", "SMTP password for alert emails."),
    Setting("ALERTS_SMTP_STARTTLS", "0", "1 upgrades the SMTP connection with STARTTLS."),
    Setting("ALERTS_FROM", "Supplier Navigator <alerts@localhost>", "From address of alert emails."),
    Setting("ALERTS_UNSUBSCRIBE_URL", "",
            "Unsubscribe link prefix in alert emails (the code is appended); empty means "
            "http://HOST:WEB_PORT/alerts/unsubscribe?token=."),
    Setting("STAFF_PASSWORD", "",
            "Password of the staff pages; empty means one is generated on first `make run`, printed once, stored hashed."),
    Setting("STAFF_SESSION_MINUTES", "120", "How long a staff login lasts before the staff pages ask again."),
    Setting("CONCIERGE_RETENTION_DAYS", "90",
            "Days a concierge request (name, email, company, description) is kept, whatever its status; then purged."),
    Setting("REPORT_TIMEZONE", "America/Toronto",
            "Time zone of the staff usage report's days and times (a tz database name, e.g. America/Toronto or UTC)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(ValueError):
    """A setting's value cannot be used; the message names the setting and what it should be."""


def get(name: str) -> str:
    """The value of a setting: the environment variable if set and not empty, else the default."""
    setting = _BY_NAME[name]
    value = os.environ.get(name, "")
    return value if value != "" else setting.default


def get_int(name: str) -> int:
    return int(get(name))


def get_bool(name: str) -> bool:
    return get(name).strip().lower() in {"1", "true", "yes", "on"}


def get_zone(name: str) -> ZoneInfo:
    """A time-zone setting as a ZoneInfo, from the system's tz database; an unknown name is a SettingError."""
    value = get(name).strip()
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: a path, not a zone name
        raise SettingError(f"{name}={value!r} is not a known time zone: use a tz database name such as "
                           f"America/Toronto or UTC") from None


def path(name: str) -> Path:
    """A path-valued setting, resolved against the project root when relative."""
    value = Path(get(name))
    return value if value.is_absolute() else PROJECT_ROOT / value


def data_dir() -> Path:
    directory = path("DATA_DIR")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
