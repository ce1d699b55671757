"""Nothing typed by a founder (or stored in the history) can become markup or script in the page."""
from __future__ import annotations

from browser_helpers import Widget, expect_received
from playwright.sync_api import expect

ATTACK = '<img src=x onerror="window.__xss=1;alert(1)"><b>bold?</b><script>window.__xss=2</script>'


def test_html_typed_by_a_founder_shows_as_text(widget: Widget, page, stack):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    widget.goto("/").open()
    before = widget.bot_count()
    widget.send(ATTACK)
    expect(widget.user_bubbles.last).to_have_text(ATTACK)  # shown exactly as typed
    widget.wait_for_reply(before)
    expect_received(stack, widget.session_id(), [ATTACK])

    def assert_inert():
        assert page.locator(".sn-root img, .sn-root script, .sn-root b").count() == 0
        assert page.evaluate("() => window.__xss") is None
        assert dialogs == []

    assert_inert()
    page.reload()  # the history is restored from storage: still text
    page.wait_for_selector(".sn-root[data-ready]", state="attached")
    expect(widget.user_bubbles.last).to_have_text(ATTACK)
    assert_inert()
