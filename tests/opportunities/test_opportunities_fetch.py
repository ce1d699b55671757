"""Downloading feeds from a local HTTP server: every failure leaves the last good data in place."""
from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import time

import pytest

from bot.opportunities import store
from bot.opportunities.fetch import FetchPolicy
from bot.opportunities.refresh import SourceConfig, refresh_source
from opportunities_helpers import CANADABUYS_SAMPLE, NOW, canadabuys_bytes, read_canadabuys_rows, send

GOOD = CANADABUYS_SAMPLE.read_bytes()
POLICY = FetchPolicy(connect_timeout=1.0, read_timeout=0.5, total_timeout=5.0, retries=2, backoff=0.01)
LATER = NOW + dt.timedelta(hours=1)


def amended_feed() -> bytes:
    header, rows = read_canadabuys_rows()
    rows[0][header.index("amendmentNumber-numeroModification")] = "001"
    rows[0][header.index("title-titre-eng")] = "Weekly Courier Services - AMENDED"
    return canadabuys_bytes(header, rows)


def titles(db_path) -> set[str]:
    with sqlite3.connect(db_path) as conn:
        return {r[0] for r in conn.execute("SELECT title_en FROM opportunities")}


@pytest.fixture
def loaded(feed_server, db_path):
    """The source loaded once from /good, then pointed at /feed for the scenario under test."""
    feed_server.routes["/good"] = lambda h: send(h, GOOD, headers={"ETag": '"v1"'})
    first = SourceConfig(name="canadabuys", format="canadabuys", url=feed_server.url("/good"))
    outcome = refresh_source(first, now=NOW, offline=False, db_path=db_path, policy=POLICY, sleep=lambda s: None)
    assert outcome.ok and outcome.origin == "live" and outcome.rows == 17
    config = SourceConfig(name="canadabuys", format="canadabuys", url=feed_server.url("/feed"))
    return config, titles(db_path)


def refresh(config, db_path, sleeps=None):
    return refresh_source(config, now=LATER, offline=False, db_path=db_path, policy=POLICY,
                          sleep=(sleeps.append if sleeps is not None else (lambda s: None)))


def assert_kept(db_path, before, outcome, reason):
    assert not outcome.ok and outcome.origin == "kept"
    assert titles(db_path) == before
    status = store.read_status(db_path)[0]
    assert status["last_success"] == NOW.isoformat(), "the last success stays the good load"
    assert status["last_attempt"] == LATER.isoformat()
    assert reason in status["last_error"]


def test_slow_server_times_out_and_data_survives(feed_server, loaded, db_path):
    config, before = loaded

    def slow(handler):
        time.sleep(1.5)
        send(handler, amended_feed())

    feed_server.routes["/feed"] = slow
    started = time.monotonic()
    outcome = refresh(config, db_path)
    assert time.monotonic() - started < 6
    assert_kept(db_path, before, outcome, "timed out")
    assert feed_server.hits["/feed"] == 3  # first try + 2 retries


def test_500_then_success_is_retried_with_backoff(feed_server, loaded, db_path):
    config, _ = loaded
    answers = iter([500, 503, 200])

    def flaky(handler):
        code = next(answers)
        if code == 200:
            send(handler, amended_feed())
        else:
            send(handler, b"oops", status=code, content_type="text/plain")

    feed_server.routes["/feed"] = flaky
    sleeps: list[float] = []
    outcome = refresh(config, db_path, sleeps)
    assert outcome.ok and outcome.origin == "live"
    assert sleeps == [0.01, 0.02]  # exponential backoff
    assert "Weekly Courier Services - AMENDED" in titles(db_path)
    assert len(store.amendments_for("canadabuys", "cb-120-98313427", db_path)) == 1


def test_server_errors_every_time_keep_data(feed_server, loaded, db_path):
    config, before = loaded
    feed_server.routes["/feed"] = lambda h: send(h, b"down", status=502, content_type="text/plain")
    assert_kept(db_path, before, refresh(config, db_path), "HTTP 502")


def test_truncated_download_keeps_data(feed_server, loaded, db_path):
    config, before = loaded
    body = amended_feed()
    # Promise the whole file, send 60% of it, hang up.
    feed_server.routes["/feed"] = lambda h: (send(h, body[: len(body) * 6 // 10], length=len(body)),
                                             setattr(h, "close_connection", True))
    assert_kept(db_path, before, refresh(config, db_path), "truncated")
    assert not list((db_path.parent / "downloads").glob("*.part")), "partial downloads are deleted"


def test_wrong_content_type_keeps_data(feed_server, loaded, db_path):
    config, before = loaded
    page = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
    feed_server.routes["/feed"] = lambda h: send(h, page, content_type="text/html")
    assert_kept(db_path, before, refresh(config, db_path), "content type 'text/html'")


def test_html_sent_as_csv_is_caught_by_sniffing(feed_server, loaded, db_path):
    config, before = loaded
    feed_server.routes["/feed"] = lambda h: send(h, b"<html><body>Sign in</body></html>")
    assert_kept(db_path, before, refresh(config, db_path), "HTML page")


def test_renamed_required_column_keeps_data(feed_server, loaded, db_path):
    config, before = loaded
    header, rows = read_canadabuys_rows()
    header[header.index("referenceNumber-numeroReference")] = "refNo-numero"
    feed_server.routes["/feed"] = lambda h: send(h, canadabuys_bytes(header, rows))
    assert_kept(db_path, before, refresh(config, db_path), "referencenumber")


def test_oversized_feed_is_refused(feed_server, loaded, db_path):
    config, before = loaded
    feed_server.routes["/feed"] = lambda h: send(h, GOOD)
    outcome = refresh_source(config, now=LATER, offline=False, db_path=db_path, sleep=lambda s: None,
                             policy=FetchPolicy(read_timeout=1.0, retries=0, max_bytes=1000))
    assert_kept(db_path, before, outcome, "limit")


def test_304_with_etag_is_a_success_without_reload(feed_server, loaded, db_path):
    _, before = loaded
    config = SourceConfig(name="canadabuys", format="canadabuys", url=feed_server.url("/good"))

    def conditional(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            handler.send_response(304)
            handler.send_header("ETag", '"v1"')
            handler.end_headers()
        else:
            send(handler, amended_feed())

    feed_server.routes["/good"] = conditional
    outcome = refresh(config, db_path)
    assert outcome.ok and outcome.origin == "not_modified"
    assert feed_server.requests[-1]["headers"].get("If-None-Match") == '"v1"'
    assert titles(db_path) == before
    status = store.read_status(db_path)[0]
    assert status["last_success"] == LATER.isoformat() and status["etag"] == '"v1"'


def test_unreachable_source_without_data_falls_back_to_snapshot(db_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = SourceConfig(name="canadabuys", format="canadabuys", url=f"http://127.0.0.1:{port}/feed.csv",
                          snapshot=CANADABUYS_SAMPLE, snapshot_date="2025-12-30")
    outcome = refresh_source(config, now=NOW, offline=False, db_path=db_path, policy=POLICY, sleep=lambda s: None)
    assert not outcome.ok and outcome.origin == "snapshot" and outcome.rows == 17
    status = store.read_status(db_path)[0]
    assert status["snapshot"] == 1 and status["snapshot_date"] == "2025-12-30"
    assert "connection failed" in status["last_error"]


def test_ckan_package_is_resolved_to_its_datastore_dump(feed_server, db_path):
    from opportunities_helpers import TORONTO_SAMPLE
    import json

    package = {"success": True, "result": {"resources": [
        {"id": "abc-123", "name": "All Solicitations", "datastore_active": True},
        {"id": "zzz", "name": "Something else", "datastore_active": True},
    ]}}
    feed_server.routes["/api/3/action/package_show"] = lambda h: send(
        h, json.dumps(package).encode(), content_type="application/json")
    feed_server.routes["/datastore/dump/abc-123"] = lambda h: send(h, TORONTO_SAMPLE.read_bytes())
    config = SourceConfig(name="toronto", format="toronto",
                          ckan_package=feed_server.url("/api/3/action/package_show?id=tobids-all-open-solicitations"),
                          ckan_resource="All Solicitations")
    outcome = refresh_source(config, now=NOW, offline=False, db_path=db_path, policy=POLICY, sleep=lambda s: None)
    assert outcome.ok and outcome.rows == 917
    assert feed_server.hits["/datastore/dump/abc-123"] == 1
