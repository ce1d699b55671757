"""The `python -m bot` command line.

Each feature package contributes its commands through a `register(subparsers)` function in its own
`cli.py`; a command's handler takes the parsed arguments and returns the exit code
(0 success, 1 a reported problem; argparse itself exits 2 on bad usage).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

COMMAND_MODULES = (
    "bot.services",
    "bot.knowledge.cli",
    "bot.opportunities.cli",
    "bot.alerts.cli",
    "bot.cluster",
    "bot.staff.auth",
    "bot.staff.cli",
    "bot.privacy",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Supplier Navigator command line.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
