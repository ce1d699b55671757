"""Helpers for the browser tests: where things are, the widget as a founder sees it, and checks."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
NODE_MODULES = ROOT / "node_modules"
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SOCKET_IO = NODE_MODULES / "socket.io-client" / "dist" / "socket.io.min.js"
SETUP_HINT = "run scripts/setup-browser.sh (it installs Debian's chromium and the npm packages)"
REPLY_TIMEOUT_MS = 45_000  # a reply on a busy 2-core machine: normally well under a second


class Widget:
    """What a founder sees of the widget on one page, with the waits a test needs."""

    def __init__(self, page):
        self.page = page
        self.root = page.locator(".sn-root")
        self.launcher = page.locator(".sn-launcher")
        self.panel = page.locator(".sn-panel")
        self.input = page.get_by_label("Type your question")
        self.send_button = self.panel.get_by_role("button", name="Send", exact=True)
        self.status = self.panel.locator(".sn-status")  # role=status; hidden while it has nothing to say
        self.live = page.locator(".sn-live")
        self.bot_bubbles = page.locator(".sn-msg--bot:not(.sn-welcome) .sn-bubble")
        self.user_bubbles = page.locator(".sn-msg--user .sn-bubble")
        self.notices = page.locator(".sn-notice")

    def goto(self, path: str = "/") -> "Widget":
        self.page.goto(path)
        self.page.wait_for_selector(".sn-root[data-ready]", state="attached")
        return self

    def open(self) -> "Widget":
        from playwright.sync_api import expect

        self.launcher.click()
        expect(self.panel).to_be_visible()
        self.wait_online()
        self.wait_still()
        return self

    def wait_still(self) -> None:
        """Waits until the panel's opening animation (if any) has finished, so boxes can be measured."""
        self.page.wait_for_function("""() => document.getAnimations()
            .filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)
            .every(a => a.playState !== 'running')""")

    def wait_online(self) -> None:
        self.page.wait_for_selector(".sn-root[data-connection=online]", state="attached")

    def send(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def reply_button(self, name: str, nth: int = -1):
        buttons = self.panel.locator(".sn-replies").get_by_role("button", name=name, exact=True)
        return buttons.last if nth == -1 else buttons.nth(nth)

    def wait_bot_text(self, pattern: str | re.Pattern) -> None:
        """Waits until a bot message matching `pattern` (a regex) has appeared."""
        from playwright.sync_api import expect

        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        expect(self.bot_bubbles.filter(has_text=regex).first).to_be_visible()

    def bot_count(self) -> int:
        return self.bot_bubbles.count()

    def wait_for_reply(self, before: int) -> None:
        """Waits until there are more bot messages than `before`."""
        self.page.wait_for_function(
            "n => document.querySelectorAll('.sn-msg--bot:not(.sn-welcome)').length > n", arg=before)

    def session_id(self) -> str | None:
        saved = self.page.evaluate("() => localStorage.getItem('supplierNavigator.v1')")
        return json.loads(saved)["sessionId"] if saved else None


def tracker_user_texts(stack, sender: str, expected: list[str] | None = None, timeout: float = 20,
                       tail: bool = False) -> list[str]:
    """What the Rasa server received from a conversation, in order (read through its HTTP API).

    With `expected`, polls until the tracker shows exactly that (Rasa stores the tracker after it has sent the
    replies, so the browser can see a reply a moment before the tracker has it).
    """
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                                params={"token": stack.token}, timeout=10)
        response.raise_for_status()
        texts = [event.get("text") for event in response.json()["events"] if event.get("event") == "user"]
        seen = texts[-len(expected):] if expected and tail else texts
        if expected is None or seen == expected or time.monotonic() > deadline:
            return texts
        time.sleep(0.2)


def expect_received(stack, sender: str, expected: list[str], tail: bool = False) -> None:
    """Asserts that the Rasa server got exactly these user messages in this conversation (waiting for it).

    With `tail`, only the last messages are compared."""
    texts = tracker_user_texts(stack, sender, expected, tail=tail)
    assert (texts[-len(expected):] if tail else texts) == expected, f"the server received {texts}, expected {expected}"


def axe_violations(page, serious_only: bool = True) -> list[dict]:
    """axe-core's violations on the page as it is now (serious and critical only by default)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = result["violations"]
    if serious_only:
        found = [v for v in found if v.get("impact") in ("serious", "critical")]
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n.get("target") for n in v["nodes"]][:5]} for v in found]
