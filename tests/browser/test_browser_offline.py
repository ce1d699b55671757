"""Server down: a visible, polite status, automatic reconnect, and no message typed meanwhile is lost."""
from __future__ import annotations

from browser_helpers import Widget, expect_received
from playwright.sync_api import expect


def test_server_down_then_back(widget: Widget, page, stack, trained_model):
    widget.goto("/").open()
    widget.send("hello")
    expect(widget.panel.locator(".sn-replies").first).to_be_visible()
    session = widget.session_id()
    before = widget.bot_count()
    expect(widget.status).to_be_empty()
    expect(widget.status).to_have_attribute("role", "status")  # polite: read out without moving focus
    try:
        stack.stop("rasa")
        expect(widget.status).to_contain_text("can't be reached right now")
        expect(widget.status).to_contain_text("anything you type will be sent when it is back")

        widget.send("thank you")
        pending = widget.panel.locator(".sn-msg--user").last
        expect(pending).to_contain_text("thank you")
        expect(pending).to_contain_text("Not sent yet")
        page.reload()  # still offline: the unsent message is kept, not silently dropped
        page.wait_for_selector(".sn-root[data-ready]", state="attached")
        expect(pending).to_contain_text("Not sent yet")
        expect(widget.status).to_contain_text("can't be reached right now")
    finally:
        if "rasa" not in stack.processes:
            stack.start_rasa(trained_model)

    expect(widget.status).to_have_text("Connected again.")
    widget.wait_for_reply(before)
    expect(pending).not_to_contain_text("Not sent yet")
    expect(widget.status).to_be_empty()  # the "connected again" note goes away by itself
    expect_received(stack, session, ["hello", "thank you"])
