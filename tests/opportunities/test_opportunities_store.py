"""The store: upsert by (source, reference), amendment history, refusal of bad feeds, atomic swap for readers."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3

from bot.opportunities import store
from bot.opportunities.refresh import SourceConfig, load_file, refresh_all
from bot.opportunities.search import SearchQuery, search
from opportunities_helpers import CANADABUYS_SAMPLE, NOW, TORONTO_SAMPLE, canadabuys_bytes, read_canadabuys_rows

CANADABUYS = SourceConfig(name="canadabuys", format="canadabuys")
LATER = NOW + dt.timedelta(hours=6)


def count(db_path, sql="SELECT count(*) FROM opportunities", params=()):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchone()[0]


def write_variant(tmp_path, name, mutate):
    header, rows = read_canadabuys_rows()
    mutate(header, rows)
    path = tmp_path / name
    path.write_bytes(canadabuys_bytes(header, rows))
    return path


def test_load_real_samples_and_status(db_path):
    assert load_file(CANADABUYS_SAMPLE, CANADABUYS, now=NOW, db_path=db_path).ok
    outcome = load_file(TORONTO_SAMPLE, SourceConfig(name="toronto", format="toronto"), now=NOW, db_path=db_path)
    assert outcome.ok and outcome.rows == 917
    # 917 rows but repeated document numbers are one listing each.
    assert count(db_path, "SELECT count(*) FROM opportunities WHERE source = 'toronto'") == 894
    assert count(db_path, "SELECT count(*) FROM opportunities WHERE source = 'canadabuys'") == 17
    status = {row["source"]: row for row in store.read_status(db_path)}
    assert status["canadabuys"]["rows"] == 17 and status["canadabuys"]["last_success"] == NOW.isoformat()
    assert status["toronto"]["listings"] == 894


def test_reload_of_same_feed_changes_nothing(db_path):
    load_file(CANADABUYS_SAMPLE, CANADABUYS, now=NOW, db_path=db_path)
    outcome = load_file(CANADABUYS_SAMPLE, CANADABUYS, now=LATER, db_path=db_path)
    assert outcome.ok and "0 new, 0 updated" in outcome.message
    assert count(db_path) == 17
    assert count(db_path, "SELECT count(*) FROM amendments") == 0
    assert count(db_path, "SELECT count(*) FROM opportunities WHERE last_seen = ?", (LATER.isoformat(),)) == 17


def test_amendment_updates_the_listing_and_is_remembered(db_path, tmp_path):
    load_file(CANADABUYS_SAMPLE, CANADABUYS, now=NOW, db_path=db_path)

    def amend(header, rows):
        row = next(r for r in rows if r[header.index("referenceNumber-numeroReference")] == "cb-120-98313427")
        row[header.index("amendmentNumber-numeroModification")] = "001"
        row[header.index("tenderClosingDate-appelOffresDateCloture")] = "2026-02-02T14:00:00"
        row[header.index("title-titre-eng")] = "Weekly Courier Services - Hospital Operations (extended)"

    outcome = load_file(write_variant(tmp_path, "amended.csv", amend), CANADABUYS, now=LATER, db_path=db_path)
    assert outcome.ok and "1 amended" in outcome.message
    assert count(db_path) == 17  # updated in place, not duplicated
    history = store.amendments_for("canadabuys", "cb-120-98313427", db_path)
    assert len(history) == 1
    assert (history[0]["amendment_from"], history[0]["amendment_to"]) == ("000", "001")
    assert history[0]["closing_from"].startswith("2026-01-19T17:00") and history[0]["closing_to"].startswith("2026-02-02")
    assert history[0]["title_from"] == "Weekly Courier Services - Hospital Operations"
    # The full-text index follows the update: the new title word finds it, ranked first.
    result = search(SearchQuery(text="courier extended"), NOW, db_path)
    assert result.items[0].reference == "cb-120-98313427" and result.items[0].amendment_number == "001"
    assert result.items[0].closing.isoformat() == "2026-02-02T14:00:00-05:00"
    assert count(db_path, "SELECT count(*) FROM opportunities_fts WHERE opportunities_fts MATCH 'title_en : extended'") == 1


def test_feed_with_too_many_bad_rows_is_refused_and_old_data_kept(db_path, tmp_path):
    load_file(CANADABUYS_SAMPLE, CANADABUYS, now=NOW, db_path=db_path)

    def break_dates(header, rows):
        for row in rows[:10]:
            row[header.index("tenderClosingDate-appelOffresDateCloture")] = "soon"
        rows[11][header.index("title-titre-eng")] = "A title that must not appear"

    outcome = load_file(write_variant(tmp_path, "broken.csv", break_dates), CANADABUYS, now=LATER, db_path=db_path)
    assert not outcome.ok and "10 of 17 rows failed" in outcome.message
    assert count(db_path, "SELECT count(*) FROM opportunities WHERE title_en = 'A title that must not appear'") == 0
    assert count(db_path) == 17
    status = store.read_status(db_path)[0]
    assert status["last_success"] == NOW.isoformat() and "10 of 17" in status["last_error"]


def test_a_few_bad_rows_load_the_rest_and_record_lines(db_path, tmp_path):
    def break_one(header, rows):
        rows[3][header.index("tenderClosingDate-appelOffresDateCloture")] = "31/01/2026"

    outcome = load_file(write_variant(tmp_path, "one-bad.csv", break_one), CANADABUYS, now=NOW, db_path=db_path)
    assert outcome.ok and outcome.rows == 16 and outcome.row_errors == 1
    status = store.read_status(db_path)[0]
    lines = json.loads(status["error_lines"])
    assert len(lines) == 1 and lines[0].startswith("line ") and "31/01/2026" in lines[0]
    assert status["row_errors"] == 1


def test_readers_see_complete_files_across_the_swap(db_path, tmp_path):
    load_file(CANADABUYS_SAMPLE, CANADABUYS, now=NOW, db_path=db_path)
    before = store.reader_connection(db_path)
    inode = db_path.stat().st_ino
    assert before.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 17
    load_file(TORONTO_SAMPLE, SourceConfig(name="toronto", format="toronto"), now=LATER, db_path=db_path)
    assert db_path.stat().st_ino != inode  # a new file was swapped in, not the old one edited
    # A connection opened before the swap still reads the old, complete file...
    assert before.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 17
    # ...and the next reader call notices the swap and reopens.
    after = store.reader_connection(db_path)
    assert after is not before
    assert after.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 17 + 894
    leftovers = [p.name for p in db_path.parent.iterdir() if p.name.endswith(".tmp") or "journal" in p.name]
    assert leftovers == []
    assert sqlite3.connect(db_path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_offline_without_data_loads_the_labelled_snapshot(db_path):
    outcomes = refresh_all(True, NOW, db_path=db_path)
    assert [(o.source, o.ok, o.origin) for o in outcomes] == [("canadabuys", True, "snapshot"),
                                                              ("toronto", True, "snapshot")]
    status = {row["source"]: row for row in store.read_status(db_path)}
    assert status["canadabuys"]["snapshot"] == 1 and status["canadabuys"]["snapshot_date"] == "2025-12-30"
    assert status["toronto"]["snapshot_date"] == "2026-08-22"
    # Offline again: the data now present is kept, not reloaded.
    again = refresh_all(True, LATER, db_path=db_path)
    assert {o.origin for o in again} == {"kept"}
    assert store.read_status(db_path)[0]["last_success"] == NOW.isoformat()
