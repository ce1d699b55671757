"""Faults while founders are talking: each gives a clear message, loses no conversation state, and recovers.

Covered here, over REST against the real servers:
- the action server killed (SIGKILL) in the middle of a form, then restarted;
- the knowledge store rebuilt and swapped, again and again, while conversations run;
- a feed source down (500s, then nothing listening) while the assistant runs;
- the tracker store locked by another process (BEGIN EXCLUSIVE) or made read-only;
- the whole run command (`python -m bot run`) stopped and started again.
Covered elsewhere: the action server stopped between messages (tests/foundation/test_foundation_e2e.py), one
knowledge edit served without a retrain and a broken edit keeping the last good store (tests/e2e/
test_e2e_knowledge.py), every kind of bad download keeping the last good listings (tests/opportunities/
test_opportunities_fetch.py), the Rasa server alone restarted (test_robustness_rest.py), and a cluster node
crashing (tests/cluster/test_cluster_scaleout.py).
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import requests
from async_helpers import run as run_async

from bot import settings
from bot.knowledge.build import build
from chat_client import Chat, fetch_tracker
from bot.cluster import free_ports


def free_port() -> int:
    return free_ports(1)[0]

pytestmark = pytest.mark.e2e

ROOT = settings.PROJECT_ROOT
QUESTION = "what is a vendor of record arrangement"


def _text(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def _line(domain: dict, response: str) -> str:
    return domain["responses"][response][0]["text"]


def _user_texts(tracker: dict) -> list[str]:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def _start_rules_check(chat: Chat) -> None:
    """A founder halfway through the rules check: the buyer is given, the form asks what is being sold."""
    assert "Who is the buyer?" in _text(chat.send("which rules apply to me"))
    assert "What are you selling?" in _text(chat.send('/flow_inform{"buyer_type": "ontario_ministry"}'))


def _form_state(tracker: dict) -> tuple:
    slots = tracker["slots"]
    return (tracker["active_loop"].get("name"), slots.get("requested_slot"), slots.get("deal_buyer"))


def _finish_rules_check(chat: Chat) -> str:
    assert "how much is the contract worth" in _text(chat.send("consulting services"))
    return _text(chat.send("about 60k"))


def _assert_verdict_for_an_ontario_ministry(text: str) -> None:
    from bot.knowledge.loader import load_knowledge
    from bot.procurement import rules

    tables = load_knowledge(settings.path("KNOWLEDGE_DIR"))[0].tables
    assert "**Procurement method:**" in text and "$60,000" in text
    assert rules.name_of(tables["buyer_types"], "ontario_ministry") in text  # the buyer given before the fault


# ---------------------------------------------------------------- action server killed mid-form


def _kill(stack, name: str) -> None:
    process = stack.processes.pop(name)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_action_server_killed_mid_form_then_restarted_continues_the_form(stack, new_chat, domain):
    chat = new_chat()
    _start_rules_check(chat)
    before = fetch_tracker(stack, chat.sender)
    assert _form_state(before) == ("rules_check", "deal_category", "ontario_ministry")

    _kill(stack, "actions")
    try:
        replies = chat.send("consulting services")
        assert [r["text"] for r in replies] == [_line(domain, "utter_service_unavailable")]
        during = fetch_tracker(stack, chat.sender)
        assert _form_state(during) == _form_state(before)  # the filled slot and the active form are kept
    finally:
        stack.start_actions()

    _assert_verdict_for_an_ontario_ministry(_finish_rules_check(chat))


# ---------------------------------------------------------------- knowledge store swapped while serving


def test_knowledge_store_rebuilt_while_conversations_run_serves_whole_answers(stack, tmp_path, domain):
    """Rebuilds swap knowledge.db atomically under live traffic: every reply is a whole answer, old or new."""
    import shutil

    copy = tmp_path / "knowledge"
    shutil.copytree(settings.path("KNOWLEDGE_DIR"), copy)
    topic = copy / "topics" / "vor-what-is.md"
    original = topic.read_text()
    front, body = original.split("\n---\n", 1)
    markers = [f"SWAP-MARKER-{n}: staff changed this answer." for n in range(4)]
    db = stack.data_dir / "knowledge.db"
    failures: list[str] = []
    answers: list[str] = []
    stop = threading.Event()

    def converse() -> None:
        chat = Chat(stack.rasa_url)
        while not stop.is_set():
            try:
                answer = chat.send(QUESTION, timeout=60)[-1]["text"]
            except Exception as error:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(repr(error))
                return
            answers.append(answer)
            if "Source: [" not in answer or "last reviewed 20" not in answer:
                failures.append(answer)

    threads = [threading.Thread(target=converse) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for marker in markers:
            topic.write_text(front + "\n---\n" + marker + "\n\n" + body.lstrip())
            build(copy, db)
            time.sleep(1.5)
        last = _answer_with_retry(Chat(stack.rasa_url), markers[-1])
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        build(settings.path("KNOWLEDGE_DIR"), db)  # leave the real content serving
    assert not failures, failures[:3]
    assert markers[-1] in last  # the last rebuild is what is served, without a restart
    assert len({m for m in markers if any(m in a for a in answers)}) >= 2, "the swaps happened under traffic"
    assert not any(_line(domain, "utter_service_unavailable") in a for a in answers)
    assert "SWAP-MARKER" not in _answer_with_retry(Chat(stack.rasa_url), "", absent="SWAP-MARKER")


def _answer_with_retry(chat: Chat, expected: str, seconds: float = 10, absent: str = "") -> str:
    """The answer to QUESTION once it contains `expected` (and not `absent`), or the last one after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        answer = chat.send(QUESTION)[-1]["text"]
        if (expected in answer and not (absent and absent in answer)) or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


# ---------------------------------------------------------------- feed source down


class _FailingFeed:
    """A feed URL on 127.0.0.1 that answers 500 to everything."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server naming
                self.send_error(500, "feed is down")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/open-tenders.csv"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_feed_source_down_while_running_search_answers_from_the_last_good_listings(stack, new_chat):
    from bot.opportunities import store
    from bot.opportunities.fetch import FetchPolicy
    from bot.opportunities.refresh import SourceConfig, refresh_source

    db = stack.data_dir / "opportunities.db"
    search = "any cybersecurity contracts in the ncr"
    before = _text(new_chat().send(search))
    assert "Cybersecurity assessment services" in before
    saved_status = _status_row(db)
    now = dt.datetime.now(dt.timezone.utc)
    if not store.source_has_data(db, "canadabuys"):  # the session's listings were written by a test helper
        with store.open_writer(db) as writer:
            store.record_status(writer, "canadabuys", last_attempt=now.isoformat(), last_success=now.isoformat())

    policy = FetchPolicy(connect_timeout=1.0, read_timeout=1.0, total_timeout=5.0, retries=1, backoff=0.01)
    feed = _FailingFeed()
    down = f"http://127.0.0.1:{free_port()}/open-tenders.csv"  # nothing listens there
    try:
        for url in (feed.url, down):
            outcome = refresh_source(SourceConfig(name="canadabuys", format="canadabuys", url=url),
                                     now=now, offline=False, db_path=db, policy=policy, sleep=lambda seconds: None)
            assert not outcome.ok and outcome.origin == "kept", outcome
            status = next(row for row in store.read_status(db) if row["source"] == "canadabuys")
            assert status["last_error"] and status["listings"] > 0  # `python -m bot opportunities status`
            assert _text(new_chat().send(search)) == before  # same listings, same answer
    finally:
        feed.close()
        _restore_status_row(db, saved_status)


def _status_row(db: Path) -> dict | None:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM source_status WHERE source = 'canadabuys'").fetchone()
        except sqlite3.OperationalError:  # no status table yet
            return None
    return dict(row) if row else None


def _restore_status_row(db: Path, row: dict | None) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM source_status WHERE source = 'canadabuys'")
        if row:
            conn.execute(f"INSERT INTO source_status ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))


# ---------------------------------------------------------------- tracker store locked or read-only

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextmanager
def _exclusive_lock(db: Path) -> Iterator[None]:
    """Another process holds an exclusive SQLite lock on `db` until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        if holder.poll() is None:
            holder.stdin.write("\n")
            holder.stdin.flush()
        holder.wait(10)


def _writable(db: Path) -> bool:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS write_probe (x)")
            conn.execute("DROP TABLE write_probe")
        return True
    except sqlite3.Error:
        return False


@contextmanager
def _read_only(db: Path) -> Iterator[str]:
    """`db` and its directory made read-only until the block ends; yields how.

    Permissions do not bind root, so as root the file is also made immutable (chattr +i, which needs
    CAP_LINUX_IMMUTABLE); failing that, a directory where SQLite must create its journal stops every write.
    """
    directory = db.parent
    modes = {db: stat.S_IMODE(db.stat().st_mode), directory: stat.S_IMODE(directory.stat().st_mode)}
    journal_block = db.with_name(db.name + "-journal")
    immutable = False
    how = "chmod"
    db.chmod(0o444)
    directory.chmod(0o555)
    try:
        if _writable(db):
            immutable = subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode == 0
            how = "chattr +i"
        if _writable(db):
            directory.chmod(modes[directory])
            journal_block.mkdir()
            how = "journal blocked"
        assert not _writable(db), "could not make the tracker store read-only"
        yield how
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(db)], check=True)
        if journal_block.is_dir():
            journal_block.rmdir()
        for path, mode in modes.items():
            path.chmod(mode)


def test_tracker_store_locked_gives_a_clear_message_keeps_state_and_recovers(stack, new_chat, domain):
    chat = new_chat()
    _start_rules_check(chat)
    before = fetch_tracker(stack, chat.sender)
    with _exclusive_lock(stack.data_dir / "tracker.db"):
        response = requests.post(chat.url, json={"sender": chat.sender, "message": "consulting services"},
                                 timeout=60)
        assert response.status_code == 200
        assert [r["text"] for r in response.json()] == [_line(domain, "utter_conversation_not_saved")]
        assert new_chat().texts("hi") == [_line(domain, "utter_conversation_not_saved")]  # every chat is told
    after = fetch_tracker(stack, chat.sender)
    assert _form_state(after) == _form_state(before)
    assert after["events"] == before["events"]  # nothing lost, and no half-saved turn
    _assert_verdict_for_an_ontario_ministry(_finish_rules_check(chat))  # no restart needed


def test_tracker_store_read_only_gives_a_clear_message_keeps_state_and_recovers(stack, new_chat, domain):
    chat = new_chat()
    _start_rules_check(chat)
    before = fetch_tracker(stack, chat.sender)
    with _read_only(stack.data_dir / "tracker.db"):
        response = requests.post(chat.url, json={"sender": chat.sender, "message": "consulting services"},
                                 timeout=60)
        assert response.status_code == 200
        # Not the form's next question: that answer could not be saved and would be forgotten.
        assert [r["text"] for r in response.json()] == [_line(domain, "utter_conversation_not_saved")]
        assert _form_state(fetch_tracker(stack, chat.sender)) == _form_state(before)  # reading still works
    after = fetch_tracker(stack, chat.sender)
    assert after["events"] == before["events"]
    _assert_verdict_for_an_ontario_ministry(_finish_rules_check(chat))


def test_outside_a_turn_the_store_fails_as_rasas_does(tmp_path):
    """Rasa's HTTP API and start-up keep Rasa's behaviour; only a founder's turn gets the new error."""
    from rasa.core.tracker_store import FailSafeTrackerStore
    from rasa.shared.core.domain import Domain

    from bot.tracker_store import ConversationStoreUnavailable, GuardedSQLTrackerStore, guarded_turn

    db = tmp_path / "tracker.db"
    store = GuardedSQLTrackerStore(domain=Domain.empty(), host=f"sqlite:///{db}?timeout=0.2")
    fail_safe = FailSafeTrackerStore(store)
    with _exclusive_lock(db):
        assert run_async(fail_safe.retrieve("someone")) is None  # Rasa's fail-safe: no tracker

        async def in_a_turn():
            with guarded_turn():
                return await fail_safe.retrieve("someone")

        with pytest.raises(ConversationStoreUnavailable) as raised:
            run_async(in_a_turn())
    assert str(raised.value) == "could not read the conversation (OperationalError: database is locked)"


# ---------------------------------------------------------------- the whole run command restarted


class _RunCommand:
    """`python -m bot run` on free loopback ports, a temporary DATA_DIR and OFFLINE=1."""

    def __init__(self, data_dir: Path, model: Path) -> None:
        from bot.services import models_dir, training_fingerprint

        fingerprint, _ = training_fingerprint()
        link = models_dir(data_dir) / f"navigator-{fingerprint}.tar.gz"
        assert link.name == model.name, "the session's model is not the current training data's"
        link.symlink_to(model)  # "Model is up to date": the run command must not train again
        self.data_dir = data_dir
        self.token = "restart-test-token"
        self.rasa_url = f"http://127.0.0.1:{free_port()}"
        self.env = {**os.environ, "DATA_DIR": str(data_dir), "OFFLINE": "1", "HOST": "127.0.0.1",
                    "RASA_PORT": self.rasa_url.rsplit(":", 1)[1], "ACTIONS_PORT": str(free_port()),
                    "WEB_PORT": str(free_port()), "RASA_API_TOKEN": self.token,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.process: subprocess.Popen | None = None
        self.log = data_dir / "run-command.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            if "Supplier Navigator is running" in self.log.read_text(errors="replace").split("Stopped.")[-1]:
                return
            time.sleep(1)
        raise AssertionError("the run command did not become ready:\n" + self.log.read_text()[-2000:])

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def tracker(self, sender: str) -> dict:
        response = requests.get(f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.token},
                                timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.mark.slow
def test_stopping_and_starting_the_run_command_continues_every_conversation(trained_model, tmp_path, domain):
    run = _RunCommand(tmp_path / "data", trained_model)
    try:
        run.start()
        in_rules = Chat(run.rasa_url)
        _start_rules_check(in_rules)
        in_profile = Chat(run.rasa_url)
        assert "How many paid employees" in _text(in_profile.send("am i a small business"))
        assert "annual revenue" in _text(in_profile.send("12"))
        on_topic = Chat(run.rasa_url)
        on_topic.send("/topic_invoicing")
        chats = (in_rules, in_profile, on_topic)
        before = {c.sender: run.tracker(c.sender) for c in chats}

        assert run.stop() == 0
        assert "Stopped." in run.log.read_text()
        run.start()

        for chat in chats:
            after = run.tracker(chat.sender)
            assert after["slots"] == before[chat.sender]["slots"]
            assert after["active_loop"] == before[chat.sender]["active_loop"]
            assert _user_texts(after) == _user_texts(before[chat.sender])
        _assert_verdict_for_an_ontario_ministry(_finish_rules_check(in_rules))
        assert "/flow_yes" in [b["payload"] for r in in_profile.send("/flow_skip") for b in r.get("buttons", [])]
        topic = before[on_topic.sender]["slots"]["last_topic"]
        assert topic and topic in _text(on_topic.send("can i talk to a person"))
    finally:
        if run.process is not None and run.process.poll() is None:
            run.stop()
