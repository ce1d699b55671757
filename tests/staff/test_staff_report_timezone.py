"""The usage report counts days in REPORT_TIMEZONE (America/Toronto by default), not UTC days: an evening
conversation, the days the clocks change, other zones through the setting, and an unknown zone named clearly.

Times here are UTC instants (as Rasa stores them); the comments give the Toronto wall time."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import clock, settings
from bot.cli import main as cli_main
from bot.staff import gaps, report
from bot.staff.tracker_events import day_bounds
from staff_helpers import FALLBACK_THRESHOLD, TORONTO, UTC, Script, at, write_store

ROOT = Path(__file__).resolve().parents[2]
EVENING = at("2026-11-27", "02:30:00", UTC)  # 21:30 EST on November 26
NIGHT = at("2026-11-27", "07:30:00", UTC)  # 02:30 EST on November 27; 23:30 PST on November 26
BAD_ZONES = ["Mars/Olympus_Mons", "America", "/etc/localtime"]


def conversation(sender_id: str, first_message: dt.datetime, search_finds_nothing: bool = False) -> Script:
    """A conversation whose first message, at `first_message`, is a topic deep link then a question the
    assistant could not answer (and, if asked, a search that found nothing)."""
    script = Script(sender_id, first_message - dt.timedelta(seconds=5))
    script.user("/topic_business_number", "topic_business_number", 1.0, when=first_message)
    script.action("action_answer_topic").bot("utter_topic_answer", title="Business number").listen()
    script.fallback("snow plowing permits nunavut").action("action_fallback_suggestions")
    script.bot("utter_fallback_suggestions").listen()
    if search_finds_nothing:
        script.user("find basket tenders", "search_opportunities", 0.95).action("action_search_opportunities")
        script.bot("utter_opportunities_none_found", filters=f"asked by {sender_id}").listen()
    return script


def per_day(built: report.Report) -> dict[str, int]:
    return {d.day: d.conversations for d in built.days}


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---------------------------------------------------------------- an evening in Ontario


def test_an_evening_conversation_counts_on_its_ontario_day(tmp_path):
    url = write_store(tmp_path / "evening.db", [conversation("evening", EVENING)])
    nov_26, nov_27 = dt.date(2026, 11, 26), dt.date(2026, 11, 27)

    built = report.build_report(url, nov_26, nov_27, threshold=FALLBACK_THRESHOLD)
    assert built.timezone == "America/Toronto"
    assert per_day(built) == {"2026-11-26": 1, "2026-11-27": 0}
    assert [(d.day, d.user_messages, d.fallback_messages) for d in built.days] == [
        ("2026-11-26", 2, 1), ("2026-11-27", 0, 0)]
    assert report.build_report(url, nov_27, nov_27, threshold=FALLBACK_THRESHOLD).conversations == 0

    link = [{"kind": "topic", "target": "business-number", "conversations": 1}]
    assert report.link_usage(url, nov_26, nov_26) == link
    assert report.link_usage(url, nov_27, nov_27) == []
    assert [m.text for m in gaps.gap_messages(url, nov_26, nov_26, FALLBACK_THRESHOLD)] == [
        "snow plowing permits nunavut"]
    assert gaps.gap_messages(url, nov_27, nov_27, FALLBACK_THRESHOLD) == []

    transcript = report.transcript_html(url, "evening")
    assert '<time datetime="2026-11-26T21:30:00-05:00">2026-11-26 21:30:00 EST</time>' in transcript
    assert "UTC" not in transcript


def test_summer_times_are_shown_as_edt(tmp_path):
    url = write_store(tmp_path / "summer.db", [conversation("summer", utc("2026-07-02T01:15:00"),
                                                            search_finds_nothing=True)])
    built = report.build_report(url, dt.date(2026, 7, 1), dt.date(2026, 7, 1), threshold=FALLBACK_THRESHOLD)
    assert built.conversations == 1  # 21:15 EDT on July 1
    assert built.zero_results[0]["time"].endswith("-04:00") and built.zero_results[0]["time"][:10] == "2026-07-01"
    assert "2026-07-01 21:15:00 EDT" in report.transcript_html(url, "summer")
    assert "EDT</time>" in report.report_html(built)


# ---------------------------------------------------------------- the days the clocks change


@pytest.mark.parametrize("day, hours, first_messages, expected", [
    # 2026-03-08: at 02:00 EST the clocks jump to 03:00 EDT, a 23-hour day.
    (dt.date(2026, 3, 8), 23, [
        "2026-03-08T04:59:59",  # 23:59:59 EST, March 7
        "2026-03-08T05:00:00",  # 00:00:00 EST, March 8
        "2026-03-08T07:00:00",  # 03:00:00 EDT, right after the skipped hour
        "2026-03-09T03:59:59",  # 23:59:59 EDT, March 8
        "2026-03-09T04:00:00",  # 00:00:00 EDT, March 9 (23 hours after the day began)
    ], {"2026-03-07": 1, "2026-03-08": 3, "2026-03-09": 1}),
    # 2026-11-01: at 02:00 EDT the clocks go back to 01:00 EST, a 25-hour day.
    (dt.date(2026, 11, 1), 25, [
        "2026-11-01T03:59:59",  # 23:59:59 EDT, October 31
        "2026-11-01T04:00:00",  # 00:00:00 EDT, November 1
        "2026-11-01T05:30:00",  # 01:30 EDT
        "2026-11-01T06:30:00",  # 01:30 EST, the same wall time an hour later
        "2026-11-02T04:30:00",  # 23:30 EST, November 1 (24.5 hours after the day began)
        "2026-11-02T04:59:59",  # 23:59:59 EST, November 1
        "2026-11-02T05:00:00",  # 00:00:00 EST, November 2
    ], {"2026-10-31": 1, "2026-11-01": 5, "2026-11-02": 1}),
])
def test_the_days_the_clocks_change_are_counted_from_local_midnight(tmp_path, day, hours, first_messages, expected):
    low, high = day_bounds(day, day, TORONTO)
    assert high - low == hours * 3600
    assert dt.datetime.fromtimestamp(low, TORONTO).time() == dt.time(0, 0)

    url = write_store(tmp_path / "dst.db", [conversation(f"c{n}", utc(moment))
                                            for n, moment in enumerate(first_messages)])
    one_day = dt.timedelta(days=1)
    around = report.build_report(url, day - one_day, day + one_day, threshold=FALLBACK_THRESHOLD)
    assert per_day(around) == expected
    alone = report.build_report(url, day, day, threshold=FALLBACK_THRESHOLD)
    assert per_day(alone) == {day.isoformat(): expected[day.isoformat()]}
    assert report.link_usage(url, day, day)[0]["conversations"] == expected[day.isoformat()]


def test_zero_result_searches_in_the_repeated_hour_stay_in_the_order_they_happened(tmp_path):
    # 01:40 EDT then 01:10 EST: as text "01:10-05:00" sorts first, but it happened 30 minutes later.
    url = write_store(tmp_path / "fold.db", [conversation("b-first", utc("2026-11-01T05:40:00"), True),
                                             conversation("a-second", utc("2026-11-01T06:10:00"), True)])
    built = report.build_report(url, dt.date(2026, 11, 1), dt.date(2026, 11, 1), threshold=FALLBACK_THRESHOLD)
    assert [(z["sender_id"], z["time"][:16]) for z in built.zero_results] == [
        ("b-first", "2026-11-01T01:40"), ("a-second", "2026-11-01T01:10")]
    assert [z["time"][-6:] for z in built.zero_results] == ["-04:00", "-05:00"]
    html = report.report_html(built)
    assert html.index("01:40:") < html.index("01:10:") and "EDT" in html and "EST" in html


# ---------------------------------------------------------------- another zone through the setting


@pytest.mark.parametrize("zone, expected, abbreviation", [
    (None, {"2026-11-26": 1, "2026-11-27": 1}, "EST"),  # the default: America/Toronto
    ("UTC", {"2026-11-26": 0, "2026-11-27": 2}, "UTC"),
    ("America/Vancouver", {"2026-11-26": 2, "2026-11-27": 0}, "PST"),
    ("Asia/Tokyo", {"2026-11-26": 0, "2026-11-27": 2}, "JST"),
])
def test_report_timezone_chooses_the_days(tmp_path, monkeypatch, zone, expected, abbreviation):
    if zone:
        monkeypatch.setenv("REPORT_TIMEZONE", zone)
    url = write_store(tmp_path / "zones.db", [conversation("evening", EVENING), conversation("night", NIGHT)])
    built = report.build_report(url, dt.date(2026, 11, 26), dt.date(2026, 11, 27), threshold=FALLBACK_THRESHOLD)
    assert per_day(built) == expected
    name = zone or "America/Toronto"
    assert json.loads(report.report_json(built))["timezone"] == name
    assert f"({name} time)</h2>" in report.report_html(built)
    assert f":30:00 {abbreviation}</time>" in report.transcript_html(url, "night")


def test_the_command_line_counts_and_dates_in_report_timezone(tmp_path, monkeypatch, capsys):
    url = write_store(tmp_path / "cli.db", [conversation("evening", EVENING), conversation("night", NIGHT)])
    monkeypatch.setattr(clock, "now", lambda: EVENING.astimezone(TORONTO))
    assert cli_main(["report", "--format", "json", "--tracker-url", url]) == 0
    data = json.loads(capsys.readouterr().out)
    # Today is November 26 in Toronto (November 27 in UTC): the night conversation is tomorrow's.
    assert (data["start"], data["end"], data["timezone"]) == ("2026-10-28", "2026-11-26", "America/Toronto")
    assert data["days"][-1] == {**data["days"][-1], "day": "2026-11-26", "conversations": 1}
    assert data["totals"]["conversations"] == 1

    monkeypatch.setenv("REPORT_TIMEZONE", "UTC")
    assert cli_main(["report", "--format", "json", "--tracker-url", url]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["start"], data["end"], data["timezone"]) == ("2026-10-29", "2026-11-27", "UTC")
    assert data["totals"]["conversations"] == 2

    monkeypatch.setenv("REPORT_TIMEZONE", "America/Vancouver")
    out = tmp_path / "usage.csv"
    assert cli_main(["report", "--from", "2026-11-26", "--to", "2026-11-27", "--format", "csv",
                     "--tracker-url", url, "--output", str(out)]) == 0
    text = out.read_text()
    assert "period,timezone,,America/Vancouver\n" in text
    assert "day,2026-11-26,conversations,2\n" in text and "day,2026-11-27,conversations,0\n" in text


# ---------------------------------------------------------------- an unknown zone


@pytest.mark.parametrize("value", BAD_ZONES)
def test_an_unknown_zone_is_an_error_that_names_the_setting(value, monkeypatch, tmp_path):
    monkeypatch.setenv("REPORT_TIMEZONE", value)
    with pytest.raises(settings.SettingError, match=f"REPORT_TIMEZONE='{value}' is not a known time zone"):
        settings.get_zone("REPORT_TIMEZONE")
    url = write_store(tmp_path / "t.db", [conversation("evening", EVENING)])
    with pytest.raises(settings.SettingError, match="REPORT_TIMEZONE"):
        report.build_report(url, dt.date(2026, 11, 26), dt.date(2026, 11, 26))


def test_the_command_line_refuses_an_unknown_zone_as_bad_usage(monkeypatch, capsys, tmp_path):
    url = write_store(tmp_path / "t.db", [conversation("evening", EVENING)])
    monkeypatch.setenv("REPORT_TIMEZONE", "Mars/Olympus_Mons")
    assert cli_main(["report", "--from", "2026-11-26", "--tracker-url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("error: REPORT_TIMEZONE='Mars/Olympus_Mons' is not a known time zone: use a tz "
                            "database name such as America/Toronto or UTC\n")

    env = {**os.environ, "REPORT_TIMEZONE": "Mars/Olympus_Mons", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "report", "--tracker-url", url], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "REPORT_TIMEZONE='Mars/Olympus_Mons' is not a known time zone" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
