"""The staff guide (knowledge/README.md) documents every table, field, command and check the code has."""
from __future__ import annotations

import re

import pytest

from bot.knowledge.schema import STEP_FIELDS, TABLE_FIELDS, TABLE_FILES, TOPIC_FIELDS
from bot.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "knowledge" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("section", ["## What the validator checks", "## How to see your change live",
                                     "## How to add a topic", "## How to change a threshold",
                                     "## How to add an event"])
def test_guide_has_section(section: str) -> None:
    assert re.search(rf"^{re.escape(section)}\s*$", README, re.MULTILINE), section


@pytest.mark.parametrize("table", sorted(TABLE_FIELDS))
def test_every_table_and_its_file_are_documented(table: str) -> None:
    assert f"{table}:" in README, table
    assert TABLE_FILES[table] in README or TABLE_FILES[table].removeprefix("tables/") in README


@pytest.mark.parametrize("name", sorted({f.name for fields in (*TABLE_FIELDS.values(), TOPIC_FIELDS, STEP_FIELDS)
                                         for f in fields}))
def test_every_field_name_is_documented(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", README), name


@pytest.mark.parametrize("command", ["python -m bot knowledge validate", "python -m bot knowledge build",
                                     "python -m bot knowledge status"])
def test_commands_are_documented(command: str) -> None:
    assert command in README
