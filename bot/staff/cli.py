"""`python -m bot report [--from DATE] [--to DATE] [--format html|csv|json] [--output FILE]`.

Days are those of REPORT_TIMEZONE (America/Toronto unless set), so an evening conversation in Ontario counts
on that evening's date. Without dates the report covers the last 30 days up to today in that zone.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bot import clock as wall_clock
from bot.settings import SettingError

DEFAULT_DAYS = 30
FORMATS = ("csv", "html", "json")


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD, for example 2026-11-01") from None


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="Usage report from the tracker store for a period of days in REPORT_TIMEZONE.",
        description="Conversations, messages, topics, flows, fallbacks, handoffs and zero-result searches of the "
                    "conversations started from --from to --to (both included), counted on the days of "
                    "REPORT_TIMEZONE (default America/Toronto).")
    parser.add_argument("--from", dest="start", type=iso_date, metavar="DATE",
                        help=f"first day, YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before --to)")
    parser.add_argument("--to", dest="end", type=iso_date, metavar="DATE",
                        help="last day, YYYY-MM-DD, included (default: today in REPORT_TIMEZONE)")
    parser.add_argument("--format", choices=FORMATS, default="html", help="output format (default: html)")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--tracker-url", metavar="URL", default=None,
                        help="SQLAlchemy URL of the tracker store (default: TRACKER_STORE_URL, else DATA_DIR/tracker.db)")
    parser.set_defaults(handler=run_report)


def _today(zone: dt.tzinfo) -> dt.date:
    # The command line is the edge where "today" is decided: the report's zone's today, not the server's.
    return wall_clock.now().astimezone(zone).date()


def run_report(args: argparse.Namespace) -> int:
    # Imported here so that every other `python -m bot` command starts without SQLAlchemy.
    from bot.staff import report
    from bot.staff.tracker_events import TrackerStoreError, default_tracker_url, report_zone

    try:
        zone = report_zone()
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.end is None:
        today = _today(zone)
        args.end = today if args.start is None else max(args.start, today)
    if args.start is None:
        args.start = args.end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if args.end < args.start:
        print(f"error: --to {args.end} is before --from {args.start}", file=sys.stderr)
        return 2
    try:
        built = report.build_report(args.tracker_url or default_tracker_url(), args.start, args.end, zone=zone)
    except TrackerStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = {"html": report.report_page, "csv": report.report_csv, "json": report.report_json}[args.format](built)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {args.output}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"{built.conversations} conversation(s) from {built.start} to {built.end}: wrote {args.output}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
