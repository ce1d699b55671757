"""Search latency over 100,000 listings: p50/p95/p99 of varied queries, in process.

    python -m bench.bench_search [--rows 100000] [--queries 400] [--db PATH]

Builds (once, under /tmp unless --db names an existing store) a store from rows made by bench.bench_ingest's
generator, then times search() for free text, filters and both, with a fixed `now`. Target: p95 < 20 ms.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_ingest import EXTRA_TITLE_WORDS, generate, ingest
from bot.opportunities.search import SearchQuery, search
from bot.opportunities.store import SCHEMA_VERSION, open_writer, reader_connection

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.timezone.utc)
REGIONS = ["Ontario", "National Capital Region", "Quebec", "British Columbia", "Yukon"]
CATEGORIES = ["goods", "services", "construction"]
PHRASES = ["courier services", "temporary help", "snow removal", "vessel monitoring", "kraft paper",
           "security guard Ottawa", "cloud hosting", "bridge rehabilitation", "\"NEAR( OR *", "électricité"]


def queries(count: int, seed: int = 11) -> list[tuple[str, SearchQuery]]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        kind = n % 5
        if kind == 0:
            out.append(("text", SearchQuery(text=" ".join(rng.sample(EXTRA_TITLE_WORDS, rng.randint(1, 3))))))
        elif kind == 1:
            out.append(("phrase", SearchQuery(text=rng.choice(PHRASES))))
        elif kind == 2:
            out.append(("filters", SearchQuery(regions=[rng.choice(REGIONS)], categories=[rng.choice(CATEGORIES)],
                                               closing_before=NOW + dt.timedelta(days=rng.randint(5, 90)))))
        elif kind == 3:
            out.append(("text+filters", SearchQuery(text=rng.choice(EXTRA_TITLE_WORDS), regions=[rng.choice(REGIONS)],
                                                    categories=[rng.choice(CATEGORIES)], offset=rng.choice([0, 5]))))
        else:
            out.append(("buyer", SearchQuery(buyer=rng.choice(["DND", "National Defence", "RCMP", "Elections"]),
                                             text=rng.choice(["", "services", "equipment"]))))
    return out


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def _upgrade_if_old(db_path: Path) -> None:
    """A store left by an older version is upgraded the way a refresh would (open_writer), so the benchmark times
    the current layout rather than the fallback an old file gets until its next refresh."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    if not row or int(row[0]) < SCHEMA_VERSION:
        started = time.perf_counter()
        with open_writer(db_path):
            pass
        print(f"upgraded {db_path} to schema {SCHEMA_VERSION} in {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--db", type=Path, help="an existing opportunities.db to time instead of building one")
    args = parser.parse_args(argv)
    db_path = args.db or Path(tempfile.gettempdir()) / f"bench-opportunities-{args.rows}.db"
    if not db_path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            feed = Path(tmp) / "feed.csv"
            generate(feed, args.rows)
            rows, seconds = ingest(feed, db_path)
            print(f"built {db_path} with {rows} rows in {seconds:.1f} s")
    else:
        _upgrade_if_old(db_path)
    conn = reader_connection(db_path)
    listings = conn.execute("SELECT count(*) FROM opportunities").fetchone()[0]
    open_now = conn.execute("SELECT count(*) FROM opportunities WHERE closing_ts > ?", (int(NOW.timestamp()),)).fetchone()[0]
    workload = queries(args.queries)
    for _, query in workload[:20]:  # warm the page cache, as a long-running action server would be
        search(query, NOW, db_path)
    timings: dict[str, list[float]] = {}
    totals = []
    for kind, query in workload:
        started = time.perf_counter()
        result = search(query, NOW, db_path)
        elapsed = (time.perf_counter() - started) * 1000
        timings.setdefault(kind, []).append(elapsed)
        totals.append(result.total)
    everything = [t for values in timings.values() for t in values]
    print(f"listings={listings} open_at_now={open_now} queries={len(everything)} "
          f"median_total_matches={statistics.median(totals):.0f}")
    for kind, values in [("all", everything), *sorted(timings.items())]:
        print(f"{kind:>13}: p50={percentile(values, 50):.1f} ms  p95={percentile(values, 95):.1f} ms  "
              f"p99={percentile(values, 99):.1f} ms  max={max(values):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
