"""Accessibility: keyboard only, visible focus, small screens and 200% zoom, reduced motion, and axe-core."""
from __future__ import annotations

import pytest
from browser_helpers import Widget, axe_violations
from playwright.sync_api import expect

ACTIVE = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return {text: (e.getAttribute('aria-label') || e.innerText || e.value || '').trim(), tag: e.tagName,
          cls: e.className, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)};
}"""


def active(page) -> dict | None:
    return page.evaluate(ACTIVE)


def press_until(page, key: str, wanted, limit: int = 60) -> dict:
    """Presses `key` until the focused element satisfies `wanted`; every stop on the way must show its focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        now = active(page)
        if now and now["cls"].startswith("sn-"):
            assert now["outline"] != "none" and now["width"] >= 2, f"no visible focus on {now}"
        if now and wanted(now):
            return now
    raise AssertionError(f"{key} never reached the wanted control (last: {active(page)})")


def test_keyboard_only(widget: Widget, page):
    widget.goto("/")
    page.locator("body").focus()
    press_until(page, "Tab", lambda e: "sn-launcher" in e["cls"])
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    widget.wait_online()

    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    greet = widget.panel.locator(".sn-replies").first.get_by_role("button").first
    expect(greet).to_be_enabled()
    press_until(page, "Shift+Tab", lambda e: e["text"] == "Show me what you can do")
    page.keyboard.press("Enter")
    expect(widget.input).to_be_focused()  # the answered button is disabled: focus goes back to the text box
    talk = widget.panel.locator(".sn-replies").last.get_by_role("button", name="Talk to a person")
    expect(talk).to_be_enabled()

    # Every control is reachable: the send button after the text box, the header's buttons before the messages.
    press_until(page, "Tab", lambda e: e["text"] == "Send", limit=1)
    press_until(page, "Shift+Tab", lambda e: e["text"] == "Talk to a person")
    press_until(page, "Shift+Tab", lambda e: e["text"] == "New conversation")
    press_until(page, "Shift+Tab", lambda e: e["text"] == "Close the chat", limit=1)
    press_until(page, "Tab", lambda e: e["text"] == "Talk to a person")
    page.keyboard.press("Space")
    expect(widget.notices.last).to_contain_text("Request for a person recorded")

    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()


@pytest.mark.parametrize("viewport, scale", [
    ({"width": 360, "height": 740}, 3),    # a small phone
    ({"width": 640, "height": 400}, 2),    # a 1280 x 800 window at 200% zoom
], ids=["phone-360px", "zoom-200"])
def test_small_screens(new_page, viewport, scale):
    page = new_page(viewport=viewport, device_scale_factor=scale, is_mobile=viewport["width"] < 400,
                    has_touch=viewport["width"] < 400)
    widget = Widget(page).goto("/")
    width = viewport["width"]
    expect(widget.launcher).to_be_in_viewport()
    widget.open()
    box = widget.panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] >= 0
    assert box["y"] + box["height"] <= viewport["height"]
    before = widget.bot_count()
    widget.send("hello")
    widget.wait_for_reply(before)
    widget.panel.locator(".sn-replies").first.get_by_role("button").first.click()
    expect(widget.panel.locator(".sn-replies")).to_have_count(2)
    for control in [widget.input, widget.send_button, widget.panel.get_by_role("button", name="Close the chat"),
                    widget.panel.get_by_role("button", name="New conversation")]:
        expect(control).to_be_in_viewport()
    for button in widget.panel.locator(".sn-replies").last.get_by_role("button").all():
        button.scroll_into_view_if_needed()
        b = button.bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5, f"{button.inner_text()} is cut off"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width  # no sideways scrolling
    assert page.evaluate("() => { const s = document.querySelector('.sn-scroll'); return s.scrollWidth <= s.clientWidth; }")
    assert page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.sn-input')).fontSize)") >= 16
    widget.panel.get_by_role("button", name="Close the chat").click()
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_in_viewport()


def test_reduced_motion_is_respected(new_page):
    animations = """() => [document.querySelector('.sn-panel'), document.querySelector('.sn-dots span')]
                      .map(e => getComputedStyle(e).animationName)"""
    moving = Widget(new_page()).goto("/")
    moving.open()
    assert moving.page.evaluate(animations) == ["sn-appear", "sn-blink"]
    still = Widget(new_page(reduced_motion="reduce")).goto("/")
    still.open()
    assert still.page.evaluate(animations) == ["none", "none"]


def test_axe_finds_no_serious_problems(widget: Widget, page, new_page, stack):
    widget.goto("/")
    assert axe_violations(page) == [], "demo page, widget closed"

    widget.goto("/?topic=vor-what-is")  # an answer with bold text, a list, links and buttons
    widget.wait_bot_text("What is a Vendor of Record")
    widget.send("hello")
    greet = widget.panel.locator(".sn-replies").nth(1).get_by_role("button").first
    expect(greet).to_have_text("Show me what you can do")
    greet.click()
    widget.panel.locator(".sn-replies").last.get_by_role("button", name="Talk to a person").click()
    expect(widget.notices.last).to_be_visible()
    assert axe_violations(page) == [], "demo page with an open conversation"

    builder = new_page()
    builder.goto("/links.html")
    builder.get_by_label("Topic or flow").select_option(label="What is a Vendor of Record (VOR) arrangement?")
    expect(builder.get_by_role("img", name="QR code for", exact=False)).to_be_visible()
    assert axe_violations(builder) == [], "link builder"
