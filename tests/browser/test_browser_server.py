"""The web server's parts the widget relies on: the topic and flow lists, and the whitelisted npm files."""
from __future__ import annotations

import requests

from bot.web import flows


def test_topics_endpoint_lists_the_live_knowledge_store(stack):
    from bot.knowledge.store import KnowledgeStore

    expected = [{"id": i, "title": t} for i, t in KnowledgeStore(stack.data_dir / "knowledge.db").topics()]
    response = requests.get(f"{stack.web_url}/api/topics", timeout=10)
    assert response.status_code == 200
    assert response.json() == expected
    assert {"id": "vor-what-is", "title": "What is a Vendor of Record (VOR) arrangement?"} in expected


def test_flows_are_only_forms_a_link_can_start(tmp_path):
    domain = tmp_path / "domain"
    domain.mkdir()
    (domain / "core.yml").write_text("intents: [greet, {start_registration: {use_entities: []}}]\n")
    (domain / "flows.yml").write_text(
        "intents: [start_vor_readiness]\nforms:\n  vor_readiness: {required_slots: []}\n"
        "  registration: {required_slots: []}\n  bid_checklist: {required_slots: []}\n")
    assert flows([domain]) == [
        {"name": "registration", "title": "Registration", "payload": "/start_registration"},
        {"name": "vor_readiness", "title": "Vor readiness", "payload": "/start_vor_readiness"},
    ]
    single = tmp_path / "domain.yml"
    single.write_text("intents: [greet]\nforms: {}\n")
    assert flows([tmp_path / "missing", single]) == []


def test_only_whitelisted_npm_files_are_served(stack):
    script = requests.get(f"{stack.web_url}/vendor/socket.io.min.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert "Socket.IO v4.8" in script.text[:300]
    assert script.headers["Access-Control-Allow-Origin"] == "*"  # another site may embed the widget
    for path in ("/vendor/package.json", "/vendor/../node_modules/socket.io-client/package.json",
                 "/node_modules/socket.io-client/package.json", "/vendor/axe.min.js"):
        assert requests.get(f"{stack.web_url}{path}", timeout=10).status_code == 404, path
