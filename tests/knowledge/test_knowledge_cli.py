"""`python -m bot knowledge …`: output formats and exit codes 0 (ok), 1 (problems), 2 (bad usage)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

import pytest

import bot.cli
from bot.knowledge.loader import load_knowledge
from bot.knowledge.training import questions_fingerprint
from knowledge_helpers import TODAY, line_number, replace_in

Main = Callable[[Sequence[str]], int]


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Main:
    """bot.cli.main with only the knowledge commands registered, so other features cannot break these tests."""
    monkeypatch.setattr(bot.cli, "COMMAND_MODULES", ("bot.knowledge.cli",))
    return bot.cli.main


def _args(command: str, knowledge_dir: Path, *extra: str) -> list[str]:
    return ["knowledge", command, "--knowledge-dir", str(knowledge_dir), "--today", TODAY.isoformat(), *extra]


def test_knowledge_commands_are_registered_in_the_real_cli() -> None:
    assert "bot.knowledge.cli" in bot.cli.COMMAND_MODULES


def test_validate_ok_prints_one_summary_line(main: Main, knowledge_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args("validate", knowledge_dir)) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["knowledge OK: 3 topics, 25 questions, 13 tables (16 rows)"]


def test_validate_prints_each_problem_and_exits_1(main: Main, knowledge_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(knowledge_dir / "tables" / "events.yml", "format: online", "format: webinar")
    replace_in(knowledge_dir / "topics" / "vor-types.md", "last_reviewed: 2026-11-01", "last_reviewed: 2026-11-31")
    monkeypatch.chdir(tmp_path)  # paths print relative to the working directory, ready to click

    assert main(_args("validate", knowledge_dir)) == 1

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    events_line = line_number(knowledge_dir / "tables" / "events.yml", "format: webinar")
    topic_line = line_number(knowledge_dir / "topics" / "vor-types.md", "last_reviewed:")
    assert lines[0].startswith(f"knowledge/tables/events.yml:{events_line}: ")
    assert lines[1].startswith(f"knowledge/topics/vor-types.md:{topic_line}: ")


def test_bad_usage_exits_2(main: Main, knowledge_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["knowledge"], ["knowledge", "frobnicate"], ["knowledge", "validate", "--today", "yesterday"],
                 ["knowledge", "build", "--no-such-flag"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
    assert main(["knowledge", "validate", "--knowledge-dir", str(knowledge_dir / "missing")]) == 2
    assert "knowledge folder not found" in capsys.readouterr().err


def test_build_writes_to_the_data_dir_by_default(main: Main, knowledge_dir: Path, data_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args("build", knowledge_dir)) == 0
    assert (data_dir / "knowledge.db").is_file()
    assert "3 topics, 25 questions" in capsys.readouterr().out


def test_build_with_problems_exits_1_and_keeps_the_old_store(main: Main, knowledge_dir: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "elsewhere" / "k.db"
    assert main(_args("build", knowledge_dir, "--db", str(db_path))) == 0
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    replace_in(knowledge_dir / "topics" / "vor-what-is.md", "related: [vor-types]", "related: [nope]")
    capsys.readouterr()

    assert main(_args("build", knowledge_dir, "--db", str(db_path))) == 1

    captured = capsys.readouterr()
    assert "topics/vor-what-is.md:" in captured.out and "no topic with id 'nope'" in captured.out
    assert "not changed" in captured.err
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_build_if_changed_skips_an_up_to_date_store(main: Main, knowledge_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "k.db"
    assert main(_args("build", knowledge_dir, "--db", str(db_path), "--if-changed")) == 0
    assert "built" in capsys.readouterr().out
    assert main(_args("build", knowledge_dir, "--db", str(db_path), "--if-changed")) == 0
    assert "up to date" in capsys.readouterr().out


def _write_latest(data_dir: Path, questions_sha256: str) -> None:
    (data_dir / "models").mkdir(exist_ok=True)
    (data_dir / "models" / "latest.json").write_text(json.dumps({"questions_sha256": questions_sha256}))


def test_validate_says_when_retraining_is_needed(main: Main, knowledge_dir: Path, data_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args("validate", knowledge_dir)) == 0
    assert "retrain" not in capsys.readouterr().out  # no trained model yet: nothing to say

    knowledge, _ = load_knowledge(knowledge_dir)
    _write_latest(data_dir, questions_fingerprint(knowledge.topics))
    assert main(_args("validate", knowledge_dir)) == 0
    assert "retrain" not in capsys.readouterr().out  # model trained on these very questions

    replace_in(knowledge_dir / "topics" / "vor-types.md", "  - are all vors the same", "  - are all VORs alike")
    assert main(_args("validate", knowledge_dir)) == 0  # a note, not an error
    out = capsys.readouterr().out
    assert "training questions changed since the last trained model" in out and "make train" in out


def test_status_flags_overdue_entries(main: Main, knowledge_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(knowledge_dir / "topics" / "vor-types.md", "last_reviewed: 2026-11-01", "last_reviewed: 2025-01-01")
    assert main(_args("status", knowledge_dir)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ENTRY", "LAST", "REVIEWED", "EVERY", "DUE", "STATUS"]
    assert lines[1].split() == ["topic:vor-types", "2025-01-01", "180d", "2025-06-30", "OVERDUE"]  # most urgent first
    assert lines[-1] == "1 overdue, 0 due soon, 18 current (today 2026-11-26)"

    assert main(_args("status", knowledge_dir, "--overdue-only")) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # header, the overdue entry, the totals


def test_status_on_broken_files_exits_1(main: Main, knowledge_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(knowledge_dir / "tables" / "glossary.yml", "glossary:", "glossary: [")
    assert main(_args("status", knowledge_dir)) == 1
    assert "validate" in capsys.readouterr().err


def test_validate_default_dir_comes_from_settings(main: Main, knowledge_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KNOWLEDGE_DIR", str(knowledge_dir))
    assert main(["knowledge", "validate", "--today", TODAY.isoformat()]) == 0
    assert capsys.readouterr().out.startswith("knowledge OK: 3 topics")


def test_ensure_built_is_offered_by_the_cli_module(knowledge_dir: Path, tmp_path: Path) -> None:
    from bot.knowledge.cli import ensure_built

    assert ensure_built(knowledge_dir, tmp_path / "k.db", today=TODAY) is True
    assert ensure_built(knowledge_dir, tmp_path / "k.db", today=TODAY) is False
