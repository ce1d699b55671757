"""Ingest benchmark: 100,000 CanadaBuys-format rows built from the real sample's shapes.

    python -m bench.bench_ingest [--rows 100000]

Prints rows/s, total seconds and peak RSS; then repeats the ingest at a fifth of the size in a fresh process,
so the two peaks show whether memory grows with the file (it should not: the parse streams).
Each run loads into an empty store: a first refresh, whose full-text indexes are built in one pass at the end
(store.load's bulk path) rather than row by row.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot import settings

SAMPLE = settings.PROJECT_ROOT / "bot" / "opportunities" / "snapshot" / "newTenderNotice-nouvelAvisAppelOffres.2025-12-30.csv"
BASE = dt.datetime(2026, 1, 1, 9, 0)

EXTRA_TITLE_WORDS = (
    "snow removal janitorial cleaning security guard services software licence cloud hosting network "
    "bridge rehabilitation road resurfacing paving HVAC maintenance roofing furniture laptops vehicles "
    "translation training consulting engineering design audit printing courier catering laboratory "
    "equipment medical supplies uniforms fuel diesel generator electrical plumbing landscaping"
).split()
REGIONS = ("*Ontario (except NCR)", "*National Capital Region (NCR)", "*Canada", "*Quebec", "*British Columbia",
           "*Alberta", "*Manitoba", "*Nova Scotia", "*World", "*Yukon", "*Saskatchewan")
CATEGORIES = ("*SRV", "*GD", "*CNST", "*SRV\n*GD")


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write `rows` CanadaBuys-dialect records (BOM, all quoted, CRLF, multi-line cells) varied from the sample."""
    with open(SAMPLE, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        templates = list(reader)
    col = {name: i for i, name in enumerate(header)}
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(header)
        for n in range(rows):
            row = list(templates[n % len(templates)])
            words = rng.sample(EXTRA_TITLE_WORDS, 3)
            row[col["title-titre-eng"]] = f"{row[col['title-titre-eng']][:60]} – {' '.join(words)} #{n}"
            row[col["referenceNumber-numeroReference"]] = f"cb-bench-{n}"
            row[col["solicitationNumber-numeroSollicitation"]] = f"B{n:07d}"
            closing = BASE + dt.timedelta(minutes=rng.randrange(-30 * 24 * 60, 180 * 24 * 60))
            row[col["tenderClosingDate-appelOffresDateCloture"]] = closing.strftime("%Y-%m-%dT%H:%M:%S")
            row[col["regionsOfDelivery-regionsLivraison-eng"]] = "\n".join(rng.sample(REGIONS, rng.randint(1, 3)))
            row[col["procurementCategory-categorieApprovisionnement"]] = rng.choice(CATEGORIES)
            row[col["tenderDescription-descriptionAppelOffres-eng"]] += "\r\n" + " ".join(
                rng.choice(EXTRA_TITLE_WORDS) for _ in range(20))
            writer.writerow(row)


def ingest(feed: Path, db_path: Path) -> tuple[int, float]:
    from bot.opportunities.refresh import SourceConfig, load_file

    started = time.perf_counter()
    outcome = load_file(feed, SourceConfig(name="canadabuys", format="canadabuys"),
                        now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), db_path=db_path)
    elapsed = time.perf_counter() - started
    if not outcome.ok:
        raise SystemExit(f"ingest failed: {outcome.message}")
    return outcome.rows, elapsed


def _child(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.csv"
        generate(feed, rows)
        before = peak_rss_mib()
        loaded, elapsed = ingest(feed, Path(tmp) / "opportunities.db")
        size = feed.stat().st_size / 1024 / 1024
        db_size = (Path(tmp) / "opportunities.db").stat().st_size / 1024 / 1024
        print(f"rows={loaded} feed_mib={size:.1f} db_mib={db_size:.1f} seconds={elapsed:.1f} "
              f"rows_per_s={loaded / elapsed:.0f} peak_rss_before_ingest_mib={before:.0f} "
              f"peak_rss_mib={peak_rss_mib():.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.rows)
        return 0
    for rows in (args.rows, max(1, args.rows // 5)):
        result = subprocess.run([sys.executable, "-m", "bench.bench_ingest", "--child", "--rows", str(rows)],
                                cwd=settings.PROJECT_ROOT, capture_output=True, text=True, check=False)
        sys.stdout.write(result.stdout)
        if result.returncode:
            sys.stderr.write(result.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
