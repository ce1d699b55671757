"""The scale-out configuration, for real: PostgreSQL + Redis + two Rasa servers + two action servers + nginx.

One cluster is started for the module (`bot.cluster.Cluster`, what `make cluster` runs), on free loopback
ports with a temporary data directory; PostgreSQL, Redis and nginx are installed by scripts/cluster-deps.sh
when missing. The tests run in file order: the last one kills a Rasa server and restarts everything.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bot import settings
from bot.knowledge.training import intent_for

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CONVERSATIONS = 20
# Topics each conversation reads (by button payload, so the test is about state, not about NLU).
TOPICS = ["vor-what-is", "invoicing", "business-number", "debriefing", "payment-terms"]


def send(base_url: str, sender: str, text: str, headers: dict | None = None) -> list[dict]:
    response = requests.post(f"{base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             headers=headers or {}, timeout=60)
    response.raise_for_status()
    return response.json()


def tracker(base_url: str, token: str, sender: str) -> dict:
    response = requests.get(f"{base_url}/conversations/{sender}/tracker", params={"token": token}, timeout=30)
    response.raise_for_status()
    return response.json()


def user_texts(state: dict) -> list[str]:
    return [event.get("text") for event in state["events"] if event["event"] == "user"]


def topic_title(topic_id: str) -> str:
    import yaml

    text = (settings.path("KNOWLEDGE_DIR") / "topics" / f"{topic_id}.md").read_text()
    return yaml.safe_load(text.split("---", 2)[1])["title"]


def handoff_topic(replies: list[dict]) -> str:
    """The topic named in the 'I've recorded that you'd like to talk to a person about **…**' reply."""
    text = replies[0]["text"]
    assert "request H" in text, text
    return text.split("**", 2)[1]


def run_all(function, items, workers: int = 4) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, items))


@pytest.fixture(scope="module")
def cluster(trained_model):
    from bot.cluster import Cluster, free_ports
    from bot.knowledge.build import build

    # PostgreSQL runs as the postgres user: its data directory's parents must be enterable by others.
    data_dir = Path(tempfile.mkdtemp(prefix="navigator-cluster-"))
    data_dir.chmod(0o755)
    build(settings.path("KNOWLEDGE_DIR"), data_dir / "knowledge.db")
    rasa_port, actions_port, web_port = free_ports(3)
    saved = {name: os.environ.get(name) for name in ("DATA_DIR", "TRACKER_STORE_URL", "REDIS_URL")}
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.pop("TRACKER_STORE_URL", None)  # the cluster starts its own PostgreSQL and Redis
    os.environ.pop("REDIS_URL", None)
    running = Cluster(data_dir, trained_model, "127.0.0.1", rasa_port, actions_port, web_port, servers=2)
    try:
        try:
            running.start()
        except Exception:
            for log in sorted((data_dir / "logs").glob("*.log")):  # the data directory goes: show why first
                print(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
            raise
        yield running
    finally:
        running.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(data_dir, ignore_errors=True)


def test_nginx_keeps_each_conversation_on_one_server_and_spreads_conversations(cluster):
    seen: dict[str, set[str]] = {}
    for i in range(16):
        sender = f"front-{i}"
        for text in ("hi", f"/{intent_for('invoicing')}"):
            response = requests.post(f"{cluster.rasa_url}/webhooks/rest/webhook", json={"sender": sender,
                                     "message": text}, headers={"X-Sender": sender}, timeout=60)
            assert response.status_code == 200 and response.json()
            seen.setdefault(sender, set()).add(response.headers["X-Navigator-Upstream"])
    assert all(len(upstreams) == 1 for upstreams in seen.values()), seen
    assert len(set().union(*seen.values())) == 2, "sixteen conversations should use both Rasa servers"


def test_the_widget_page_talks_to_the_load_balancer(cluster):
    assert requests.get(f"{cluster.web_url}/", timeout=10).status_code == 200
    config = requests.get(f"{cluster.web_url}/config.js", timeout=10).text
    assert cluster.rasa_url in config


def answer_from_action_server(actions_url: str, intent: str, domain: dict) -> str:
    """Calls action_answer_topic on one action server directly, as a Rasa server would."""
    state = json.loads((settings.PROJECT_ROOT / "tests" / "data" / "initial_tracker.json").read_text())
    state["sender_id"] = "refresh-check"
    state["latest_message"]["intent"] = {"name": intent, "confidence": 1.0}
    response = requests.post(f"{actions_url}/webhook", json={
        "next_action": "action_answer_topic", "sender_id": "refresh-check", "tracker": state, "domain": domain,
        "version": "3.6.2"}, timeout=30)
    response.raise_for_status()
    return response.text


def test_a_knowledge_refresh_reaches_every_action_server(cluster, tmp_path, domain):
    from bot.knowledge.build import build

    copy = tmp_path / "knowledge"
    shutil.copytree(settings.path("KNOWLEDGE_DIR"), copy)
    path = copy / "topics" / "invoicing.md"
    front, body = path.read_text().split("\n---\n", 1)
    path.write_text(front + "\n---\nREFRESHED-IN-CLUSTER.\n\n" + body.lstrip())
    intent = intent_for("invoicing")
    for node in cluster.nodes:
        assert "REFRESHED-IN-CLUSTER" not in answer_from_action_server(node.actions_url, intent, domain)
    try:
        build(copy, cluster.data_dir / "knowledge.db")  # a new file, swapped in atomically
        for node in cluster.nodes:
            assert "REFRESHED-IN-CLUSTER" in answer_from_action_server(node.actions_url, intent, domain)
        replies = send(cluster.rasa_url, "refresh-e2e", f"/{intent}", headers={"X-Sender": "refresh-e2e"})
        assert any("REFRESHED-IN-CLUSTER" in reply.get("text", "") for reply in replies), replies
    finally:
        build(settings.path("KNOWLEDGE_DIR"), cluster.data_dir / "knowledge.db")


def test_conversations_survive_alternating_servers_a_crash_and_a_full_restart(cluster, monkeypatch):
    from bot.handoff import list_handoffs

    first, second = cluster.nodes
    senders = [f"founder-{i:02d}" for i in range(CONVERSATIONS)]
    topic_of = {s: TOPICS[i % len(TOPICS)] for i, s in enumerate(senders)}
    later_topic_of = {s: TOPICS[(i + 2) % len(TOPICS)] for i, s in enumerate(senders)}
    # Asking for a person opens the concierge consent question; these founders decline ("/flow_no").
    script = {s: ["hi", f"/{intent_for(topic_of[s])}", "/request_human", "/flow_no"] for s in senders}

    # 1. Each conversation's messages alternate between the two Rasa servers (half start on each).
    def converse(sender: str) -> str:
        offset = senders.index(sender) % 2
        recorded = ""
        for k, text in enumerate(script[sender]):
            node = cluster.nodes[(k + offset) % 2]
            replies = send(node.rasa_url, sender, text)
            assert replies, f"{sender}: no reply to {text!r} from {node.rasa_url}"
            if text == "/request_human":
                recorded = handoff_topic(replies)  # uses the slot set by the other server
        return recorded

    recorded_topics = run_all(converse, senders)
    for sender, recorded in zip(senders, recorded_topics):
        assert recorded == topic_title(topic_of[sender]), sender
        for node in cluster.nodes:  # both servers see the same slots and history
            state = tracker(node.rasa_url, cluster.token, sender)
            assert user_texts(state) == script[sender]
            assert state["slots"]["last_topic"] == topic_title(topic_of[sender])

    # 2. Mid-run, the first server dies; the conversations go on through nginx and directly on the second.
    def next_topic(sender: str) -> None:
        replies = send(cluster.rasa_url, sender, f"/{intent_for(later_topic_of[sender])}",
                       headers={"X-Sender": sender})
        assert any(topic_title(later_topic_of[sender]) in reply.get("text", "") for reply in replies), replies

    half = CONVERSATIONS // 2
    run_all(next_topic, senders[:half])
    cluster.kill_rasa(0)
    run_all(next_topic, senders[half:])  # through nginx: the dead server's share moves to the live one

    def ask_for_person(sender: str) -> str:
        topic = handoff_topic(send(second.rasa_url, sender, "/request_human"))
        assert send(second.rasa_url, sender, "/flow_no")  # declines to leave details again
        return topic

    for sender, recorded in zip(senders, run_all(ask_for_person, senders)):
        assert recorded == topic_title(later_topic_of[sender]), sender
    expected_texts = {s: script[s] + [f"/{intent_for(later_topic_of[s])}", "/request_human", "/flow_no"]
                      for s in senders}
    before_restart = {}
    for sender in senders:
        state = tracker(second.rasa_url, cluster.token, sender)
        assert user_texts(state) == expected_texts[sender]
        assert state["slots"]["last_topic"] == topic_title(later_topic_of[sender])
        before_restart[sender] = state["events"]

    # Shared writes: every handoff, whichever node took it, is in the one PostgreSQL database.
    monkeypatch.setenv("TRACKER_STORE_URL", cluster.tracker_store_url)
    handoffs = list_handoffs()
    assert len(handoffs) == 2 * CONVERSATIONS
    assert all(row["status"] == "new" for row in handoffs)

    # 3. Everything stops (servers, nginx, Redis, PostgreSQL) and starts again: nothing is lost.
    cluster.stop()
    cluster.start()
    for sender in senders:
        for node in cluster.nodes:
            assert tracker(node.rasa_url, cluster.token, sender)["events"] == before_restart[sender], sender
    assert list_handoffs() == handoffs

    # ... and every conversation carries on, alternating servers again.
    def carry_on(sender: str) -> None:
        offset = senders.index(sender) % 2
        assert handoff_topic(send(cluster.nodes[offset].rasa_url, sender, "/request_human")) == \
            topic_title(later_topic_of[sender])
        assert send(cluster.nodes[1 - offset].rasa_url, sender, "bye")

    run_all(carry_on, senders)
    for sender in senders:
        assert user_texts(tracker(first.rasa_url, cluster.token, sender)) == \
            expected_texts[sender] + ["/request_human", "bye"]
