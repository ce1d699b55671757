"""Every check on the knowledge folder, reported as `path:line: message` problems.

`validate` = the per-file checks done while loading (syntax, front matter, fields) + `check_knowledge`, the
checks that look across entries and files (ids, references, threshold bands, duplicate questions, dates).
`check_knowledge` is pure apart from reading the core intents' examples (`data/nlu/*.yml`) when they are not
passed in: "today" is passed in, so tests pin it.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from bot import clock, settings
from bot.knowledge.loader import Knowledge, Problem, RowOrigin, load_knowledge
from bot.knowledge.schema import TABLE_FIELDS, TABLE_FILES, key_field

THRESHOLD_TABLES = ("methods", "trade_agreements", "preferences")
# Preferences may apply to every category or buyer; methods and agreements always name one.
ANY = "any"


NLU_DIR = settings.PROJECT_ROOT / "data" / "nlu"
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class CoreExample:
    """An example of one of the assistant's own intents in data/nlu/*.yml."""

    intent: str
    text: str  # as the classifier reads it: "what's an [RFSQ](term)" -> "what's an RFSQ"
    where: str  # "data/nlu/glossary.yml:56"


def validate(knowledge_dir: Path | str, today: dt.date | None = None, nlu_dir: Path | None = None) -> list[Problem]:
    """All problems in the knowledge folder, sorted by file and line; an empty list means it is valid.

    `today` defaults to `bot.clock.today()` (Ontario's date); pass it to pin a test. `nlu_dir` holds the core
    intents' training data (default: the project's data/nlu).
    """
    knowledge, problems = load_knowledge(knowledge_dir)
    core = core_intent_examples(nlu_dir or NLU_DIR)
    return sorted(set(problems) | set(check_knowledge(knowledge, today or clock.today(), core)))


def check_knowledge(knowledge: Knowledge, today: dt.date,
                    core_examples: list[CoreExample] | None = None) -> list[Problem]:
    """The checks that look across entries: ids, references, bands, duplicates, dates against `today`.

    `core_examples` (default: read from data/nlu) are the core intents' examples a topic question must not repeat.
    """
    problems: list[Problem] = []
    problems += _check_topic_ids(knowledge)
    problems += _check_related(knowledge)
    problems += _check_duplicate_questions(knowledge)
    problems += _check_core_examples(knowledge, core_intent_examples(NLU_DIR) if core_examples is None
                                     else core_examples)
    problems += _check_row_keys(knowledge)
    problems += _check_references(knowledge)
    problems += _check_bands(knowledge)
    problems += _check_ranges(knowledge)
    problems += _check_review_dates(knowledge, today)
    return sorted(problems)


def normalize_question(text: str) -> str:
    """A question reduced for comparison: case, accents, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    without_marks = "".join(ch for ch in folded if not unicodedata.combining(ch))
    # "what's" and "whats" are the same question typed two ways: apostrophes join, other punctuation splits.
    without_marks = re.sub(r"['’`]", "", without_marks)
    return " ".join(re.findall(r"[^\W_]+", without_marks))


def _rows(knowledge: Knowledge, table: str) -> Iterator[tuple[dict[str, Any], RowOrigin]]:
    yield from zip(knowledge.tables.get(table, []), knowledge.origins.get(table, []))


def _check_topic_ids(knowledge: Knowledge) -> list[Problem]:
    problems = []
    seen: dict[str, str] = {}
    for topic in knowledge.topics:
        line = topic.field_lines.get("id", topic.line)
        stem = Path(topic.path).stem
        if topic.id != stem:
            problems.append(Problem(topic.path, line, f"id '{topic.id}' does not match the file name: rename the file "
                                                      f"to {topic.id}.md or change the id to {stem}"))
        if topic.id in seen:
            problems.append(Problem(topic.path, line, f"duplicate topic id '{topic.id}' (also in {seen[topic.id]})"))
        else:
            seen[topic.id] = topic.path
    return problems


def _check_related(knowledge: Knowledge) -> list[Problem]:
    problems = []
    ids = {t.id for t in knowledge.topics}
    ids |= {Path(rel).stem for rel in knowledge.unreadable_files if rel.startswith("topics/")}
    for topic in knowledge.topics:
        for index, related in enumerate(topic.related):
            line = topic.related_lines[index] if index < len(topic.related_lines) else topic.field_lines.get(
                "related", topic.line)
            if related == topic.id:
                problems.append(Problem(topic.path, line, f"related: '{related}' is this topic itself"))
            elif related not in ids:
                problems.append(Problem(topic.path, line, f"related: no topic with id '{related}' "
                                                          f"(there is no topics/{related}.md)"))
    return problems


def _check_duplicate_questions(knowledge: Knowledge) -> list[Problem]:
    """The classifier cannot tell two topics apart on the same example question, so each must be unique."""
    problems = []
    first_seen: dict[str, tuple[str, str, int]] = {}
    for topic in knowledge.topics:
        for index, question in enumerate(topic.questions):
            line = topic.question_lines[index] if index < len(topic.question_lines) else topic.line
            key = normalize_question(question)
            if not key:
                problems.append(Problem(topic.path, line, f"question '{question}' has no words"))
                continue
            if key in first_seen:
                other_id, other_path, other_line = first_seen[key]
                where = "earlier in this topic" if other_id == topic.id else f"in topic {other_id}"
                problems.append(Problem(topic.path, line, f"duplicate question '{question}': already "
                                                          f"{where} ({other_path}:{other_line})"))
            else:
                first_seen[key] = (topic.id, topic.path, line)
    return problems


def core_intent_examples(nlu_dir: Path) -> list[CoreExample]:
    """The examples of the intents in `nlu_dir`/*.yml (greet, search_opportunities, ...), in file order.

    A file that cannot be read or parsed is skipped: it is Rasa's training data, which `rasa data validate` and
    training report on; this only needs the examples it can read.
    """
    found: list[CoreExample] = []
    for path in sorted(Path(nlu_dir).glob("*.yml")):
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        # first line of each "- example" in the file; examples are unique within a file in practice
        lines: dict[str, int] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            lines.setdefault(raw.strip(), number)
        shown = _shown_path(path)
        items = data.get("nlu") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("intent"), str):
                continue
            for example in str(item.get("examples") or "").splitlines():
                example = example.strip()
                if example.startswith("- ") and example[2:].strip():
                    found.append(CoreExample(item["intent"], _ANNOTATION.sub(r"\1", example[2:].strip()),
                                             f"{shown}:{lines.get(example, 0)}"))
    return found


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.PROJECT_ROOT))
    except ValueError:
        return str(path)


def _check_core_examples(knowledge: Knowledge, core: list[CoreExample]) -> list[Problem]:
    """A topic question that is also a core intent's example ("hi", "show me tenders") teaches the classifier two
    answers for one message; Rasa's own data validation rejects it, so training would fail."""
    first: dict[str, CoreExample] = {}
    for example in core:
        first.setdefault(normalize_question(example.text), example)
    first.pop("", None)
    problems = []
    for topic in knowledge.topics:
        for index, question in enumerate(topic.questions):
            found = first.get(normalize_question(question))
            if found:
                line = topic.question_lines[index] if index < len(topic.question_lines) else topic.line
                problems.append(Problem(topic.path, line, f"question '{question}' is also an example of the "
                                                          f"intent {found.intent} ({found.where}); reword or remove it"))
    return problems


def _check_row_keys(knowledge: Knowledge) -> list[Problem]:
    problems = []
    for table in TABLE_FIELDS:
        key = key_field(table)
        seen: dict[str, RowOrigin] = {}
        for row, origin in _rows(knowledge, table):
            value = row.get(key)
            if value is None:
                continue
            # Glossary terms differ only in case ("RFP" vs "rfp") are the same term to a reader.
            folded = value.casefold() if table == "glossary" else value
            if folded in seen:
                first = seen[folded]
                problems.append(Problem(origin.path, origin.line_for(key), f"duplicate {key} '{value}' in table "
                                                                           f"{table} (first at {first.path}:"
                                                                           f"{first.line_for(key)})"))
            else:
                seen[folded] = origin
        if table == "checklists":
            problems += _check_step_ids(knowledge)
    return problems


def _check_step_ids(knowledge: Knowledge) -> list[Problem]:
    problems = []
    for row, origin in _rows(knowledge, "checklists"):
        step_ids = [step.get("id") for step in row.get("steps") or [] if step.get("id")]
        for step_id in {s for s in step_ids if step_ids.count(s) > 1}:
            problems.append(Problem(origin.path, origin.line_for("steps"), f"checklists '{row.get('id')}': step id "
                                                                           f"'{step_id}' is used twice"))
    return problems


def _ids(knowledge: Knowledge, table: str) -> set[str]:
    return {row["id"] for row in knowledge.tables.get(table, []) if row.get("id")}


def _check_references(knowledge: Knowledge) -> list[Problem]:
    problems = []
    buyers = _ids(knowledge, "buyer_types")
    categories = _ids(knowledge, "categories")
    if TABLE_FILES["buyer_types"] in knowledge.unreadable_files or TABLE_FILES["categories"] in \
            knowledge.unreadable_files:
        return problems
    for table in THRESHOLD_TABLES:
        for row, origin in _rows(knowledge, table):
            for field, known, source in (("buyer", buyers, "buyer_types"), ("category", categories, "categories")):
                value = row.get(field)
                if value is None or value in known or (table == "preferences" and value == ANY):
                    continue
                choices = ", ".join(sorted(known)) or "none defined"
                problems.append(Problem(origin.path, origin.line_for(field), f"{table} '{row.get('id')}': {field} "
                                                                             f"'{value}' is not an id in {source} "
                                                                             f"({choices})"))
    for row, origin in _rows(knowledge, "checklists"):
        for buyer in row.get("audience") or []:
            if buyer not in buyers:
                problems.append(Problem(origin.path, origin.line_for("audience"), f"checklists '{row.get('id')}': "
                                                                                  f"audience '{buyer}' is not an id "
                                                                                  f"in buyer_types"))
    return problems


def _check_bands(knowledge: Knowledge) -> list[Problem]:
    """Method bands for one buyer, category and effective date must tile [0, ∞) with no gap or overlap.

    Otherwise a purchase value would match no method, or two; `bot.procurement` relies on exactly one.
    """
    problems = []
    groups: dict[tuple[Any, Any, Any], list[tuple[dict[str, Any], RowOrigin]]] = defaultdict(list)
    for row, origin in _rows(knowledge, "methods"):
        if None in (row.get("buyer"), row.get("category"), row.get("effective_date"), row.get("min_value")):
            continue  # already reported as a field problem
        groups[(row["buyer"], row["category"], row["effective_date"])].append((row, origin))

    for (buyer, category, effective), members in groups.items():
        what = f"buyer {buyer}, category {category}, effective {effective}"
        members.sort(key=lambda m: (m[0]["min_value"], _upper(m[0])))
        expected: float = 0
        previous: dict[str, Any] | None = None
        for row, origin in members:
            line = origin.line_for("min_value")
            start = row["min_value"]
            if previous is None and start != 0:
                problems.append(Problem(origin.path, line, f"methods '{row['id']}': the lowest band for {what} must "
                                                           f"start at min_value 0, not {start:g}"))
            elif previous is not None and start > expected:
                problems.append(Problem(origin.path, line, f"methods '{row['id']}': gap from {expected:g} to "
                                                           f"{start:g} for {what} (band '{previous['id']}' ends at "
                                                           f"{expected:g})"))
            elif previous is not None and start < expected:
                problems.append(Problem(origin.path, line, f"methods '{row['id']}': overlaps band '{previous['id']}' "
                                                           f"for {what} ({start:g} is below its max_value "
                                                           f"{_describe_upper(expected)})"))
            expected = max(expected, _upper(row))
            previous = row
    return problems


def _upper(row: dict[str, Any]) -> float:
    return float("inf") if row.get("max_value") is None else row["max_value"]


def _describe_upper(value: float) -> str:
    return "(no upper limit)" if value == float("inf") else f"{value:g}"


def _check_ranges(knowledge: Knowledge) -> list[Problem]:
    problems = []
    for table in ("methods", "preferences"):
        for row, origin in _rows(knowledge, table):
            low, high = row.get("min_value"), row.get("max_value")
            if low is not None and high is not None and not low < high:
                problems.append(Problem(origin.path, origin.line_for("max_value"), f"{table} '{row.get('id')}': "
                                                                                   f"max_value {high:g} must be "
                                                                                   f"greater than min_value {low:g}"))
    for row, origin in _rows(knowledge, "business_size"):
        low, high = row.get("min_employees"), row.get("max_employees")
        if low is not None and high is not None and low > high:
            problems.append(Problem(origin.path, origin.line_for("max_employees"), f"business_size '{row.get('id')}'"
                                                                                   f": max_employees {high} is below "
                                                                                   f"min_employees {low}"))
    for row, origin in _rows(knowledge, "events"):
        starts, ends = row.get("starts"), row.get("ends")
        if starts is not None and ends is not None and ends < starts:
            problems.append(Problem(origin.path, origin.line_for("ends"), f"events '{row.get('id')}': ends "
                                                                          f"{ends.isoformat()} is before starts "
                                                                          f"{starts.isoformat()}"))
    return problems


def _check_review_dates(knowledge: Knowledge, today: dt.date) -> list[Problem]:
    """A review date in the future is a typo (often the year) and would hide an overdue entry."""
    problems = []
    for topic in knowledge.topics:
        if topic.last_reviewed is not None and topic.last_reviewed > today:
            problems.append(Problem(topic.path, topic.field_lines.get("last_reviewed", topic.line),
                                    f"last_reviewed {topic.last_reviewed.isoformat()} is in the future "
                                    f"(today is {today.isoformat()})"))
    for table in TABLE_FIELDS:
        for row, origin in _rows(knowledge, table):
            reviewed = row.get("last_reviewed")
            if reviewed is not None and reviewed > today:
                problems.append(Problem(origin.path, origin.line_for("last_reviewed"),
                                        f"{table} '{row.get(key_field(table))}': last_reviewed "
                                        f"{reviewed.isoformat()} is in the future (today is {today.isoformat()})"))
    return problems
