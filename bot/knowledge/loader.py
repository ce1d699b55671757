"""Read the knowledge folder into Python objects, reporting every file mistake as `path:line: message`.

`load_knowledge` never raises for a content mistake: a broken file becomes a `Problem` and the rest still loads,
so staff see all their mistakes in one run. Cross-file checks (ids, references, threshold bands) are in
`validate.py`; this module checks each file on its own (syntax, front matter, fields and their types).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from bot.knowledge.schema import (
    TABLE_FIELDS,
    TABLE_FILES,
    TOPIC_FIELDS,
    TOPIC_ID_RE,
    Issue,
    check_record,
    key_field,
    plain_steps,
)
from bot.knowledge.yamllines import BadScalar, YamlSyntaxError, line_of, parse_yaml, to_plain

TOPICS_DIR = "topics"
TABLES_DIR = "tables"
TABLE_SUFFIXES = (".yml", ".yaml")

_NEXT_STEPS_RE = re.compile(r"^#{1,6}\s*next\s+steps\s*:?\s*$", re.IGNORECASE)
_HEADING_RE = re.compile(r"^#{1,6}\s")
_BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)\s*$")


@dataclass(frozen=True, order=True)
class Problem:
    """A mistake in a knowledge file: `path` is relative to the knowledge folder, `line` is 1-based."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: a web page and its human-readable title."""

    url: str
    title: str


@dataclass
class Topic:
    """One topic file: front matter fields, the answer split from its "Next steps", and where it came from.

    A topic whose front matter has mistakes is still loaded (with None or empty values for the bad fields) so
    the validator can report cross-file problems too; `build` never stores such a topic.
    """

    id: str
    title: str
    jurisdiction: str
    audience: list[str]
    questions: list[str]
    sources: list[Source]
    last_reviewed: dt.date | None
    review_every_days: int | None
    related: list[str]
    tags: list[str]
    body: str
    answer: str
    next_steps: list[str]
    path: str
    line: int
    field_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    question_lines: list[int] = field(default_factory=list, repr=False, compare=False)
    related_lines: list[int] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class RowOrigin:
    """Where a table row was written: its file, the line the row starts on, and the line of each field."""

    path: str
    line: int
    key_lines: dict[str, int]

    def line_for(self, key: str) -> int:
        """The line of field `key`, or the row's first line when the field is missing."""
        return self.key_lines.get(key, self.line)


@dataclass
class Knowledge:
    """Everything loaded from a knowledge folder.

    `tables` maps a table name to its rows as plain dicts (every schema field present, missing optional fields
    as None, dates as date/datetime); `origins` is parallel to `tables` and says where each row was written.
    """

    topics: list[Topic] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    origins: dict[str, list[RowOrigin]] = field(default_factory=dict)
    content_sha256: str = ""
    # Files that could not be read at all: their problems are already reported, and cross-checks skip what
    # they would have defined so one syntax error does not also show up as a dozen "unknown id" problems.
    unreadable_files: set[str] = field(default_factory=set)

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, or None."""
        return next((t for t in self.topics if t.id == topic_id), None)

    @property
    def question_count(self) -> int:
        """Example questions over all topics."""
        return sum(len(t.questions) for t in self.topics)

    @property
    def row_count(self) -> int:
        """Rows over all tables."""
        return sum(len(rows) for rows in self.tables.values())


def knowledge_files(knowledge_dir: Path) -> list[Path]:
    """The files that make up the knowledge: topics/*.md and tables/*.yml, minus drafts.

    Names starting with "_" or "." are skipped so staff can keep a template or a draft next to the real files.
    """
    found: list[Path] = []
    for folder, suffixes in ((TOPICS_DIR, (".md",)), (TABLES_DIR, TABLE_SUFFIXES)):
        directory = knowledge_dir / folder
        if directory.is_dir():
            found.extend(
                p for p in directory.iterdir()
                if p.is_file() and p.suffix in suffixes and not p.name.startswith(("_", "."))
            )
    return sorted(found, key=lambda p: p.relative_to(knowledge_dir).as_posix())


def content_fingerprint(knowledge_dir: Path) -> str:
    """sha256 over the names and bytes of the knowledge files; changes whenever any of them changes."""
    knowledge_dir = Path(knowledge_dir)
    return _fingerprint((p.relative_to(knowledge_dir).as_posix(), p.read_bytes()) for p in knowledge_files(knowledge_dir))


def _fingerprint(files: Iterable[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in files:
        # Length-prefixing keeps ("a", "bc") and ("ab", "c") from hashing alike.
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def load_knowledge(knowledge_dir: Path | str) -> tuple[Knowledge, list[Problem]]:
    """Load every topic and table file under `knowledge_dir`; return what loaded and the problems found."""
    knowledge_dir = Path(knowledge_dir)
    knowledge = Knowledge(tables={name: [] for name in TABLE_FIELDS}, origins={name: [] for name in TABLE_FIELDS})
    problems: list[Problem] = []
    if not knowledge_dir.is_dir():
        return knowledge, [Problem(str(knowledge_dir), 1, "knowledge folder not found")]
    for folder in (TOPICS_DIR, TABLES_DIR):
        if not (knowledge_dir / folder).is_dir():
            problems.append(Problem(f"{folder}/", 1, f"folder '{folder}' is missing"))

    files = [(p.relative_to(knowledge_dir).as_posix(), p.read_bytes()) for p in knowledge_files(knowledge_dir)]
    knowledge.content_sha256 = _fingerprint(files)
    defined_in: dict[str, str] = {}
    unreadable = knowledge.unreadable_files
    for rel, data in files:
        text = _decode(rel, data, problems)
        if text is None:
            unreadable.add(rel)
            continue
        if rel.startswith(TOPICS_DIR + "/"):
            topic = _load_topic(rel, text, problems)
            if topic is None:
                unreadable.add(rel)
            else:
                knowledge.topics.append(topic)
        elif not _load_tables(rel, text, knowledge, defined_in, problems):
            unreadable.add(rel)

    for table, expected in TABLE_FILES.items():
        if table not in defined_in and expected not in unreadable:
            problems.append(Problem(expected, 1, f"table '{table}' is missing: add '{table}:' with a list of rows"))
    knowledge.topics.sort(key=lambda t: t.id)
    return knowledge, sorted(set(problems))


def _decode(rel: str, data: bytes, problems: list[Problem]) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(Problem(rel, line, "the file is not UTF-8 text; save it as UTF-8"))
        return None
    # YAML counts "\r\n" as one line break; normalizing keeps our line numbers the same as the parser's.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _issues_to_problems(rel: str, issues: Iterable[Any], problems: list[Problem]) -> None:
    problems.extend(Problem(rel, issue.line, issue.message) for issue in issues)


# ---------------------------------------------------------------------------------------------------------
# Topics


def _load_topic(rel: str, text: str, problems: list[Problem]) -> Topic | None:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.append(Problem(rel, 1, "missing front matter: the file must start with a line '---', then the "
                                        "fields (id, title, questions, ...), then another line '---'"))
        return None
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if close is None:
        problems.append(Problem(rel, 1, "front matter is not closed: add a line '---' after the last field"))
        return None
    try:
        # Front matter text starts on file line 2, so parser line 0 is file line 2: offset 1.
        data, yaml_issues = parse_yaml("\n".join(lines[1:close]), line_offset=1)
    except YamlSyntaxError as error:
        problems.append(Problem(rel, error.line, error.message))
        return None
    _issues_to_problems(rel, yaml_issues, problems)
    if data is None:
        problems.append(Problem(rel, 2, "front matter is empty"))
        return None

    issues: list[Issue] = []
    stem = Path(rel).stem
    label = f"topic {data.get('id', stem) if isinstance(data, dict) else stem}"
    values = check_record(data, TOPIC_FIELDS, label=label, line=2, issues=issues)
    _issues_to_problems(rel, issues, problems)
    if values is None:
        return None

    body = "\n".join(lines[close + 1:])
    body_line = close + 2
    answer, next_steps = _split_body(rel, body, body_line, problems)
    return Topic(
        id=values["id"] or stem,
        title=values["title"] or "",
        jurisdiction=values["jurisdiction"] or "",
        audience=values["audience"] or [],
        questions=values["questions"] or [],
        sources=[Source(url=s["url"] or "", title=s["title"] or "") for s in values["sources"] or []],
        last_reviewed=values["last_reviewed"],
        review_every_days=values["review_every_days"],
        related=values["related"] or [],
        tags=values["tags"] or [],
        body=body.strip(),
        answer=answer,
        next_steps=next_steps,
        path=rel,
        line=line_of(data, 2),
        field_lines=dict(getattr(data, "key_lines", {})),
        question_lines=_item_lines(data.get("questions"), data, "questions", _is_text),
        related_lines=_item_lines(data.get("related"), data, "related", _is_topic_id),
    )


def _item_lines(raw: Any, data: Any, key: str, keep: Callable[[Any], bool]) -> list[int]:
    """The file line of each list item the checker kept, so lines stay aligned with the checked values."""
    default = getattr(data, "key_lines", {}).get(key, 1)
    if isinstance(raw, str):
        return [default] if keep(raw) else []
    if not isinstance(raw, list):
        return []
    item_lines = list(getattr(raw, "item_lines", []))
    return [item_lines[i] if i < len(item_lines) else default for i, item in enumerate(raw) if keep(item)]


def _is_text(item: Any) -> bool:
    return isinstance(item, str) and not isinstance(item, BadScalar) and bool(item.strip())


def _is_topic_id(item: Any) -> bool:
    return _is_text(item) and bool(TOPIC_ID_RE.match(item.strip()))


def _split_body(rel: str, body: str, body_line: int, problems: list[Problem]) -> tuple[str, list[str]]:
    """Split a topic body into the answer and the bullet items under "## Next steps"."""
    lines = body.split("\n")
    heading = next((i for i, line in enumerate(lines) if _NEXT_STEPS_RE.match(line.strip())), None)
    answer_lines = lines if heading is None else lines[:heading]
    answer = "\n".join(answer_lines).strip()
    if not answer:
        problems.append(Problem(rel, body_line, "the answer text below the front matter is empty"))
    if heading is None:
        return answer, []

    steps: list[str] = []
    for offset, line in enumerate(lines[heading + 1:], start=heading + 1):
        bullet = _BULLET_RE.match(line)
        if bullet:
            steps.append(bullet.group(1))
        elif not line.strip():
            continue
        elif steps and line[:1].isspace() and not _HEADING_RE.match(line.strip()):
            steps[-1] += " " + line.strip()  # an indented line continues the previous item
        else:
            # Everything after "Next steps" must be list items: anything else would be silently dropped.
            problems.append(Problem(rel, body_line + offset, "only list items ('- ...') may follow '## Next steps'; "
                                                             "move this text above that heading"))
            break
    if not steps:
        problems.append(Problem(rel, body_line + heading, "'## Next steps' has no list items ('- ...')"))
    return answer, steps


# ---------------------------------------------------------------------------------------------------------
# Tables


def _load_tables(rel: str, text: str, knowledge: Knowledge, defined_in: dict[str, str],
                 problems: list[Problem]) -> bool:
    """Load the tables in one file into `knowledge`; False when the file could not be parsed at all."""
    try:
        data, yaml_issues = parse_yaml(text)
    except YamlSyntaxError as error:
        problems.append(Problem(rel, error.line, error.message))
        return False
    _issues_to_problems(rel, yaml_issues, problems)
    if data is None:
        problems.append(Problem(rel, 1, "the file is empty: it should hold 'table_name:' and a list of rows"))
        return True
    if not isinstance(data, dict):
        problems.append(Problem(rel, line_of(data, 1), "a table file must be a mapping like 'events:' followed by a "
                                                       "list of rows"))
        return True
    for table, rows in data.items():
        key_line = data.key_lines.get(table, 1) if hasattr(data, "key_lines") else 1
        if table not in TABLE_FIELDS:
            problems.append(Problem(rel, key_line, f"unknown table '{table}' (known tables: "
                                                   f"{', '.join(sorted(TABLE_FIELDS))})"))
            continue
        if table in defined_in:
            problems.append(Problem(rel, key_line, f"table '{table}' is already defined in {defined_in[table]}"))
            continue
        defined_in[table] = rel
        if rows is None:
            continue  # "events:" with no rows yet is an empty table
        if not isinstance(rows, list):
            problems.append(Problem(rel, key_line, f"table '{table}' must be a list of rows (each starting with '- ')"))
            continue
        item_lines = getattr(rows, "item_lines", [])
        for index, row in enumerate(rows):
            row_line = item_lines[index] if index < len(item_lines) else key_line
            _load_row(rel, table, index, row, row_line, knowledge, problems)
    return True


def _load_row(rel: str, table: str, index: int, row: Any, row_line: int, knowledge: Knowledge,
              problems: list[Problem]) -> None:
    key = key_field(table)
    row_key = row.get(key) if isinstance(row, dict) else None
    label = f"{table} '{row_key}'" if isinstance(row_key, str) else f"{table} row {index + 1}"
    issues: list[Issue] = []
    values = check_record(row, TABLE_FIELDS[table], label=label, line=row_line, issues=issues)
    _issues_to_problems(rel, issues, problems)
    if values is None:
        return
    if "steps" in values:
        values["steps"] = plain_steps(values["steps"])
    knowledge.tables[table].append(to_plain(values))
    knowledge.origins[table].append(
        RowOrigin(rel, line_of(row, row_line), {str(k): v for k, v in getattr(row, "key_lines", {}).items()})
    )
