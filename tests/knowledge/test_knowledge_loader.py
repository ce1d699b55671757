"""The loader keeps file line numbers for every field, splits answers from next steps, and returns plain values."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.knowledge.loader import content_fingerprint, knowledge_files, load_knowledge
from bot.knowledge.yamllines import LineDict, parse_yaml
from knowledge_helpers import line_number, replace_in


def test_topic_fields_know_their_file_lines(knowledge_dir: Path) -> None:
    knowledge, problems = load_knowledge(knowledge_dir)
    assert problems == []
    topic = knowledge.topic("vor-types")
    path = knowledge_dir / "topics" / "vor-types.md"
    assert topic is not None and topic.path == "topics/vor-types.md"
    # Front matter starts on line 2 of the file; the lines must be the file's, not the YAML block's.
    assert topic.field_lines["id"] == 2
    assert topic.field_lines["last_reviewed"] == line_number(path, "last_reviewed:")
    assert topic.question_lines == [line_number(path, f"  - {q}") for q in topic.questions]


def test_topic_values_and_body_split(knowledge_dir: Path) -> None:
    knowledge, _ = load_knowledge(knowledge_dir)
    topic = knowledge.topic("register-ontario")
    assert topic is not None
    assert topic.title == "How do I register to sell to Ontario ministries?"
    assert topic.last_reviewed == dt.date(2026, 11, 1) and topic.review_every_days == 180
    assert topic.related == ["vor-what-is", "vor-types"]
    assert topic.sources[0].url == "https://www.ontario.ca/page/vendor-record-arrangements"
    assert topic.answer.startswith("Create a free account") and "Next steps" not in topic.answer
    # A continuation line of a bullet joins its item.
    assert topic.next_steps == ["Register on the Ontario Tenders Portal.",
                                "Watch for the next call for qualifications."]
    assert "## Next steps" in topic.body


def test_table_rows_are_plain_values_with_origins(knowledge_dir: Path) -> None:
    knowledge, _ = load_knowledge(knowledge_dir)
    methods = knowledge.tables["methods"]
    assert [row["id"] for row in methods] == ["ops-goods-invitational", "ops-goods-open"]
    assert type(methods[0]) is dict and type(methods[0]["source"]) is dict
    assert methods[0]["effective_date"] == dt.date(2024, 1, 1)
    assert methods[1]["max_value"] is None  # optional fields are present as None
    event = knowledge.tables["events"][0]
    assert event["starts"] == dt.datetime(2027, 1, 14, 15, 0, tzinfo=dt.timezone.utc)
    assert event["starts"].utcoffset() == dt.timedelta(hours=-5)
    origin = knowledge.origins["methods"][1]
    thresholds = knowledge_dir / "tables" / "thresholds.yml"
    assert origin.path == "tables/thresholds.yml"
    assert origin.line == line_number(thresholds, "id: ops-goods-open")
    assert origin.line_for("method") == line_number(thresholds, "method: Open competitive")


def test_checklist_steps_keep_order_and_optional_fields(knowledge_dir: Path) -> None:
    knowledge, _ = load_knowledge(knowledge_dir)
    steps = knowledge.tables["checklists"][0]["steps"]
    assert [s["id"] for s in steps] == ["account", "profile"]
    assert steps[1]["why"] is None and steps[1]["url"] is None


def test_parse_yaml_lines_are_offset_to_the_file() -> None:
    data, issues = parse_yaml("a: 1\nb:\n  - x\n  - {c: 2}\n", line_offset=10)
    assert issues == []
    assert isinstance(data, LineDict) and data.line == 11
    assert data.key_lines == {"a": 11, "b": 12}
    assert data["b"].item_lines == [13, 14]
    assert data["b"][1].line == 14


def test_a_single_string_is_accepted_where_a_list_is_expected(knowledge_dir: Path) -> None:
    replace_in(knowledge_dir / "topics" / "vor-types.md", "tags: [vor]", "tags: vor")
    knowledge, problems = load_knowledge(knowledge_dir)
    assert problems == []
    assert knowledge.topic("vor-types").tags == ["vor"]  # type: ignore[union-attr]


def test_content_fingerprint_tracks_every_knowledge_file(knowledge_dir: Path) -> None:
    before = content_fingerprint(knowledge_dir)
    knowledge, _ = load_knowledge(knowledge_dir)
    assert knowledge.content_sha256 == before
    (knowledge_dir / "README.md").write_text("staff guide", encoding="utf-8")  # not knowledge: no change
    assert content_fingerprint(knowledge_dir) == before
    replace_in(knowledge_dir / "tables" / "glossary.yml", "Request for Proposal", "Request For Proposal")
    assert content_fingerprint(knowledge_dir) != before
    assert len(knowledge_files(knowledge_dir)) == 14
