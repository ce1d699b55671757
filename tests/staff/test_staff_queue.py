"""The concierge queue, the retention purge, one person's export and deletion, and the tracker redaction."""
from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from zoneinfo import ZoneInfo

import pytest
from async_helpers import run as run_async

from bot import privacy, shared_store
from bot.alerts import store as alerts_store
from bot.cli import main
from bot.staff import queue
from bot.tracker_store import REDACTED, redact_events

EASTERN = dt.timezone(dt.timedelta(hours=-5))
PINNED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=EASTERN)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.delenv("CONCIERGE_RETENTION_DAYS", raising=False)
    yield tmp_path
    shared_store.dispose()


def submit(sender: str, at: dt.datetime, name: str = "Jane Tremblay", email: str = "jane@example.ca",
           company: str = "Northwind Renovations Inc.", description: str = "Help with a hospital bid") -> str:
    queue.start_draft(sender, "Vendor of Record arrangements", at)
    for field, value in (("name", name), ("email", email), ("company", company), ("description", description)):
        assert queue.update_draft(sender, field, value)
    reference = queue.submit_draft(sender, at)
    assert reference is not None
    return reference


def test_a_submitted_request_has_every_field_and_a_reference(data_dir):
    reference = submit("conv-1", PINNED)
    [request] = queue.list_requests()
    assert request["reference"] == reference and re.fullmatch(r"C\d{5}", reference)
    assert (request["sender_id"], request["topic"], request["status"]) == (
        "conv-1", "Vendor of Record arrangements", "new")
    assert (request["name"], request["email"], request["company"], request["description"]) == (
        "Jane Tremblay", "jane@example.ca", "Northwind Renovations Inc.", "Help with a hospital bid")
    assert request["created_at"] == request["consent_at"] == request["status_changed_at"] == "2026-03-02T15:00:00+00:00"
    assert (data_dir / "concierge.db").exists()


def test_drafts_are_not_in_the_queue_and_an_incomplete_draft_gets_no_reference(data_dir):
    queue.start_draft("conv-1", "general help", PINNED)
    queue.update_draft("conv-1", "name", "Jane")
    assert queue.submit_draft("conv-1", PINNED) is None  # email, company, description missing
    assert queue.list_requests() == []
    assert queue.discard_draft("conv-1") == 1
    assert queue.update_draft("conv-1", "email", "jane@example.ca") is False  # no draft, no consent: not kept
    with sqlite3.connect(data_dir / "concierge.db") as db:
        assert db.execute("SELECT count(*) FROM concierge_requests").fetchone()[0] == 0


def test_set_status_and_filtering(data_dir):
    first = submit("conv-1", PINNED)
    submit("conv-2", PINNED + dt.timedelta(hours=1), email="sam@example.ca")
    request_id = next(r["id"] for r in queue.list_requests() if r["reference"] == first)
    later = PINNED + dt.timedelta(days=1)
    changed = queue.set_status(request_id, "contacted", now=later)
    assert changed["status"] == "contacted" and changed["status_changed_at"] == "2026-03-03T15:00:00+00:00"
    assert [r["reference"] for r in queue.list_requests("contacted")] == [first]
    assert len(queue.list_requests("new")) == 1
    assert [r["sender_id"] for r in queue.list_requests()] == ["conv-2", "conv-1"]  # newest first
    with pytest.raises(ValueError):
        queue.set_status(request_id, "deleted")
    with pytest.raises(queue.RequestNotFound):
        queue.set_status(9999, "closed")
    with pytest.raises(queue.RequestNotFound):
        queue.set_status("not-a-number", "closed")


def test_queue_html_lists_each_request_with_transcript_link_and_status_form(data_dir):
    assert "No concierge requests" in queue.queue_html("tok")
    submit("conv/1", PINNED, name="<b>Jane</b>")
    fragment = queue.queue_html('to"k')
    assert 'href="/staff/conversations/conv%2F1"' in fragment
    assert '<form method="post" action="/staff/queue/status">' in fragment
    assert 'name="csrf" value="to&quot;k"' in fragment
    request_id = queue.list_requests()[0]["id"]
    assert f'name="request_id" value="{request_id}"' in fragment
    assert '<option value="new" selected>' in fragment
    assert "&lt;b&gt;Jane&lt;/b&gt;" in fragment and "<b>Jane" not in fragment
    # Received at 10:00 Eastern (stored as 15:00 UTC): shown in the staff's zone, the exact moment in datetime.
    assert '<time datetime="2026-03-02T10:00:00-05:00">2026-03-02 10:00:00 EST</time>' in fragment
    assert "UTC" not in fragment
    in_utc = queue.queue_html("t", zone=ZoneInfo("UTC"))
    assert '<time datetime="2026-03-02T15:00:00+00:00">2026-03-02 15:00:00 UTC</time>' in in_utc


def test_retention_purge_deletes_requests_older_than_the_period_whatever_their_status(data_dir, monkeypatch):
    old = submit("conv-old", PINNED - dt.timedelta(days=91))
    closed_recent = submit("conv-recent", PINNED - dt.timedelta(days=89))
    queue.set_status(queue.list_requests()[0]["id"], "closed", now=PINNED)
    queue.set_status(next(r["id"] for r in queue.list_requests() if r["reference"] == old), "contacted", now=PINNED)
    queue.start_draft("conv-abandoned", "general help", PINNED - dt.timedelta(days=2))
    queue.start_draft("conv-typing", "general help", PINNED - dt.timedelta(hours=1))

    monkeypatch.setattr("bot.clock.now", lambda: PINNED)
    assert privacy.purge() == 2  # the 91-day-old request (contacted) and the abandoned draft
    assert [r["reference"] for r in queue.list_requests()] == [closed_recent]
    with sqlite3.connect(data_dir / "concierge.db") as db:
        senders = {row[0] for row in db.execute("SELECT sender_id FROM concierge_requests")}
    assert senders == {"conv-recent", "conv-typing"}

    monkeypatch.setenv("CONCIERGE_RETENTION_DAYS", "30")
    assert main(["privacy", "purge"]) == 0
    assert queue.list_requests() == []


def test_purge_refuses_a_retention_period_under_a_day(data_dir):
    with pytest.raises(ValueError):
        privacy.purge(now=PINNED, days=0)


def subscribe(email: str) -> str:
    return alerts_store.subscribe(email, {"text": "cleaning"}, "cleaning in Toronto", "conv-1", PINNED)


def test_export_prints_every_record_about_a_person_and_only_theirs(data_dir, capsys):
    reference = submit("conv-1", PINNED, email="Jane@Example.ca")
    submit("conv-2", PINNED, email="sam@example.ca", name="Sam Lee")
    token = subscribe("jane@example.ca")
    subscribe("other@example.ca")

    assert main(["privacy", "export", "--email", "jane@example.ca"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert [r["reference"] for r in exported["concierge_requests"]] == [reference]
    assert exported["concierge_requests"][0]["name"] == "Jane Tremblay"
    assert [s["token"] for s in exported["alert_subscriptions"]] == [token]
    assert exported["alert_subscriptions"][0]["query"] == {"text": "cleaning"}
    assert "Sam Lee" not in json.dumps(exported) and "other@example.ca" not in json.dumps(exported)


def test_delete_removes_every_record_about_a_person_and_says_what(data_dir, capsys):
    reference = submit("conv-1", PINNED)
    kept = submit("conv-2", PINNED, email="sam@example.ca")
    subscribe("jane@example.ca")
    subscribe("other@example.ca")

    assert main(["privacy", "delete", "--email", "JANE@example.ca"]) == 0
    out = capsys.readouterr().out
    assert f"concierge requests: 1 ({reference})" in out and "alert subscriptions: 1 (cleaning in Toronto)" in out
    assert [r["reference"] for r in queue.list_requests()] == [kept]
    assert [s.email for s in alerts_store.subscriptions()] == ["other@example.ca"]
    assert privacy.export_person("jane@example.ca") == {
        "email": "jane@example.ca", "concierge_requests": [], "alert_subscriptions": []}


@pytest.mark.parametrize("command", ["export", "delete"])
def test_an_unknown_or_invalid_email_gets_a_clear_message_and_exit_1(data_dir, capsys, command):
    submit("conv-1", PINNED)
    assert main(["privacy", command, "--email", "nobody@example.ca"]) == 1
    assert "No personal data is held for nobody@example.ca" in capsys.readouterr().err
    assert main(["privacy", command, "--email", "not an address"]) == 1
    assert "not a valid email address" in capsys.readouterr().err
    assert len(queue.list_requests()) == 1


def _user(text: str, intent: str) -> dict:
    return {"event": "user", "text": text,
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                           "entities": [{"entity": "x", "value": text}]}}


def test_redaction_drops_personal_answers_and_slot_values_and_keeps_the_rest():
    events = [
        _user("what is a vendor of record", "topic_vor_what_is"),
        {"event": "active_loop", "name": "concierge"},
        {"event": "slot", "name": "requested_slot", "value": "concierge_consent"},
        _user("/flow_yes", "flow_yes"),
        {"event": "slot", "name": "requested_slot", "value": "concierge_name"},
        _user("Jane Tremblay", "concierge_inform"),
        {"event": "slot", "name": "concierge_name", "value": "Jane Tremblay"},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "active_loop", "name": None},
        _user("thanks", "thank"),
        _user("send alerts to sam@example.ca please", "subscribe_alerts"),
        _user("whatever", "give_email"),
    ]
    redacted = redact_events(events)
    texts = [e["text"] for e in redacted if e["event"] == "user"]
    assert texts == ["what is a vendor of record", "/flow_yes", REDACTED, "thanks", REDACTED, REDACTED]
    name_message = redacted[5]
    assert name_message["parse_data"]["text"] == REDACTED and name_message["parse_data"]["entities"] == []
    assert name_message["parse_data"]["intent"]["name"] == "concierge_inform"  # the report still counts it
    assert redacted[6]["value"] == REDACTED
    assert "Jane" not in json.dumps(redacted) and "sam@example.ca" not in json.dumps(redacted)
    assert events[5]["text"] == "Jane Tremblay"  # the live tracker's events are not changed



def test_an_email_typed_into_a_free_text_flow_answer_is_redacted_from_its_slot_and_the_echoing_reply():
    events = [
        {"event": "active_loop", "name": "deal_form"},
        {"event": "slot", "name": "requested_slot", "value": "deal_buyer"},
        _user("Ministry of Health, buyer jo.buyer@ontario.ca", "inform"),
        {"event": "slot", "name": "deal_buyer", "value": "Ministry of Health, buyer jo.buyer@ontario.ca"},
        {"event": "slot", "name": "events_text", "value": ["trade show", "ask sam@example.ca"]},
        {"event": "bot", "text": "Noted: Ministry of Health, buyer jo.buyer@ontario.ca.", "data": {}},
        {"event": "slot", "name": "deal_stage", "value": "bid submitted"},
        {"event": "slot", "name": "deal_count", "value": 3},
    ]
    redacted = redact_events(events)
    assert "@" not in json.dumps(redacted)
    assert redacted[3]["value"] == f"Ministry of Health, buyer {REDACTED}"  # the rest of the answer stays usable
    assert redacted[4]["value"] == ["trade show", f"ask {REDACTED}"]
    assert redacted[5]["text"] == f"Noted: Ministry of Health, buyer {REDACTED}."
    assert redacted[6:] == events[6:]
    assert events[3]["value"].endswith("jo.buyer@ontario.ca")  # the live tracker's events are not changed


def test_the_tracker_store_class_loads_from_endpoints_and_stores_redacted_events(tmp_path, monkeypatch):
    """Rasa falls back to an in-memory store when a custom class cannot be imported: make sure it does not."""
    
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.settings import PROJECT_ROOT
    from bot.tracker_store import GuardedSQLTrackerStore, RedactingSQLTrackerStore

    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:1/webhook")
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    domain = Domain.from_dict({"slots": {"concierge_company": {"type": "text", "mappings": [{"type": "custom"}]}}})
    store = TrackerStore.create(endpoints.tracker_store, domain=domain)
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, RedactingSQLTrackerStore)
    assert isinstance(inner, GuardedSQLTrackerStore)  # the fault guard still wraps the redacting save

    tracker = DialogueStateTracker.from_events("conv-1", [
        ActiveLoop("concierge"), SlotSet("requested_slot", "concierge_company"),
        UserUttered("Northwind Renovations Inc.", {"name": "concierge_inform", "confidence": 0.8}),
        SlotSet("concierge_company", "Northwind Renovations Inc."),
    ], domain.slots)
    run_async(store.save(tracker))
    for event in (ActiveLoop(None), SlotSet("requested_slot", None),
                  UserUttered("hello again", {"name": "greet", "confidence": 0.9})):
        tracker.update(event)
    run_async(store.save(tracker))  # the second save adds only the new events, in order
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        rows = db.execute("SELECT type_name, data FROM events ORDER BY id").fetchall()
    raw = json.dumps(rows)
    assert "Northwind" not in raw
    assert [json.loads(d).get("text") for t, d in rows if t == "user"] == [REDACTED, "hello again"]
    assert len(rows) == 7


def test_form_answers_go_to_the_draft_and_the_slot_keeps_only_a_placeholder(data_dir, tracker_factory, dispatcher,
                                                                            domain):
    from actions.handoff import PLACEHOLDER, ValidateConcierge

    validate = ValidateConcierge()
    tracker = tracker_factory(sender_id="conv-9", slots={"concierge_topic": "Invoicing"})
    assert validate.validate_concierge_consent(True, dispatcher, tracker, domain) == {"concierge_consent": True}
    assert validate.validate_concierge_email("jane at example", dispatcher, tracker, domain) == {
        "concierge_email": None}
    assert dispatcher.messages[-1]["response"] == "utter_concierge_invalid_email"
    assert validate.validate_concierge_email("it's Jane@Example.ca", dispatcher, tracker, domain) == {
        "concierge_email": PLACEHOLDER}
    assert validate.validate_concierge_name("jane@example.ca", dispatcher, tracker, domain) == {"concierge_name": None}
    assert validate.validate_concierge_name("Jane Tremblay", dispatcher, tracker, domain) == {
        "concierge_name": PLACEHOLDER}
    with sqlite3.connect(data_dir / "concierge.db") as db:
        row = db.execute("SELECT topic, name, email, status FROM concierge_requests "
                         "WHERE sender_id = 'conv-9'").fetchone()
    assert row == ("Invoicing", "Jane Tremblay", "Jane@Example.ca", "draft")


@pytest.mark.parametrize(("intent", "text", "long_answer", "expected"), [
    ("topic_vor_what_is", "what is a vendor of record?", False, True),
    ("topic_vor_what_is", "Vendor Systems Ltd", False, False),  # a company name that looks like a topic
    ("topic_vor_what_is", "we want help getting on a vendor of record list for cleaning", True, False),
    ("topic_vor_what_is", "how do I get on a vendor of record list", True, True),
    ("stop", "cancel", False, True),
    ("concierge_inform", "Jane Tremblay", False, False),
    ("give_email", "jane@example.ca", False, False),
])
def test_a_question_mid_form_is_told_apart_from_an_answer(intent, text, long_answer, expected):
    from bot.concierge import is_question

    assert is_question(intent, text, long_answer) is expected


def test_on_postgresql_the_tracker_store_redacts_and_the_queue_lives_in_the_same_database(monkeypatch):
    """The cluster: TRACKER_STORE_URL is PostgreSQL; the redacting store and the queue must both work there."""
    import shutil
    import socket
    import tempfile
    from pathlib import Path

    import sqlalchemy as sa
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.cluster import Postgres
    from bot.tracker_store import RedactingSQLTrackerStore

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = Path(tempfile.mkdtemp(prefix="concierge-pg-"))  # PostgreSQL runs as its own user
    base.chmod(0o755)
    (base / "secrets").mkdir()
    postgres = Postgres(base / "pgdata", base / "secrets", "127.0.0.1", port, base / "postgres.log")
    try:
        postgres.start()
        store = RedactingSQLTrackerStore(Domain.empty(), host=postgres.url)  # as endpoints.yml builds it
        run_async(store.save(DialogueStateTracker.from_events("conv-pg", [
            ActiveLoop("concierge"), SlotSet("requested_slot", "concierge_name"),
            UserUttered("Ottoline Quimbly", {"name": "concierge_inform", "confidence": 0.8}),
            SlotSet("concierge_name", "Ottoline Quimbly")])))
        with store.engine.connect() as connection:
            raw = json.dumps([list(r) for r in connection.execute(sa.text("SELECT * FROM events"))])
        store.engine.dispose()
        assert "Quimbly" not in raw and REDACTED in raw

        monkeypatch.setenv("TRACKER_STORE_URL", postgres.url)
        reference = submit("conv-pg", PINNED)
        assert [r["reference"] for r in queue.list_requests()] == [reference]
        assert privacy.purge(now=PINNED + dt.timedelta(days=91), days=90) == 1
        assert queue.list_requests() == []
    finally:
        shared_store.dispose()
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_the_run_command_purger_purges_at_start_and_stops(data_dir, monkeypatch):
    submit("conv-old", PINNED - dt.timedelta(days=120))
    monkeypatch.setattr("bot.clock.now", lambda: PINNED)
    purger = privacy.RetentionPurger(every_seconds=3600)
    purger.start()
    try:
        for _ in range(100):
            if not queue.list_requests():
                break
            purger.stopped.wait(0.05)
        assert queue.list_requests() == []
    finally:
        purger.stop()
        purger.join(timeout=5)
    assert not purger.is_alive()


def test_the_web_command_runs_the_purge_in_every_deployment(data_dir, monkeypatch):
    """`bot web` is the web process of `run`, `cluster` and compose's widget: it purges at start."""
    import bot.web

    submit("conv-old", PINNED - dt.timedelta(days=120))
    monkeypatch.setattr("bot.clock.now", lambda: PINNED)
    seen = {}

    def serve(host, port):
        for _ in range(100):
            if not queue.list_requests():
                break
            threading.Event().wait(0.05)
        seen["requests"] = queue.list_requests()
        seen["purger"] = [t for t in threading.enumerate() if t.name == "retention-purge"]

    monkeypatch.setattr(bot.web, "serve", serve)
    assert main(["web", "--port", "8999"]) == 0
    assert seen["requests"] == [] and len(seen["purger"]) == 1
    seen["purger"][0].join(timeout=5)
    assert not seen["purger"][0].is_alive()  # stopped when the server stops


def test_declining_or_cancelling_still_answers_when_the_queue_database_fails(data_dir, tracker_factory, dispatcher):
    from actions.handoff import ActionConciergeCancel, ActionConciergeSubmit

    (data_dir / "concierge.db").write_bytes(b"this is not a database file" * 100)
    with pytest.raises(Exception):
        queue.discard_draft("conv-broken")  # the failure the actions must survive
    tracker = tracker_factory(slots={"concierge_consent": False, "handoff_reference": "H00042",
                                     "concierge_topic": "general help"}, sender_id="conv-broken")
    events = ActionConciergeSubmit().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_concierge_declined"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}.get("concierge_consent", "unset") is None
    dispatcher.messages.clear()
    ActionConciergeCancel().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_concierge_cancelled"]
