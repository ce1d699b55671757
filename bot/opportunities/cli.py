"""`python -m bot opportunities refresh | status | search`."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bot import settings
from bot.opportunities import refresh as refresh_mod
from bot.opportunities import store
from bot.opportunities.model import FEED_TIMEZONE
from bot.opportunities.search import SearchQuery, search
from bot.opportunities.sources import FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser("opportunities", help="Load, inspect and search live tender opportunities.")
    commands = parser.add_subparsers(dest="opportunities_command", metavar="ACTION")
    commands.required = True

    refresh = commands.add_parser("refresh", help="Fetch the configured feeds (or one feed) into the store.")
    refresh.add_argument("--source", help="only this source of feeds/sources.yml (or the name to load --url as)")
    refresh.add_argument("--url", help="load this URL or local file instead of the configured feed")
    refresh.add_argument("--format", choices=FORMATS, help="format of --url (default: the source's format)")
    refresh.add_argument("--mapping", help="column-mapping YAML for --format generic")
    refresh.set_defaults(handler=run_refresh)

    status = commands.add_parser("status", help="Per source: last success, last error, rows, age.")
    status.set_defaults(handler=run_status)

    find = commands.add_parser("search", help="Search open opportunities.")
    find.add_argument("text", nargs="?", default="", help="words to look for")
    find.add_argument("--region", action="append", default=[], help="e.g. Ontario (repeatable)")
    find.add_argument("--category", action="append", default=[], help="goods, services or construction (repeatable)")
    find.add_argument("--buyer", default="", help="words of the buyer's name")
    find.add_argument("--closing-before", type=_date, help="closing on or before this date (YYYY-MM-DD)")
    find.add_argument("--all", action="store_true", help="include closed opportunities")
    find.add_argument("--limit", type=int, default=10)
    find.set_defaults(handler=run_search)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _now() -> dt.datetime:
    # The one clock read: command-line entry points are the edge where "now" is decided.
    return dt.datetime.now(dt.timezone.utc)


def run_refresh(args: argparse.Namespace) -> int:
    now = _now()
    offline = settings.get_bool("OFFLINE")
    try:
        if args.url:
            config = _adhoc_config(args)
            outcomes = [refresh_mod.refresh_from(args.url, config, now=now, offline=offline)]
        else:
            if args.format or args.mapping:
                print("--format and --mapping go with --url", file=sys.stderr)
                return 1
            outcomes = refresh_mod.refresh_all(offline, now, only=args.source)
    except refresh_mod.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        mark = "ok" if outcome.ok else "FAILED"
        print(f"{outcome.source}: {mark} [{outcome.origin}] {outcome.message}")
    return 0 if all(o.ok for o in outcomes) else 1


def _adhoc_config(args: argparse.Namespace) -> refresh_mod.SourceConfig:
    configured = {}
    try:
        configured = {c.name: c for c in refresh_mod.load_sources()}
    except refresh_mod.ConfigError:
        pass
    base = configured.get(args.source) if args.source else None
    fmt = args.format or (base.format if base else None)
    if fmt is None:
        raise refresh_mod.ConfigError("--url needs --format (or --source naming a configured feed)")
    mapping = Path(args.mapping).resolve() if args.mapping else (base.mapping if base else None)
    if fmt == "generic" and mapping is None:
        raise refresh_mod.ConfigError("--format generic needs --mapping FILE")
    return refresh_mod.SourceConfig(
        name=args.source or fmt, format=fmt, mapping=mapping,
        snapshot=base.snapshot if base else None, snapshot_date=base.snapshot_date if base else "",
    )


def _age(stamp: str | None, now: dt.datetime) -> str:
    if not stamp:
        return "never"
    seconds = int((now - dt.datetime.fromisoformat(stamp)).total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def run_status(args: argparse.Namespace) -> int:
    now = _now()
    rows = store.read_status()
    if not rows:
        print("no opportunity data yet: run `python -m bot opportunities refresh`")
        return 1
    problem = False
    for row in rows:
        failing = bool(row.get("last_error_at")) and (row.get("last_error_at") or "") >= (row.get("last_success") or "")
        problem = problem or failing or not row.get("last_success")
        origin = row.get("origin") or "?"
        if row.get("snapshot"):
            origin = f"bundled snapshot of {row.get('snapshot_date') or 'unknown date'}"
        print(f"{row['source']}: {row.get('listings', 0)} listings, from {origin}")
        print(f"  last success: {row.get('last_success') or 'never'} (age {_age(row.get('last_success'), now)})")
        print(f"  last attempt: {row.get('last_attempt') or 'never'}")
        print(f"  rows in last load: {row.get('rows') or 0}, rows skipped: {row.get('row_errors') or 0}")
        if row.get("last_error"):
            print(f"  last error: {row['last_error']} at {row.get('last_error_at')}" + (" (current)" if failing else ""))
    return 1 if problem else 0


def run_search(args: argparse.Namespace) -> int:
    now = _now()
    closing_before = None
    if args.closing_before:
        next_day = args.closing_before + dt.timedelta(days=1)
        closing_before = dt.datetime.combine(next_day, dt.time(0, 0), tzinfo=FEED_TIMEZONE) - dt.timedelta(seconds=1)
    query = SearchQuery(
        text=args.text, regions=args.region, categories=args.category, buyer=args.buyer,
        closing_before=closing_before, include_closed=args.all, limit=args.limit,
    )
    result = search(query, now)
    if not result.available:
        print("no opportunity data yet: run `python -m bot opportunities refresh`", file=sys.stderr)
        return 1
    print(f"{result.total} match(es)" + (" (any word)" if result.match == "any" else ""))
    for item in result.items:
        closing = item.closing.astimezone(FEED_TIMEZONE).strftime("%Y-%m-%d %H:%M %Z") if item.closing else "?"
        print(f"- {item.title_en}")
        print(f"  {item.buyer} | closes {closing} | {', '.join(item.category) or '-'} | {item.source}:{item.reference}")
        if item.notice_url:
            print(f"  {item.notice_url}")
    return 0
