"""Browser tests: Debian's Chromium driven by Playwright against the real web, Rasa and action servers.

The browser is /usr/bin/chromium, installed by scripts/setup-browser.sh (apt); Playwright never downloads one.
A missing browser or missing npm packages make the tests FAIL with what to run, never skip: CI must not go
green without having looked at the widget.
"""
from __future__ import annotations

import pytest

from browser_helpers import AXE, CHROMIUM, LAUNCH_ARGS, NODE_MODULES, REPLY_TIMEOUT_MS, SETUP_HINT, SOCKET_IO, Widget


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing, so the widget cannot be tested: {SETUP_HINT}.", pytrace=False)
    if not SOCKET_IO.exists() or not AXE.exists():
        pytest.fail(f"npm packages are missing under {NODE_MODULES}: {SETUP_HINT}.", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=REPLY_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, stack):
    """Makes pages in fresh browser contexts (empty storage) on the stack's web server; fails on page errors."""
    contexts = []
    errors: list[str] = []

    def make(viewport: dict | None = None, **options):
        context = browser.new_context(base_url=stack.web_url, viewport=viewport or {"width": 1280, "height": 800},
                                      **options)
        context.set_default_timeout(REPLY_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(new_page):
    return new_page()

@pytest.fixture
def widget(page) -> Widget:
    return Widget(page)
