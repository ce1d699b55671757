"""Deep links: ?topic=, ?flow=, data-start-topic on a page of another site, and the officers' link builder."""
from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from browser_helpers import Widget, expect_received
from playwright.sync_api import expect

VOR_TITLE = "What is a Vendor of Record (VOR) arrangement?"


def test_topic_link_opens_the_widget_with_the_answer(widget: Widget, page, stack):
    widget.goto("/?topic=vor-what-is")
    expect(widget.panel).to_be_visible()
    widget.wait_bot_text("What is a Vendor of Record")
    expect(widget.user_bubbles).to_have_count(0)  # the link's payload is not shown as if the founder typed it
    expect(widget.input).to_be_focused()
    assert "topic=" not in page.url  # consumed: a reload must not ask again
    session = widget.session_id()
    expect_received(stack, session, ["/topic_vor_what_is"])

    page.reload()
    page.wait_for_selector(".sn-root[data-ready]", state="attached")
    widget.wait_online()
    before = widget.bot_count()
    widget.send("thank you")
    expect(widget.user_bubbles).to_have_text(["thank you"])
    widget.wait_for_reply(before)
    expect_received(stack, session, ["/topic_vor_what_is", "thank you"])
    expect(page.locator(".sn-bubble strong", has_text=VOR_TITLE)).to_have_count(1)


def test_flow_link_starts_the_flow(widget: Widget, page, stack):
    flows = requests.get(f"{stack.web_url}/api/flows", timeout=10).json()
    # With no flow (Rasa form) in the domain the link format is still checked, with a made-up name: the widget
    # must send /start_<name> to the server, unseen by the founder.
    name = flows[0]["name"] if flows else "example_flow"
    widget.goto(f"/?flow={name}")
    expect(widget.panel).to_be_visible()
    expect(widget.bot_bubbles.first).to_be_visible()  # the server's reply (its first prompt, or an apology)
    expect(widget.user_bubbles).to_have_count(0)
    assert "flow=" not in page.url
    expect_received(stack, widget.session_id(), [f"/start_{name}"])


def test_bad_deep_link_values_are_ignored(widget: Widget, page, stack):
    widget.goto("/?topic=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    expect(widget.panel).to_be_hidden()
    assert "topic=" not in page.url
    widget.open()
    expect(widget.user_bubbles).to_have_count(0)
    expect(widget.bot_bubbles).to_have_count(0)


@pytest.fixture
def partner_site(stack, tmp_path):
    """Another site (another origin, on this machine) whose page embeds the widget with one <script> tag."""
    (tmp_path / "buying.html").write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>City of Example: selling to the city</title></head>
<body><main><h1>Selling to the City of Example</h1><p>Our thresholds and rules.</p></main>
<script src="{stack.web_url}/widget/navigator.js" data-title="Ask about city purchasing" data-lang="en"
        data-start-topic="ontario-thresholds" data-server-url="{stack.rasa_url}"></script>
</body></html>""")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_script_tag_embeds_the_widget_in_another_site(widget: Widget, page, stack, partner_site):
    """A partner site adds one <script> tag with data- attributes; nothing else."""
    widget.goto(f"{partner_site}/buying.html")
    expect(widget.panel).to_be_visible()
    expect(widget.panel.get_by_role("heading", name="Ask about city purchasing")).to_be_visible()
    expect(widget.bot_bubbles.first).to_be_visible()
    expect_received(stack, widget.session_id(), ["/topic_ontario_thresholds"])
    expect(widget.launcher).to_have_accessible_name("Ask Supplier Navigator")  # strings came from the translations file

    # data-start-topic only begins a new conversation: a later page view does not ask again.
    page.reload()
    page.wait_for_selector(".sn-root[data-ready]", state="attached")
    widget.wait_online()
    before = widget.bot_count()
    widget.send("thank you")
    expect(widget.user_bubbles).to_have_text(["thank you"])
    widget.wait_for_reply(before)
    expect_received(stack, widget.session_id(), ["/topic_ontario_thresholds", "thank you"])


def test_link_builder_lists_live_topics_and_builds_a_working_link(new_page, stack):
    from bot.knowledge.store import KnowledgeStore

    topics = KnowledgeStore(stack.data_dir / "knowledge.db").topics()
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.web_url)
    page.goto("/links.html")
    picker = page.get_by_label("Topic or flow")
    expect(picker).to_be_enabled()
    expect(picker.locator("optgroup[label=Topics] option")).to_have_count(len(topics))
    flows = requests.get(f"{stack.web_url}/api/flows", timeout=10).json()
    expect(picker.locator("optgroup[label=Flows] option")).to_have_count(len(flows))
    expect(page.get_by_text(f"{len(topics)} topics and {len(flows)} flows available.")).to_be_visible()

    picker.select_option(label=VOR_TITLE)
    link = page.get_by_label("Link", exact=True)
    expect(link).to_have_value(f"{stack.web_url}/?topic=vor-what-is")
    qr = page.get_by_role("img", name=f"QR code for {stack.web_url}/?topic=vor-what-is")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth") >= 100
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status")).to_have_text("Link copied to the clipboard.")
    assert page.evaluate("() => navigator.clipboard.readText()") == f"{stack.web_url}/?topic=vor-what-is"

    page.goto(link.input_value())
    widget = Widget(page)
    expect(widget.panel).to_be_visible()
    widget.wait_bot_text("What is a Vendor of Record")
