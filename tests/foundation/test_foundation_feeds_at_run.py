"""`make run` refreshes the feeds in the background; offline it serves the bundled snapshot and says so once."""
from __future__ import annotations

import sqlite3

from bot.services import FeedRefresher


def test_offline_refresh_loads_the_snapshot_and_reports_each_source_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    refresher = FeedRefresher(every_hours=6, offline=True)
    refresher.refresh_once()
    first = capsys.readouterr().out.splitlines()
    assert first and all(line.startswith("Opportunity feed ") for line in first)
    assert any("snapshot" in line for line in first)
    with sqlite3.connect(tmp_path / "opportunities.db") as db:
        assert db.execute("SELECT count(*) FROM opportunities").fetchone()[0] > 0

    refresher.refresh_once()  # now there is last good data to keep serving: said once ...
    assert "offline" in capsys.readouterr().out
    refresher.refresh_once()  # ... and not again while nothing changes
    assert capsys.readouterr().out == ""


def test_a_broken_feed_list_is_reported_not_raised(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    def broken(**kwargs):
        raise ValueError("feeds/sources.yml: line 3: bad")

    monkeypatch.setattr("bot.opportunities.refresh.refresh_all", broken)
    FeedRefresher(every_hours=6, offline=True).refresh_once()
    assert "could not refresh (feeds/sources.yml: line 3: bad); serving the last good listings" in capsys.readouterr().out
