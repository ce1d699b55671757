"""The staff pages' content: freshness with a pinned clock, the report and its exports, links, gaps, layout."""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json
import re
from pathlib import Path

import pytest

from staff_web_helpers import START, start_staff_server

TESTS = Path(__file__).resolve().parents[1]


def _write_knowledge(root: Path) -> Path:
    """The knowledge tests' small valid knowledge folder (tests/knowledge/knowledge_helpers.py)."""
    spec = importlib.util.spec_from_file_location("knowledge_helpers_for_staff",
                                                  TESTS / "knowledge" / "knowledge_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_knowledge(root)


@pytest.fixture
def knowledge_dir(tmp_path):
    """Every entry reviewed 2026-11-01 every 180 days (due 2027-04-30), except one overdue and one due soon."""
    root = _write_knowledge(tmp_path)
    overdue = root / "topics" / "vor-what-is.md"
    overdue.write_text(overdue.read_text().replace("last_reviewed: 2026-11-01", "last_reviewed: 2025-01-01"))
    due_soon = next(p for p in sorted((root / "topics").glob("*.md")) if p != overdue)
    due_soon.write_text(due_soon.read_text().replace("review_every_days: 180", "review_every_days: 40"))
    return root, due_soon.stem


@pytest.fixture
def server(data_dir, knowledge_dir):
    running, stop = start_staff_server(data_dir, knowledge_dir=knowledge_dir[0])
    running.session = running.login()
    yield running
    stop()


def freshness_at(server, when: dt.datetime) -> str:
    """The freshness page with the clock pinned at `when` (logging in again: sessions last 30 minutes)."""
    server.clock.at = when
    response = server.get("/staff/freshness", server.login())
    assert response.status_code == 200
    return response.text


def freshness_rows(text: str) -> dict[tuple[str, str], str]:
    """(kind, id) -> status class of each knowledge row on the freshness page."""
    table = text.split('id="knowledge-freshness"')[1].split("</table>")[0]
    return {(kind, entry): status for status, kind, entry in
            re.findall(r'<tr class="status-(\w+)"><td>([^<]+)</td><td><code>([^<]+)</code>', table)}


def test_freshness_statuses_follow_the_pinned_clock(server, knowledge_dir):
    from bot.knowledge.loader import load_knowledge

    root, due_soon_id = knowledge_dir
    knowledge, _ = load_knowledge(root)
    table_rows = sum(1 for rows in knowledge.tables.values() for row in rows if row.get("last_reviewed"))
    assert table_rows > 0

    page = freshness_at(server, dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc))
    rows = freshness_rows(page)
    assert len(rows) == len(knowledge.topics) + table_rows  # every topic and every table row
    assert {entry for kind, entry in rows if kind == "topic"} == {t.id for t in knowledge.topics}
    assert rows.pop(("topic", "vor-what-is")) == "overdue"       # due 2025-06-30
    assert rows.pop(("topic", due_soon_id)) == "due_soon"        # due 2026-12-11, within 30 days
    assert set(rows.values()) == {"current"}                     # due 2027-04-30
    overdue_row = re.search(r'<tr class="status-overdue">.*?</tr>', page).group(0)
    assert "vor-what-is" in overdue_row and "<strong>Overdue</strong>" in overdue_row
    assert "2025-01-01" in overdue_row and "2025-06-30" in overdue_row and "180 days" in overdue_row
    assert f"<strong>1 overdue</strong>, 1 due soon, {len(knowledge.topics) + table_rows - 2} current" in page

    # 15 days before 2027-04-30
    rows = freshness_rows(freshness_at(server, dt.datetime(2027, 4, 15, 12, 0, tzinfo=dt.timezone.utc)))
    assert rows.pop(("topic", "vor-what-is")) == "overdue" and rows.pop(("topic", due_soon_id)) == "overdue"
    assert set(rows.values()) == {"due_soon"}
    page = freshness_at(server, dt.datetime(2027, 5, 1, 12, 0, tzinfo=dt.timezone.utc))
    assert set(freshness_rows(page).values()) == {"overdue"}


def source_rows(text: str) -> dict[str, str]:
    table = text.split('id="source-freshness"')[1].split("</table>")[0]
    return {source: row for row, source in re.findall(r'(<tr class="status-\w+"><td>([^<]+)</td>.*?</tr>)', table)}


def test_opportunity_sources_show_their_last_refresh(server):
    from bot.opportunities import refresh

    rows = source_rows(server.get("/staff/freshness", server.session).text)
    configured = [c.name for c in refresh.load_sources() if c.enabled]
    assert set(rows) == set(configured) and configured
    assert all("never" in row and "status-overdue" in row for row in rows.values())

    # Offline, every source loads its bundled snapshot: that is old data, not a refresh.
    refresh.refresh_all(offline=True, now=START)
    rows = source_rows(server.get("/staff/freshness", server.session).text)
    assert all("bundled snapshot of" in row and "(stale)" in row for row in rows.values())

    # A real load of the first source (from a local file) is a refresh; stale after two refresh periods (12 h).
    first = refresh.load_sources()[0]
    refreshed_at = START + dt.timedelta(hours=1)
    assert refresh.refresh_from(str(first.snapshot), first, now=refreshed_at, offline=True).ok
    row = source_rows(freshness_at(server, refreshed_at + dt.timedelta(hours=11)))[first.name]
    assert "status-current" in row and refreshed_at.isoformat() in row and "(stale)" not in row
    row = source_rows(freshness_at(server, refreshed_at + dt.timedelta(hours=12, minutes=1)))[first.name]
    assert "status-overdue" in row and "(stale)" in row


def test_report_page_exports_and_bad_dates(server, data_dir):
    page = server.get("/staff/report?from=2026-11-01&to=2026-11-26", server.session)
    assert page.status_code == 200
    assert 'href="/staff/report.csv?from=2026-11-01&amp;to=2026-11-26"' in page.text
    assert 'href="/staff/report.json?from=2026-11-01&amp;to=2026-11-26"' in page.text
    assert page.text.count("<svg") >= 3 and 'value="2026-11-01"' in page.text
    exported = server.get("/staff/report.csv?from=2026-11-01&to=2026-11-26", server.session)
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert 'filename="usage-report-2026-11-01-2026-11-26.csv"' in exported.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(exported.text)))
    data = server.get("/staff/report.json?from=2026-11-01&to=2026-11-26", server.session)
    assert json.loads(data.text)
    # Without a range: the last 30 days up to the pinned clock's day.
    assert 'value="2026-10-28"' in server.get("/staff/report", server.session).text
    for query, message in (("from=2026-13-01", "is not a date"), ("from=2026-11-20&to=2026-11-01", "after the end"),
                           ("to=%3Cscript%3E", "is not a date")):
        response = server.get(f"/staff/report?{query}", server.session)
        assert response.status_code == 400 and message in response.text and "<script>" not in response.text
        assert server.get(f"/staff/report.csv?{query}", server.session).status_code == 400


def test_links_page_counts_conversations_per_deep_link(data_dir, knowledge_dir):
    from staff_helpers import known_store

    from bot.staff.report import link_usage

    url = known_store(data_dir / "known-tracker.db")
    running, stop = start_staff_server(data_dir, tracker_url=url)
    try:
        page = running.get("/staff/links?from=2026-03-01&to=2026-03-31", running.login()).text
    finally:
        stop()
    assert 'href="/links.html"' in page
    shown = re.findall(r'<tr><th scope="row"><code>\?(\w+)=([^<]+)</code></th><td>\w+</td><td>[^<]+</td>'
                       r"<td>(\d+)</td></tr>", page)
    expected = link_usage(url, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert shown == [(item["kind"], item["target"], str(item["conversations"])) for item in expected]
    assert ("topic", "vor-what-is") in {(kind, target) for kind, target, _ in shown}


def test_pages_share_the_site_look_and_navigation(server):
    from bot.staff.pages import ROUTES

    for route in ROUTES:
        if route.method != "GET" or route.public or route.is_data:
            continue
        page = server.get(route.sample_path, server.session).text
        assert page.startswith("<!doctype html>") and '<html lang="en">' in page
        assert 'href="/site.css"' in page and 'href="/staff/staff.css"' in page
        assert '<a class="skip" href="#main">' in page and '<main id="main"' in page
        assert page.count("<h1>") == 1
        assert 'action="/staff/logout"' in page
    index = server.get("/staff/", server.session).text
    for path in ("/staff/report", "/staff/gaps", "/staff/queue", "/staff/freshness", "/staff/links"):
        assert f'href="{path}"' in index
    css = server.get("/staff/staff.css", server.session)
    assert css.headers["Content-Type"].startswith("text/css") and "status-overdue" in css.text
    response = server.get("/staff/freshness", server.session)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_queue_page_reads_and_writes_the_apps_data_directory_not_the_settings_one(data_dir, tmp_path,
                                                                                      monkeypatch):
    from bot import shared_store
    from bot.staff import queue

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("DATA_DIR", str(elsewhere))  # the app was given data_dir; the setting points away
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    running, stop = start_staff_server(data_dir)
    try:
        db = data_dir / "concierge.db"
        queue.start_draft("conv-q", "general help", START, db_path=db)
        for name, value in (("name", "Jane"), ("email", "jane@example.ca"), ("company", "Northwind"),
                            ("description", "Help")):
            queue.update_draft("conv-q", name, value, db_path=db)
        reference = queue.submit_draft("conv-q", START, db_path=db)
        session = running.login()
        page = running.get("/staff/queue", session)
        assert page.status_code == 200 and reference in page.text
        request_id = queue.list_requests(db_path=db)[0]["id"]
        done = running.post("/staff/queue/status", {"csrf_token": running.csrf(session), "request_id": request_id,
                                                    "status": "contacted"}, session)
        assert done.status_code == 303, done.text
        assert queue.list_requests(db_path=db)[0]["status"] == "contacted"
        assert not (elsewhere / "concierge.db").exists()
    finally:
        stop()
        shared_store.dispose()


def test_the_report_pages_count_days_in_report_timezone(server, data_dir, monkeypatch):
    from staff_helpers import Script, at, write_store

    evening = at("2026-11-27", "02:30:00", dt.timezone.utc)  # 21:30 EST on November 26
    script = Script("evening", evening)
    script.user("/topic_business_number", "topic_business_number", 1.0, when=evening).utter("utter_topic_answer")
    server.app._tracker_url = write_store(data_dir / "evening.db", [script])
    server.clock.at = evening
    session = server.login()

    # Without a range: the last 30 days up to today in Toronto, November 26 (November 27 in UTC).
    page = server.get("/staff/report", session).text
    assert 'name="from" type="date" value="2026-10-28"' in page and 'name="to" type="date" value="2026-11-26"' in page
    assert "Usage from 2026-10-28 to 2026-11-26 (America/Toronto time)" in page
    assert '<dd data-total="conversations">1</dd>' in page
    data = json.loads(server.get("/staff/report.json?from=2026-11-26&to=2026-11-27", session).text)
    assert data["timezone"] == "America/Toronto"
    assert {d["day"]: d["conversations"] for d in data["days"]} == {"2026-11-26": 1, "2026-11-27": 0}
    links = server.get("/staff/links?from=2026-11-27&to=2026-11-27", session).text
    assert "No conversation in this range started from a deep link." in links
    transcript = server.get("/staff/conversations/evening", session).text
    assert '<time datetime="2026-11-26T21:30:00-05:00">2026-11-26 21:30:00 EST</time>' in transcript

    monkeypatch.setenv("REPORT_TIMEZONE", "UTC")
    page = server.get("/staff/report", session).text
    assert 'name="to" type="date" value="2026-11-27"' in page and "(UTC time)" in page
    data = json.loads(server.get("/staff/report.json?from=2026-11-26&to=2026-11-27", session).text)
    assert {d["day"]: d["conversations"] for d in data["days"]} == {"2026-11-26": 0, "2026-11-27": 1}
    assert "2026-11-27 02:30:00 UTC" in server.get("/staff/conversations/evening", session).text


def test_an_unknown_report_timezone_is_named_on_the_page_not_a_traceback(server, monkeypatch):
    monkeypatch.setenv("REPORT_TIMEZONE", "Mars/Olympus_Mons")
    message = "REPORT_TIMEZONE=&#x27;Mars/Olympus_Mons&#x27; is not a known time zone"
    for path in ("/staff/report", "/staff/gaps", "/staff/links", "/staff/conversations/someone"):
        page = server.get(path, server.session)
        assert page.status_code == 500 and message in page.text, path
        assert "Traceback" not in page.text and 'role="alert"' in page.text
    data = server.get("/staff/report.json", server.session)
    assert data.status_code == 500 and data.headers["Content-Type"].startswith("text/plain")
    assert "REPORT_TIMEZONE='Mars/Olympus_Mons' is not a known time zone" in data.text
    assert server.get("/staff/freshness", server.session).status_code == 200  # pages without days still work
