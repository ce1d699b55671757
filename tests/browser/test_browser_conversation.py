"""A founder's conversation in the widget: buttons, safe Markdown, links, announcements, handoff, persistence."""
from __future__ import annotations

import os
import re

from browser_helpers import ROOT, Widget, expect_received
from playwright.sync_api import expect

SCREENSHOT = ROOT / "docs" / "widget.png"

# Records, from before a message is sent, whether the typing indicator was shown and when it was hidden again.
WATCH_TYPING = """() => {
  const typing = document.querySelector('.sn-typing');
  window.__typing = [];
  new MutationObserver(() => {
    const replies = document.querySelectorAll('.sn-msg--bot:not(.sn-welcome)').length;
    window.__typing.push({shown: !typing.hidden, replies});
  }).observe(typing, {attributes: true, attributeFilter: ['hidden']});
}"""


def test_full_conversation_with_buttons(widget: Widget, page, stack, tmp_path):
    widget.goto("/")
    expect(widget.panel).to_be_hidden()
    widget.open()
    expect(page.locator(".sn-welcome")).to_contain_text("Ask me how to register")

    # 1. A greeting; the typing indicator shows while the reply is on its way.
    page.evaluate(WATCH_TYPING)
    replies_before = widget.bot_bubbles.count()
    widget.send("hello")
    expect(widget.user_bubbles.last).to_have_text("hello")
    sets = widget.panel.locator(".sn-replies")
    greet = sets.nth(0).get_by_role("button").first
    expect(greet).to_have_text("Show me what you can do")
    expect(greet).to_be_enabled()
    assert greet.evaluate("b => b.tagName") == "BUTTON"
    typing = page.evaluate("() => window.__typing")
    assert typing and typing[0] == {"shown": True, "replies": replies_before}, typing
    assert {"shown": False, "replies": replies_before + 1} in typing, typing
    expect(page.locator(".sn-typing")).to_be_hidden()
    expect(widget.live).to_contain_text("Supplier Navigator")

    # 2. The button asks; its set is then answered (disabled), the chosen one marked.
    greet.click()
    expect(widget.user_bubbles.last).to_have_text("Show me what you can do")
    vor = sets.nth(1).get_by_role("button").filter(has_text="Vendor of Record (VOR)")
    expect(vor).to_be_enabled()
    expect(greet).to_be_disabled()
    expect(greet).to_have_accessible_name("Show me what you can do (chosen)")
    expect(widget.live).not_to_contain_text("I'm Supplier Navigator")  # the earlier turn is not announced again

    # 3. A topic answer: bold title, a bulleted list, and a source link that opens in a new tab.
    vor.click()
    widget.wait_bot_text("What is a Vendor of Record")
    title = page.locator(".sn-bubble strong", has_text="What is a Vendor of Record (VOR) arrangement?")
    expect(title.first).to_be_visible()
    expect(page.locator(".sn-msg--bot .sn-bubble ul > li").first).to_be_visible()
    source = page.locator(".sn-msg--bot .sn-bubble a", has_text="Vendor of Record").last
    expect(source).to_be_visible()
    assert source.get_attribute("target") == "_blank"
    assert "noopener" in source.get_attribute("rel").split()
    assert source.get_attribute("href").startswith("https://")
    assert "**" not in page.locator(".sn-msg--bot").last.inner_text()
    expect(widget.live).to_contain_text("Vendor of Record")
    expect(vor).to_be_disabled()
    related_first = sets.nth(2).get_by_role("button").first
    related_title = related_first.inner_text()

    # The README's picture: the demo page with a topic answer open.
    widget.panel.locator(".sn-scroll").evaluate("box => box.scrollTop = box.scrollHeight")
    page.mouse.move(0, 0)
    shot = tmp_path / "widget.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("NAVIGATOR_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot.read_bytes())

    # 4. A new greeting adds a newer set; the older related-topics set still works because it is unanswered.
    widget.send("hello")
    expect(sets).to_have_count(4)
    newest_greet = sets.nth(3).get_by_role("button").first
    expect(newest_greet).to_have_text("Show me what you can do")
    expect(newest_greet).to_be_enabled()
    expect(related_first).to_be_enabled()
    related_first.click()
    expect(widget.user_bubbles.last).to_have_text(related_title)
    widget.wait_bot_text(re.escape(related_title.split("(")[0].strip()))
    expect(related_first).to_be_disabled()
    expect(newest_greet).to_be_enabled()  # answering one set leaves the other sets usable

    # 5. Asking for a person: the widget shows the recorded request and what happens next.
    count = sets.count()
    newest_greet.click()
    expect(sets).to_have_count(count + 1)
    sets.last.get_by_role("button", name="Talk to a person").click()
    expect(widget.notices.last).to_contain_text("Request for a person recorded")
    expect(widget.notices.last).to_contain_text(re.compile(r"Reference H\d{5}"))
    expect(widget.notices.last).to_contain_text("business days")
    expect(widget.live).to_contain_text("Request for a person recorded")

    expect_received(stack, widget.session_id(), ["/ask_capabilities", "/request_human"], tail=True)



def test_conversation_survives_reload_and_navigation(widget: Widget, page, stack):
    widget.goto("/").open()
    widget.send("hello")
    expect(widget.reply_button("Show me what you can do")).to_be_enabled()
    session = widget.session_id()
    assert session

    page.reload()
    page.wait_for_selector(".sn-root[data-ready]", state="attached")
    expect(widget.panel).to_be_visible()  # it was open: it stays open
    expect(widget.user_bubbles).to_have_text(["hello"])
    expect(widget.reply_button("Show me what you can do")).to_be_enabled()  # restored buttons still work
    expect(widget.live).to_be_empty()  # restored history is not announced again
    assert widget.session_id() == session

    page.get_by_role("navigation", name="Site").get_by_role("link", name="Supplier events").click()
    page.wait_for_url("**/events.html")
    page.wait_for_selector(".sn-root[data-ready]", state="attached")
    expect(widget.panel).to_be_visible()
    expect(widget.user_bubbles).to_have_text(["hello"])
    widget.wait_online()
    widget.reply_button("Show me what you can do").click()
    expect(widget.reply_button("Vendor of Record (VOR)")).to_be_visible()
    assert widget.session_id() == session
    expect_received(stack, session, ["hello", "/ask_capabilities"])

    # "New conversation" starts fresh: empty history, a new session on the server.
    widget.panel.get_by_role("button", name="New conversation").click()
    expect(widget.user_bubbles).to_have_count(0)
    expect(widget.bot_bubbles).to_have_count(0)
    expect(widget.input).to_be_focused()
    widget.wait_online()
    widget.send("hello")
    expect(widget.reply_button("Show me what you can do")).to_be_visible()
    fresh = widget.session_id()
    assert fresh and fresh != session
    expect_received(stack, fresh, ["hello"])
    page.reload()
    page.wait_for_selector(".sn-root[data-ready]", state="attached")
    expect(widget.user_bubbles).to_have_text(["hello"])
