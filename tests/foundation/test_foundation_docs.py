"""The README documents every setting, make target and CLI command that exists — and nothing that doesn't."""
from __future__ import annotations

import argparse
import re

from bot import settings
from bot.cli import build_parser

README = (settings.PROJECT_ROOT / "README.md").read_text()
MAKEFILE = (settings.PROJECT_ROOT / "Makefile").read_text()


def _section(name: str) -> str:
    return README.split(f"<!-- {name}:start -->")[1].split(f"<!-- {name}:end -->")[0]


def test_settings_table_matches_the_settings_list():
    rows = re.findall(r"^\| `([A-Z_0-9]+)` \| `([^`]*)` \| (.+) \|$", _section("settings"), re.M)
    documented = [(name, default, text) for name, default, text in rows]
    expected = [(s.name, s.default, s.help) for s in settings.SETTINGS]
    assert documented == expected


def test_make_targets_table_matches_the_makefile():
    targets = re.findall(r"^([a-z-]+):.*## (.+)$", MAKEFILE, re.M)
    rows = re.findall(r"^\| `make ([a-z-]+)` \| (.+) \|$", _section("make-help"), re.M)
    assert rows == targets


def test_every_cli_command_is_documented_and_every_documented_command_exists():
    parser = build_parser()
    commands: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                if nested:
                    commands.update(f"{name} {child}" for child in nested[0].choices)
                else:
                    commands.add(name)
    documented = {re.sub(r" \[.*|\s+[A-Z]+$", "", row) for row in
                  re.findall(r"^\| `python -m bot ([a-z -]+(?: TEXT)?(?: \[[^`]*\])?)` \|", _section("cli"), re.M)}
    documented = {d.strip() for d in documented}
    assert documented == commands


def test_ci_runs_exactly_the_readme_test_command():
    ci = (settings.PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in README
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == ["make test"]
