"""The unsubscribe link in alert emails, followed against the real web server on 127.0.0.1.

GET only asks (a mail scanner opening the link unsubscribes nobody); POST stops the alerts; an unknown, malformed
or already used token gets a clear page, never a traceback.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import requests

from bot import shared_store
from bot.alerts import digest, store
from bot.cli import main as cli_main
from bot.opportunities.conversation import query_to_dict
from bot.opportunities.search import SearchQuery
from bot.web import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "opportunities"))
from open_opportunities import build_open_store  # noqa: E402

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
TRACEBACK_MARKERS = ("Traceback", "Exception", "File \"/")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.delenv("ALERTS_UNSUBSCRIBE_URL", raising=False)
    build_open_store(tmp_path / "opportunities.db", NOW)
    yield tmp_path
    shared_store.dispose()


@pytest.fixture
def web(data_dir, monkeypatch):
    """The web server in a thread; alert emails link to it (HOST and WEB_PORT say where it is)."""
    server = make_server("127.0.0.1", 0)
    port = server.server_address[1]
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("WEB_PORT", str(port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def _subscribe(text: str = "cybersecurity", email: str = "founder@example.ca") -> str:
    return store.subscribe(email, query_to_dict(SearchQuery(text=text)), f"words: {text}", "chat-1", NOW)


def _link_in_digest(tmp_path: Path, email: str) -> str:
    """Runs `python -m bot alerts run --dry-run` and returns the unsubscribe link in the email to `email`."""
    outbox = tmp_path / "outbox"
    assert cli_main(["alerts", "run", "--dry-run", str(outbox)]) == 0
    messages = [message_from_bytes(eml.read_bytes(), policy=policy.default) for eml in outbox.glob("digest-*.eml")]
    [message] = [m for m in messages if m["To"] == email]
    body = message.get_content()
    links = re.findall(r"http://\S+/alerts/unsubscribe\?token=\S+", body)
    assert len(links) == 1, body
    assert message["List-Unsubscribe"] == f"<{links[0]}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Subject"] == (Path(digest.__file__).parent / "digest_subject.txt").read_text().strip()
    return links[0]


def _assert_clean_page(response: requests.Response) -> None:
    assert response.headers["Content-Type"].startswith("text/html")
    assert not any(marker in response.text for marker in TRACEBACK_MARKERS), response.text[:500]


def test_the_link_in_the_email_asks_first_and_the_button_unsubscribes(web, data_dir, tmp_path):
    token = _subscribe()
    _subscribe("web development", email="other@example.ca")
    link = _link_in_digest(tmp_path, "founder@example.ca")
    assert link.startswith(web) and link.endswith(token)

    for _ in range(2):  # a scanner, then the founder: opening the link changes nothing
        page = requests.get(link, timeout=10)
        assert page.status_code == 200 and "Stop opportunity alerts?" in page.text
        assert "words: cybersecurity" in page.text and f'value="{token}"' in page.text
        assert 'method="post"' in page.text and 'action="/alerts/unsubscribe"' in page.text
        _assert_clean_page(page)
    assert store.find_subscription(token) is not None

    done = requests.post(f"{web}/alerts/unsubscribe", data={"token": token}, timeout=10)
    assert done.status_code == 200 and "Your alerts are stopped" in done.text
    _assert_clean_page(done)
    assert store.find_subscription(token) is None
    assert [s.email for s in store.subscriptions()] == ["other@example.ca"]  # only this one stopped

    again = requests.get(link, timeout=10)  # the used link
    assert again.status_code == 404 and "not valid any more" in again.text
    repeat = requests.post(f"{web}/alerts/unsubscribe", data={"token": token}, timeout=10)
    assert repeat.status_code == 404 and "not valid any more" in repeat.text


def test_one_click_post_from_a_mail_program_unsubscribes(web, data_dir):
    token = _subscribe()
    response = requests.post(f"{web}/alerts/unsubscribe?token={token}", data="List-Unsubscribe=One-Click",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert response.status_code == 200 and "Your alerts are stopped" in response.text
    assert store.subscriptions() == []


@pytest.mark.parametrize("query", ["", "?token=", "?token=ABCDEFGHJK", "?token=%3Cscript%3E", "?token=A2" * 50,
                                   "?token=ZZZZZZZZZ2", "?other=1"])
def test_unknown_or_malformed_tokens_get_a_clear_page_and_change_nothing(web, data_dir, query):
    _subscribe()
    for response in (requests.get(f"{web}/alerts/unsubscribe{query}", timeout=10),
                     requests.post(f"{web}/alerts/unsubscribe{query}", data={"token": query[7:]}, timeout=10)):
        assert response.status_code == 404 and "not valid any more" in response.text
        assert "<script>" not in response.text
        _assert_clean_page(response)
    assert len(store.subscriptions()) == 1


def test_an_oversized_form_is_refused_and_other_posts_are_not_allowed(web, data_dir):
    token = _subscribe()
    big = requests.post(f"{web}/alerts/unsubscribe", data={"token": token, "x": "a" * 10000}, timeout=10)
    assert big.status_code == 413
    assert requests.post(f"{web}/index.html", data={"a": "b"}, timeout=10).status_code == 405
    assert len(store.subscriptions()) == 1


def test_a_configured_public_link_is_used_in_the_email_and_the_chat(data_dir, tmp_path, monkeypatch):
    from bot.alerts.unsubscribe import link_prefix

    monkeypatch.setenv("ALERTS_UNSUBSCRIBE_URL", "https://navigator.example.ca/alerts/unsubscribe?token=")
    token = _subscribe()
    outbox = tmp_path / "outbox"
    assert cli_main(["alerts", "run", "--dry-run", str(outbox)]) == 0
    body = message_from_bytes(next(outbox.glob("*.eml")).read_bytes(), policy=policy.default).get_content()
    assert f"https://navigator.example.ca/alerts/unsubscribe?token={token}" in body
    assert link_prefix() == "https://navigator.example.ca/alerts/unsubscribe?token="


def test_the_token_never_reaches_the_web_server_log(web, data_dir, caplog):
    token = _subscribe()
    with caplog.at_level("INFO", logger="bot.web"):
        requests.get(f"{web}/alerts/unsubscribe?token={token}", timeout=10)
        requests.post(f"{web}/alerts/unsubscribe?token={token}", timeout=10)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/alerts/unsubscribe?token=" in logged and token not in logged
