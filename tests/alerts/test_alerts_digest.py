"""Alert subscriptions and the digest run: consent-stored addresses, one digest per subscriber, no duplicates,
amended notices flagged, SMTP through a local server and dry-run files."""
from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from alerts_smtp_server import FakeSmtpServer
from bot import shared_store
from bot.alerts import digest, store
from bot.cli import main as cli_main
from bot.opportunities import store as opp_store
from bot.opportunities.conversation import query_to_dict
from bot.opportunities.search import SearchQuery, get_notice

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "opportunities"))
from open_opportunities import build_open_store  # noqa: E402

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    build_open_store(tmp_path / "opportunities.db", NOW)
    yield tmp_path
    shared_store.dispose()


def _subscribe(text: str = "cybersecurity", email: str = "founder@example.ca", sender: str = "chat-1") -> str:
    return store.subscribe(email, query_to_dict(SearchQuery(text=text)), f"words: {text}", sender, NOW)


def test_email_addresses_are_validated_and_found_in_a_sentence():
    assert store.find_email("my email is sam.lee@firm.com.") == "sam.lee@firm.com"
    assert store.find_email("jane@example") is None
    assert store.find_email("no thanks") is None
    assert store.find_email("a@b.ca and c@d.ca") is None  # two addresses: ask again rather than guess
    with pytest.raises(ValueError):
        store.subscribe("not-an-email", {}, "", "x", NOW, db_path=Path("/nonexistent/never.db"))


def test_unsubscribe_tokens_are_found_only_with_a_digit():
    token = store.new_token()
    assert store.find_token(f"unsubscribe {token.lower()}") == token
    assert store.find_token("unsubscribe") is None and store.find_token("please stop everything") is None


def test_subscriptions_are_kept_in_their_own_database_and_deleted_by_token_or_conversation(data_dir):
    token = _subscribe()
    _subscribe("web development", sender="chat-2")
    assert (data_dir / "alerts.db").exists()
    assert [s.email for s in store.subscriptions()] == ["founder@example.ca", "founder@example.ca"]
    assert "founder@example.ca" not in (data_dir / "opportunities.db").read_bytes().decode("latin-1")
    assert store.unsubscribe(token=token) == 1
    assert store.unsubscribe(token=token) == 0
    assert store.unsubscribe(sender_id="chat-2") == 1
    assert store.subscriptions() == []


def test_run_sends_one_digest_per_subscriber_through_smtp_and_never_the_same_notice_twice(data_dir):
    _subscribe("cybersecurity", "a@example.ca")
    _subscribe("web development", "b@example.ca")
    with FakeSmtpServer() as smtp:
        send = digest.smtp_sender(digest.SmtpConfig(host="127.0.0.1", port=smtp.port))
        report = digest.run(NOW, send, sender="Navigator <alerts@example.ca>", unsubscribe_url="https://x.ca/u/")
        assert report.digests == 2 and report.failures == []
        by_recipient = {m["To"]: m for m in smtp.messages}
        cyber = by_recipient["a@example.ca"].get_content()
        assert "Cybersecurity assessment services" in cyber and "Web development" not in cyber
        assert "Closes Sun 29 Nov 2026 at 2:00 PM ET (3 days left)" in cyber
        assert by_recipient["a@example.ca"]["List-Unsubscribe"].startswith("<https://x.ca/u/")
        again = digest.run(NOW + dt.timedelta(hours=1), send, sender="n@example.ca")
        assert again.digests == 0 and len(smtp.messages) == 2


def test_an_amended_notice_is_sent_again_flagged_as_amended(data_dir):
    _subscribe("cybersecurity")
    sent: list = []
    digest.run(NOW, sent.append, sender="n@example.ca")
    notice = get_notice("canadabuys", "cb-900-00000001")
    amended = dataclasses.replace(notice, amendment_number="002",
                                  closing=notice.closing + dt.timedelta(days=7))
    with opp_store.open_writer(data_dir / "opportunities.db") as db:
        opp_store.load(db, "canadabuys", [amended], NOW + dt.timedelta(days=1))
    report = digest.run(NOW + dt.timedelta(days=1), sent.append, sender="n@example.ca")
    assert report.amended == 1 and len(sent) == 2
    assert "[AMENDED] Cybersecurity assessment services" in sent[1].get_content()
    assert "[AMENDED]" not in sent[0].get_content()


def test_cli_dry_run_writes_digests_to_files(data_dir, tmp_path, capsys):
    _subscribe("cybersecurity")
    out = tmp_path / "outbox"
    assert cli_main(["alerts", "run", "--dry-run", str(out)]) == 0
    files = sorted(out.glob("digest-*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "founder@example.ca" and "unsubscribe" in message.get_content()
    assert "1 digest(s)" in capsys.readouterr().out


def test_cli_without_an_smtp_server_reports_a_problem(data_dir, monkeypatch, capsys):
    monkeypatch.delenv("ALERTS_SMTP_HOST", raising=False)
    assert cli_main(["alerts", "run"]) == 1
    assert "ALERTS_SMTP_HOST" in capsys.readouterr().err


def test_a_refused_recipient_is_reported_without_the_address(data_dir):
    _subscribe("cybersecurity", "secret.person@example.ca")

    def refuse(message):
        import smtplib
        raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"no")})

    report = digest.run(NOW, refuse, sender="n@example.ca")
    assert report.digests == 0 and len(report.failures) == 1
    assert "secret.person" not in report.failures[0]
