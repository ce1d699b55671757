"""The staff pages in Chromium against the real stack: log in, read the report's charts, open a knowledge gap
group, and mark a concierge request contacted. The data comes from real conversations over Rasa's REST channel."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest
from browser_helpers import axe_violations
from chat_client import Chat
from playwright.sync_api import expect

from bot import settings

GAP_WORD = f"qzvx{uuid.uuid4().hex[:6]}"  # a word no topic knows, unique to this run


def reset_password(stack) -> str:
    """A new staff password for the stack's data directory, through the real command (as staff would)."""
    env = {**os.environ, "DATA_DIR": str(stack.data_dir), "PYTHONPATH": str(settings.PROJECT_ROOT)}
    env.pop("STAFF_PASSWORD", None)
    result = subprocess.run([sys.executable, "-m", "bot", "staff", "reset-password"], cwd=settings.PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return re.search(r"\n\n\s+(\S+)\n", result.stdout).group(1)


def ask_for_a_person(chat: Chat, name: str, email: str) -> str:
    """Goes through the concierge request as a founder and returns the reference the assistant gives."""
    said = []
    for text in ("I want to talk to a person", "yes", name, email, "Northwind Renovations Inc.",
                 "I need help preparing my first bid for a school board."):
        said += chat.texts(text)
    found = re.search(r"queue as \*\*(\w+)\*\*", " ".join(said))
    assert found, f"no reference in the replies: {said}"
    return found.group(1)


@pytest.fixture
def staff_data(stack):
    """Conversations in the stack's tracker store: two unanswerable questions and one concierge request."""
    Chat(stack.rasa_url).texts(f"{GAP_WORD} blorp wibble frobnicate")
    # (not "... please": that word alone lifts flow_inform just over the fallback threshold)
    Chat(stack.rasa_url).texts(f"{GAP_WORD} blorp wibble frobnicate zorb")
    founder = Chat(stack.rasa_url)
    reference = ask_for_a_person(founder, "Jane Tremblay", f"jane.{uuid.uuid4().hex[:6]}@example.ca")
    return {"reference": reference, "founder": founder.sender}


def test_staff_log_in_read_the_report_open_a_gap_and_mark_a_handoff_contacted(new_page, stack, staff_data):
    password = reset_password(stack)
    page = new_page(bypass_csp=True)  # the staff pages' CSP would block axe-core, which the test injects

    page.goto("/staff/report")
    expect(page).to_have_url(re.compile(r"/staff/login\?next=%2Fstaff%2Freport$"))
    assert axe_violations(page) == []
    page.get_by_label("Staff password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong password.")
    page.get_by_label("Staff password").fill(password)
    page.get_by_role("button", name="Log in").click()

    # The report, with its charts drawn as SVG and today's conversations counted.
    expect(page).to_have_url(re.compile(r"/staff/report$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage report")
    charts = page.locator("figure svg")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 4
    box = charts.first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert int(page.locator('[data-total="conversations"]').inner_text()) >= 3
    assert int(page.locator('[data-total="handoff_requests"]').inner_text()) >= 1
    assert axe_violations(page) == []

    # A gap group: both unanswerable questions in one group, examples and their conversations behind it.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Knowledge gaps").click()
    group = page.locator(".gap-group", has_text=GAP_WORD)
    expect(group).to_have_count(1)
    expect(group.locator(".gap-count")).to_have_text("2 messages")
    examples = group.locator(".gap-examples")
    expect(examples).to_be_hidden()
    group.locator("summary").click()
    expect(examples).to_be_visible()
    expect(examples.locator("li")).to_have_count(2)
    examples.get_by_role("link").first.click()
    expect(page.locator(".transcript")).to_contain_text(f"{GAP_WORD} blorp wibble frobnicate")
    page.go_back()
    page.locator(".gap-group", has_text=GAP_WORD).get_by_role("button", name="Mark handled").click()
    expect(page.locator(".gap-group", has_text=GAP_WORD).locator(".gap-state")).to_have_text("handled")
    assert axe_violations(page) == []

    # The concierge queue: the founder's request, their transcript, and marking it contacted.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Concierge queue").click()
    reference = staff_data["reference"]
    row = page.locator("tr", has_text=reference)
    expect(row).to_have_attribute("data-status", "new")
    expect(row).to_contain_text("Jane Tremblay")
    row.get_by_label(f"Status for {reference}").select_option("contacted")
    row.get_by_role("button", name="Update").click()
    expect(page).to_have_url(re.compile(r"/staff/queue$"))
    expect(page.locator("tr", has_text=reference)).to_have_attribute("data-status", "contacted")
    page.reload()
    expect(page.locator("tr", has_text=reference)).to_have_attribute("data-status", "contacted")
    assert axe_violations(page) == []
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Freshness").click()
    expect(page.locator("#knowledge-freshness tbody tr").first).to_be_visible()
    assert axe_violations(page) == []
    page.go_back()
    page.locator("tr", has_text=reference).get_by_role("link", name="Transcript").click()
    expect(page.locator(".transcript")).to_contain_text("I want to talk to a person")

    # Logging out ends it: the pages ask for the password again.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/staff/login$"))
    page.goto("/staff/queue")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    expect(page.locator("body")).not_to_contain_text("Jane Tremblay")
