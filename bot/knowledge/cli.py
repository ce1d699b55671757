"""`python -m bot knowledge validate|build|status`: the staff's commands for the knowledge folder.

Handlers return the exit code: 0 success, 1 problems found (printed as `path:line: message`), 2 bad usage.
This is the program's edge, so it is where "today" and the settings are read and passed inward.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, Iterable

from bot import clock, settings
from bot.knowledge.build import KnowledgeBuildError, build, ensure_built, stored_meta
from bot.knowledge.freshness import DUE_SOON_DAYS, freshness, review_due
from bot.knowledge.loader import Knowledge, Problem, load_knowledge
from bot.knowledge.schema import TABLE_FIELDS, key_field
from bot.knowledge.store import DB_FILENAME
from bot.knowledge.training import questions_fingerprint
from bot.knowledge.validate import check_knowledge

__all__ = ["register", "ensure_built", "retrain_note"]

RETRAIN_NOTE = ("note: training questions changed since the last trained model — retrain with `make train` "
                "(or `make run`)")


def register(subparsers: Any) -> None:
    """Add the `knowledge` command and its subcommands to the `python -m bot` parser."""
    parser = subparsers.add_parser("knowledge", help="validate, build and check the freshness of knowledge/",
                                   description="Work with the staff-edited knowledge files.")
    commands = parser.add_subparsers(dest="knowledge_command", metavar="SUBCOMMAND")
    commands.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--knowledge-dir", type=Path, default=None,
                        help="knowledge folder to use (default: the KNOWLEDGE_DIR setting)")
    common.add_argument("--today", type=_date_arg, default=None,
                        help="pretend today is YYYY-MM-DD (for checking review dates)")

    validate = commands.add_parser("validate", parents=[common], help="check every knowledge file; list problems",
                                   description="Check every knowledge file and print each problem as "
                                               "path:line: message.")
    validate.set_defaults(handler=run_validate)

    build_parser = commands.add_parser("build", parents=[common], help="validate, then build knowledge.db",
                                       description="Validate, then build knowledge.db atomically; on problems "
                                                   "the previous store is left untouched.")
    build_parser.add_argument("--db", type=Path, default=None,
                              help=f"where to write the store (default: DATA_DIR/{DB_FILENAME})")
    build_parser.add_argument("--if-changed", action="store_true",
                              help="do nothing when the store was already built from these exact files")
    build_parser.set_defaults(handler=run_build)

    status = commands.add_parser("status", parents=[common], help="review status of every topic and table row",
                                 description="Show when each entry was last reviewed and whether a review is due.")
    status.add_argument("--due-soon-days", type=int, default=DUE_SOON_DAYS,
                        help=f"days before the due date that count as 'due soon' (default {DUE_SOON_DAYS})")
    status.add_argument("--overdue-only", action="store_true", help="list only overdue entries")
    status.set_defaults(handler=run_status)


def _date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _knowledge_dir(args: argparse.Namespace) -> Path | None:
    directory = args.knowledge_dir or settings.path("KNOWLEDGE_DIR")
    if not Path(directory).is_dir():
        print(f"knowledge folder not found: {directory}", file=sys.stderr)
        return None
    return Path(directory)


def _today(args: argparse.Namespace) -> dt.date:
    return args.today or clock.today()


def _display_root(knowledge_dir: Path) -> str:
    """The knowledge folder as the user should see it: relative to the current directory when inside it."""
    absolute = knowledge_dir.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _print_problems(problems: Iterable[Problem], knowledge_dir: Path) -> int:
    root = _display_root(knowledge_dir)
    count = 0
    for problem in problems:
        print(f"{root}/{problem}")
        count += 1
    return count


def _summary(knowledge: Knowledge) -> str:
    return (f"{len(knowledge.topics)} topics, {knowledge.question_count} questions, "
            f"{len(knowledge.tables)} tables ({knowledge.row_count} rows)")


def retrain_note(knowledge: Knowledge) -> str | None:
    """The retraining note when DATA_DIR/models/latest.json was trained on other questions, else None."""
    latest = settings.path("DATA_DIR") / "models" / "latest.json"
    if not latest.is_file():
        return None  # no trained model yet: `make run` trains one anyway
    try:
        trained = json.loads(latest.read_text(encoding="utf-8")).get("questions_sha256")
    except (OSError, ValueError, AttributeError):
        trained = None
    return None if trained == questions_fingerprint(knowledge.topics) else RETRAIN_NOTE


def run_validate(args: argparse.Namespace) -> int:
    """`knowledge validate`: print each problem and exit 1, or one summary line and exit 0."""
    knowledge_dir = _knowledge_dir(args)
    if knowledge_dir is None:
        return 2
    knowledge, problems = load_knowledge(knowledge_dir)
    problems = sorted(set(problems) | set(check_knowledge(knowledge, _today(args))))
    if problems:
        count = _print_problems(problems, knowledge_dir)
        print(f"{count} problem(s) in {_display_root(knowledge_dir)}", file=sys.stderr)
        return 1
    print(f"knowledge OK: {_summary(knowledge)}")
    note = retrain_note(knowledge)
    if note:
        print(note)
    return 0


def run_build(args: argparse.Namespace) -> int:
    """`knowledge build`: validate, then swap in a new knowledge.db; on problems leave the old one and exit 1."""
    knowledge_dir = _knowledge_dir(args)
    if knowledge_dir is None:
        return 2
    db_path = args.db or settings.data_dir() / DB_FILENAME
    try:
        if args.if_changed and not ensure_built(knowledge_dir, db_path, today=_today(args)):
            print(f"knowledge store is up to date: {db_path}")
            return 0
        if not args.if_changed:
            build(knowledge_dir, db_path, today=_today(args))
    except KnowledgeBuildError as error:
        count = _print_problems(error.problems, knowledge_dir)
        print(f"{count} problem(s); the knowledge store was not changed: {db_path}", file=sys.stderr)
        return 1
    meta = stored_meta(db_path) or {}
    knowledge, _ = load_knowledge(knowledge_dir)
    print(f"knowledge store built: {_summary(knowledge)} -> {db_path} "
          f"(running assistants pick it up on their next answer)")
    if meta.get("content_sha256") != knowledge.content_sha256:
        # Someone edited a file while we built: say so rather than claim the store matches the files.
        print("note: a knowledge file changed during the build; run the build again", file=sys.stderr)
    note = retrain_note(knowledge)
    if note:
        print(note)
    return 0


def run_status(args: argparse.Namespace) -> int:
    """`knowledge status`: each entry's last review, interval and status, most urgent first."""
    knowledge_dir = _knowledge_dir(args)
    if knowledge_dir is None:
        return 2
    today = _today(args)
    knowledge, problems = load_knowledge(knowledge_dir)
    entries = sorted(_review_entries(knowledge), key=lambda e: (review_due(e[2], e[3]), e[0], e[1]))
    counts = {"overdue": 0, "due_soon": 0, "current": 0}
    lines = []
    for kind, entry_id, reviewed, every in entries:
        status = freshness(reviewed, every, today, due_soon_days=args.due_soon_days)
        counts[status] += 1
        if args.overdue_only and status != "overdue":
            continue
        shown = "OVERDUE" if status == "overdue" else status
        lines.append((f"{kind}:{entry_id}", reviewed.isoformat(), f"{every}d",
                      review_due(reviewed, every).isoformat(), shown))
    header = ("ENTRY", "LAST REVIEWED", "EVERY", "DUE", "STATUS")
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, *lines]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"{counts['overdue']} overdue, {counts['due_soon']} due soon, {counts['current']} current "
          f"(today {today.isoformat()})")
    if problems:
        print(f"{len(problems)} problem(s) in the files; run `python -m bot knowledge validate`", file=sys.stderr)
        return 1
    return 0


def _review_entries(knowledge: Knowledge) -> Iterable[tuple[str, str, dt.date, int]]:
    for topic in knowledge.topics:
        if topic.last_reviewed is not None and topic.review_every_days is not None:
            yield "topic", topic.id, topic.last_reviewed, topic.review_every_days
    for table in TABLE_FIELDS:
        for row in knowledge.tables.get(table, []):
            if row.get("last_reviewed") is not None and row.get("review_every_days") is not None:
                yield table, str(row.get(key_field(table))), row["last_reviewed"], row["review_every_days"]


if __name__ == "__main__":  # pragma: no cover - convenience: python -m bot.knowledge.cli validate
    from bot.cli import main

    sys.exit(main(["knowledge", *sys.argv[1:]]))
