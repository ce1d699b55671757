"""Opportunity search, paging, explaining a notice and alerts, over REST against the real servers.

The session's data directory holds an opportunities.db built from the bundled samples shifted to be open now
(tests/opportunities/open_opportunities.py), so these tests see live-looking notices offline.
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _buttons(replies: list[dict]) -> list[dict]:
    return [b for r in replies for b in r.get("buttons", [])]


def test_search_with_a_topic_and_region_shows_title_buyer_closing_and_link(chat):
    replies = chat.send("any cybersecurity contracts in the ncr")
    text = _texts(replies)
    assert "I found 1 open opportunities" in text
    assert "Cybersecurity assessment services" in text and "Health Canada" in text
    assert "days left" in text and " ET (" in text
    assert "https://canadabuys.canada.ca/en/tender-opportunities/tender-notice/cb-900-00000001" in text
    explain = [b for b in _buttons(replies) if b["title"] == "Explain this notice"]
    assert json.loads(explain[0]["payload"].split("explain_notice", 1)[1]) == {"notice_ref": "canadabuys:cb-900-00000001"}


@pytest.mark.parametrize("message, expected, unexpected", [
    ("show me open IT tenders", "Laptops and docking stations", "Request for Tender"),
    ("construction bids in toronto", "City of Toronto", "Cybersecurity"),
    ("any laptops from Health Canada", "Laptops and docking stations", "Cybersecurity"),
    ("services tenders worth over $200k", "Cybersecurity assessment services", "Web development"),
    ("web development tenders closing in the next 10 days", "Web development and accessibility", "Laptops"),
])
def test_search_understands_each_filter(new_chat, message, expected, unexpected):
    text = _texts(new_chat().send(message))
    assert expected in text and unexpected not in text


def test_more_pages_through_results_without_repeating(chat):
    first = _texts(chat.send("construction tenders"))
    assert "Here are 1 to 5" in first and "**1. " in first
    second = _texts(chat.send("more"))
    assert "Here are 6 to 10" in second and "**6. " in second
    first_titles = {line for line in first.splitlines() if line.startswith("**")}
    second_titles = {line for line in second.splitlines() if line.startswith("**")}
    assert first_titles and not first_titles & second_titles


def test_none_found_suggests_broadening_and_offers_an_alert(chat):
    replies = chat.send("find underwater basket weaving tenders in toronto")
    text = _texts(replies)
    assert "couldn't find any open opportunities" in text and "drop the region" in text
    assert "/subscribe_alerts" in [b["payload"] for b in _buttons(replies)]


def test_explain_a_notice_answers_what_who_how_when_and_offers_the_next_step(chat):
    chat.send("cybersecurity contracts")
    replies = chat.send('/explain_notice{"notice_ref":"canadabuys:cb-900-00000001"}')
    text = _texts(replies)
    for part in ("What is being bought", "Who can bid", "How to submit", "When it is due", "Security"):
        assert part in text
    assert "Facility Security Clearance" in text and "CFTA" in text and "amended" in text
    payloads = [b["payload"] for b in _buttons(replies)]
    assert "/start_bid_readiness" in payloads or "/request_human" in payloads


def test_subscribe_with_consent_stores_the_email_apart_and_unsubscribe_deletes_it(chat, stack_data_dir):
    chat.send("web development tenders")
    consent = chat.send("/subscribe_alerts")
    assert "Do you agree?" in _texts(consent)
    assert "/consent_alerts" in [b["payload"] for b in _buttons(consent)]
    assert "What email address" in _texts(chat.send("/consent_alerts"))
    assert "doesn't look like an email" in _texts(chat.send("my email is jane@example"))
    done = _texts(chat.send("my email is jane.e2e@example.ca"))
    assert "unsubscribe code" in done
    engine = sa.create_engine(f"sqlite:///{stack_data_dir / 'alerts.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT email, query FROM alert_subscriptions")).fetchall()
    assert ("jane.e2e@example.ca" in [r[0] for r in rows]) and any("web development" in r[1] for r in rows)
    assert "1 alert subscription(s) stopped" in _texts(chat.send("unsubscribe"))
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT count(*) FROM alert_subscriptions WHERE email = 'jane.e2e@example.ca'"))
        assert left.scalar() == 0
    engine.dispose()


def test_an_email_without_consent_is_not_stored(chat, stack_data_dir):
    chat.send("cybersecurity contracts")
    assert "need your agreement" in _texts(chat.send("my email is noconsent@example.ca"))
    path = stack_data_dir / "alerts.db"
    if path.exists():
        assert b"noconsent@example.ca" not in path.read_bytes()
