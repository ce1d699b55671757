"""`python -m bot opportunities …` exit codes and output, through bot.cli.main."""
from __future__ import annotations

import pytest

import bot.cli
from bot import settings
from opportunities_helpers import CANADABUYS_SAMPLE, FIXTURES, canadabuys_bytes, read_canadabuys_rows, send

MAPPING = settings.PROJECT_ROOT / "feeds" / "mappings" / "example-municipal.yml"


@pytest.fixture(autouse=True)
def only_opportunity_commands(monkeypatch):
    # Other packages' commands are not this feature's to test (and may not exist yet on this branch).
    monkeypatch.setattr(bot.cli, "COMMAND_MODULES", ("bot.opportunities.cli",))


def run(*argv) -> int:
    return bot.cli.main(["opportunities", *argv])


def test_registered_in_the_real_command_list():
    import importlib
    source = importlib.util.find_spec("bot.cli").origin
    assert '"bot.opportunities.cli"' in open(source, encoding="utf-8").read()


def test_status_and_search_without_data_report_a_problem(data_dir, capsys):
    assert run("status") == 1
    assert run("search", "snow") == 1
    assert "no opportunity data yet" in capsys.readouterr().out + capsys.readouterr().err


def test_offline_refresh_loads_snapshots_then_status_and_search(data_dir, capsys):
    assert run("refresh") == 0
    out = capsys.readouterr().out
    assert "canadabuys: ok [snapshot]" in out and "toronto: ok [snapshot]" in out
    assert (data_dir / "opportunities.db").exists()
    assert run("status") == 0
    out = capsys.readouterr().out
    assert "bundled snapshot of 2025-12-30" in out and "17 listings" in out
    assert run("search", "courier", "--all") == 0
    out = capsys.readouterr().out
    assert "Weekly Courier Services - Hospital Operations" in out
    assert run("search", "--all", "--region", "Yukon", "--category", "construction") == 0
    out = capsys.readouterr().out
    assert out.startswith("1 match") and "WS5460663506-Doc5502122825" in out
    # Closes 2026-01-19 17:00 Toronto time: in on the 19th, out on the 18th.
    assert run("search", "weekly courier", "--all", "--closing-before", "2026-01-19") == 0
    assert "Weekly Courier Services - Hospital Operations" in capsys.readouterr().out
    assert run("search", "weekly courier", "--all", "--closing-before", "2026-01-18") == 0
    assert "Weekly Courier Services - Hospital Operations" not in capsys.readouterr().out


def test_refresh_generic_file_with_mapping(data_dir, capsys):
    code = run("refresh", "--url", str(FIXTURES / "generic-municipal.csv"), "--format", "generic",
               "--mapping", str(MAPPING), "--source", "example")
    assert code == 0
    out = capsys.readouterr().out
    assert "example: ok [file] 2 rows loaded" in out and "1 rows skipped (line 4)" in out


def test_refresh_problems_exit_1(data_dir, capsys):
    assert run("refresh", "--url", str(data_dir / "missing.csv"), "--format", "canadabuys") == 1
    assert run("refresh", "--url", "http://127.0.0.1:9/feed.csv", "--format", "canadabuys") == 1  # OFFLINE=1
    assert "OFFLINE" in capsys.readouterr().out
    assert run("refresh", "--source", "no-such-feed") == 1
    assert run("refresh", "--url", str(CANADABUYS_SAMPLE), "--format", "generic") == 1  # no mapping


def test_failed_live_refresh_exits_1_and_status_shows_it(data_dir, feed_server, monkeypatch, capsys):
    assert run("refresh", "--url", str(CANADABUYS_SAMPLE), "--format", "canadabuys") == 0
    header, rows = read_canadabuys_rows()
    header[header.index("title-titre-eng")] = "heading"
    header[header.index("title-titre-fra")] = "heading-fr"
    feed_server.routes["/bad.csv"] = lambda h: send(h, canadabuys_bytes(header, rows))
    monkeypatch.setenv("OFFLINE", "0")
    assert run("refresh", "--url", feed_server.url("/bad.csv"), "--format", "canadabuys") == 1
    assert "the last good data is kept" in capsys.readouterr().out
    assert run("status") == 1
    out = capsys.readouterr().out
    assert "17 listings" in out and "(current)" in out and "title" in out


def test_bad_usage_exits_2(data_dir):
    with pytest.raises(SystemExit) as exit_info:
        run("search", "x", "--closing-before", "next week")
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        run("refresh", "--format", "pdf")
    assert exit_info.value.code == 2
