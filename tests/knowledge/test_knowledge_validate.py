"""The validator reports each kind of content mistake as `path:line: message`, at the right line, never a crash."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.knowledge.loader import Problem
from bot.knowledge.validate import normalize_question, validate
from knowledge_helpers import TODAY, line_number, replace_in, write_knowledge


def test_the_fixture_knowledge_is_valid(knowledge_dir: Path) -> None:
    # Every broken case below starts from this folder, so it must be clean for them to mean anything.
    assert validate(knowledge_dir, today=TODAY) == []


@dataclass(frozen=True)
class Case:
    """A mistake: edit `path` (old → new), then expect a problem at the line containing `at` with `message`."""

    name: str
    path: str
    old: str
    new: str
    at: str
    message: str
    occurrence: int = 1
    reported_in: str = ""  # when the problem is reported in another file than the one edited


CASES = [
    Case("yaml syntax in front matter", "topics/vor-what-is.md", "jurisdiction: ontario",
         "jurisdiction: ontario: federal", "jurisdiction: ontario: federal", "invalid YAML"),
    Case("yaml syntax in a table", "tables/events.yml", "    title: Doing business with Ontario",
         "    title: Doing business: with Ontario", "Doing business: with", "invalid YAML"),
    Case("missing front matter", "topics/vor-types.md", "---\nid: vor-types", "id: vor-types",
         "id: vor-types", "missing front matter"),
    Case("front matter never closed", "topics/vor-types.md", "tags: [vor]\n---\n", "tags: [vor]\n",
         "---", "front matter is not closed"),
    Case("missing required topic field", "topics/vor-types.md",
         "title: What kinds of VOR arrangements are there?\n", "", "id: vor-types",
         "missing required field 'title'"),
    Case("missing required table field", "tables/vor_arrangements.yml", "    summary: Used by every ministry.\n", "",
         "- id: enterprise-wide", "missing required field 'summary'"),
    Case("row without its review date", "tables/glossary.yml", "    last_reviewed: 2026-11-01\n", "",
         "- term: RFP", "missing required field 'last_reviewed'"),
    Case("row without a source", "tables/programs.yml", "    source: {url:", "    src: {url:",
         "    src: {url:", "unknown field 'src'"),
    Case("impossible date", "topics/register-ontario.md", "last_reviewed: 2026-11-01", "last_reviewed: 2026-02-30",
         "last_reviewed:", "not a valid date"),
    Case("review date in the future", "topics/vor-types.md", "last_reviewed: 2026-11-01",
         "last_reviewed: 2027-11-01", "last_reviewed:", "in the future"),
    Case("malformed url in a table", "tables/programs.yml", "url: https://www.ontario.ca/page/ontario-together",
         "url: htps//ontario.ca/together", "url: htps//", "not a valid URL"),
    Case("url without a host in a topic", "topics/vor-what-is.md", "  - url: https://www.ontario.ca/page/vendor",
         "  - url: https:///page/vendor", "  - url: https:///page", "no host name"),
    Case("duplicate table id", "tables/buyer_types.yml", "  - id: bps", "  - id: ontario_ministry",
         "id: ontario_ministry", "duplicate id 'ontario_ministry'", occurrence=2),
    Case("id differs from file name", "topics/vor-types.md", "id: vor-types", "id: vor-kinds", "id: vor-kinds",
         "does not match the file name"),
    Case("unknown related id", "topics/register-ontario.md", "related: [vor-what-is, vor-types]",
         "related: [vor-what-is, vor-typos]", "related:", "no topic with id 'vor-typos'"),
    Case("unknown buyer in a threshold row", "tables/thresholds.yml", "    buyer: ontario_ministry\n    category: goods\n    min_value: 0",
         "    buyer: ontario_ministr\n    category: goods\n    min_value: 0", "buyer: ontario_ministr",
         "buyer 'ontario_ministr' is not an id in buyer_types"),
    Case("unknown category in a threshold row", "tables/thresholds.yml", "    category: goods\n    min_value: 133800",
         "    category: gods\n    min_value: 133800", "category: gods", "category 'gods' is not an id in categories"),
    Case("gap between method bands", "tables/thresholds.yml", "    min_value: 121200\n    method: Open",
         "    min_value: 125000\n    method: Open", "min_value: 125000", "gap from 121200 to 125000"),
    Case("overlapping method bands", "tables/thresholds.yml", "    min_value: 121200\n    method: Open",
         "    min_value: 100000\n    method: Open", "min_value: 100000", "overlaps band 'ops-goods-invitational'"),
    Case("bands not starting at zero", "tables/thresholds.yml", "    min_value: 0\n    max_value: 121200\n    method:",
         "    min_value: 500\n    max_value: 121200\n    method:", "min_value: 500", "must start at min_value 0"),
    Case("max below min", "tables/thresholds.yml", "    min_value: 0\n    max_value: 121200\n    summary: Ministries",
         "    min_value: 0\n    max_value: 0\n    summary: Ministries", "max_value: 0",
         "must be greater than min_value"),
    Case("amount written with $ and commas", "tables/thresholds.yml", "    min_value: 133800",
         '    min_value: "$133,800"', "min_value: \"$133,800\"", "must be a plain number"),
    Case("duplicate question across topics", "topics/vor-types.md", "  - types of vendor of record",
         "  - What is a  VOR?!", "  - what is a vor", "duplicate question 'what is a vor': already in topic vor-types",
         reported_in="topics/vor-what-is.md"),
    # The project's own data/nlu/opportunities.yml has "show me tenders" as a search_opportunities example.
    Case("question that is a core intent's example", "topics/vor-types.md", "  - types of vendor of record",
         "  - Show me tenders!", "  - Show me tenders!", "is also an example of the intent search_opportunities"),
    Case("too few questions", "topics/vor-what-is.md", "  - explain vendor of record to me\n", "",
         "questions:", "needs at least 6"),
    Case("event ends before it starts", "tables/events.yml", "ends: 2027-01-14T11:30:00-05:00",
         "ends: 2027-01-14T09:30:00-05:00", "ends:", "is before starts"),
    Case("event time without a time zone", "tables/events.yml", "starts: 2027-01-14T10:00:00-05:00",
         "starts: 2027-01-14T10:00:00", "starts:", "has no time zone"),
    Case("event format not allowed", "tables/events.yml", "format: online", "format: webinar", "format:",
         "is not one of: online, in_person, hybrid"),
    Case("misspelt field", "topics/vor-what-is.md", "tags: [vor]", "tagz: [vor]", "tagz:",
         "unknown field 'tagz'; did you mean 'tags'?"),
    Case("key written twice", "topics/vor-what-is.md", "jurisdiction: ontario", "jurisdiction: ontario\ntitle: Again",
         "title: Again", "key 'title' appears twice"),
    Case("text after the next steps list", "topics/vor-types.md", "  qualifications.\n",
         "  qualifications.\n\nSee you there.\n", "See you there.", "only list items"),
    Case("unknown table", "tables/glossary.yml", "glossary:", "glosary:", "glosary:", "unknown table 'glosary'"),
    Case("topic id with an underscore", "topics/vor-types.md", "related: [vor-what-is]",
         "related: [vor_what_is]", "related:", "is not a valid id"),
    Case("duplicate checklist step id", "tables/checklists.yml", "      - id: profile", "      - id: account",
         "    steps:", "step id 'account' is used twice"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_mistake_is_reported_at_its_line(knowledge_dir: Path, case: Case) -> None:
    replace_in(knowledge_dir / case.path, case.old, case.new)
    reported_in = case.reported_in or case.path
    expected_line = line_number(knowledge_dir / reported_in, case.at, case.occurrence)

    problems = validate(knowledge_dir, today=TODAY)

    matching = [p for p in problems if p.path == reported_in and case.message in p.message]
    assert matching, f"no problem containing {case.message!r} in {reported_in}; got:\n" + "\n".join(map(str, problems))
    assert expected_line in [p.line for p in matching], "\n".join(map(str, matching))
    # The printable form is exactly what editors and CI annotate: path:line: message.
    assert str(matching[0]) == f"{matching[0].path}:{matching[0].line}: {matching[0].message}"


def test_core_intent_example_is_reported_with_the_file_and_line_it_repeats(knowledge_dir: Path,
                                                                           tmp_path: Path) -> None:
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    (nlu / "chitchat.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n'
                                      '    - Types of  Vendor of Record?\n')
    (nlu / "broken.yml").write_text("nlu: [unclosed\n")  # Rasa reports its own files; this check skips them
    expected_line = line_number(knowledge_dir / "topics/vor-types.md", "  - types of vendor of record")

    problems = validate(knowledge_dir, today=TODAY, nlu_dir=nlu)

    assert [str(p) for p in problems] == [
        f"topics/vor-types.md:{expected_line}: question 'types of vendor of record' is also an example of the "
        f"intent greet ({nlu / 'chitchat.yml'}:6); reword or remove it"]
    assert validate(knowledge_dir, today=TODAY, nlu_dir=tmp_path / "empty") == []


def test_problem_prints_as_path_line_message() -> None:
    assert str(Problem("topics/a.md", 7, "something is wrong")) == "topics/a.md:7: something is wrong"


def test_missing_table_file_is_reported(knowledge_dir: Path) -> None:
    (knowledge_dir / "tables" / "glossary.yml").unlink()
    problems = validate(knowledge_dir, today=TODAY)
    assert Problem("tables/glossary.yml", 1, "table 'glossary' is missing: add 'glossary:' with a list of rows") \
        in problems


def test_file_that_is_not_utf8_is_reported_with_its_line(knowledge_dir: Path) -> None:
    path = knowledge_dir / "topics" / "vor-types.md"
    expected = line_number(path, "tags: [vor]")
    path.write_bytes(path.read_bytes().replace(b"tags: [vor]", b"tags: [v\xe9r]"))  # Latin-1 é
    problems = validate(knowledge_dir, today=TODAY)
    assert [p.line for p in problems if p.path == "topics/vor-types.md" and "UTF-8" in p.message] == [expected]


def test_one_syntax_error_does_not_cascade_into_unknown_ids(knowledge_dir: Path) -> None:
    replace_in(knowledge_dir / "topics" / "vor-types.md", "jurisdiction: ontario", "jurisdiction: [ontario")
    replace_in(knowledge_dir / "tables" / "buyer_types.yml", "    name: Ontario ministry", "    name: [Ontario")
    problems = validate(knowledge_dir, today=TODAY)
    assert {p.path for p in problems} == {"topics/vor-types.md", "tables/buyer_types.yml"}
    assert all("invalid YAML" in p.message for p in problems)


def test_drafts_and_templates_are_ignored(knowledge_dir: Path) -> None:
    (knowledge_dir / "topics" / "_template.md").write_text("not even front matter", encoding="utf-8")
    (knowledge_dir / "topics" / ".draft.md").write_text("---\n: [", encoding="utf-8")
    assert validate(knowledge_dir, today=TODAY) == []


def test_crlf_line_endings_keep_line_numbers(knowledge_dir: Path) -> None:
    path = knowledge_dir / "topics" / "register-ontario.md"
    replace_in(path, "last_reviewed: 2026-11-01", "last_reviewed: 2026-13-01")
    expected = line_number(path, "last_reviewed:")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    problems = validate(knowledge_dir, today=TODAY)
    assert [(p.path, p.line) for p in problems] == [("topics/register-ontario.md", expected)]


def test_quoted_iso_date_is_accepted(knowledge_dir: Path) -> None:
    replace_in(knowledge_dir / "topics" / "vor-types.md", "last_reviewed: 2026-11-01", "last_reviewed: '2026-11-01'")
    assert validate(knowledge_dir, today=TODAY) == []


def test_today_is_a_parameter_not_the_clock(knowledge_dir: Path) -> None:
    # Reviewed 2026-11-01: fine on that day, "in the future" the day before.
    assert validate(knowledge_dir, today=dt.date(2026, 11, 1)) == []
    assert validate(knowledge_dir, today=dt.date(2026, 10, 31)) != []


def test_normalize_question_ignores_case_spacing_punctuation_and_accents() -> None:
    assert normalize_question("  What's a  VOR?! ") == normalize_question("whats a vor")
    assert normalize_question("Qu’est-ce qu'un fournisseur attitré?") == "quest ce quun fournisseur attitre"
    assert normalize_question("what is a vor") != normalize_question("what is vor")


_FILES = ["topics/vor-what-is.md", "tables/thresholds.yml", "tables/events.yml"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(_FILES), position=st.floats(0, 1), junk=st.text(max_size=40))
def test_any_garbage_is_reported_never_raised(tmp_path_factory: pytest.TempPathFactory, target: str,
                                              position: float, junk: str) -> None:
    knowledge_dir = write_knowledge(tmp_path_factory.mktemp("fuzz"))
    path = knowledge_dir / target
    text = path.read_text(encoding="utf-8")
    cut = int(len(text) * position)
    path.write_text(text[:cut] + junk + text[cut:], encoding="utf-8", errors="surrogatepass")

    problems = validate(knowledge_dir, today=TODAY)  # must not raise, whatever the junk

    assert all(isinstance(p, Problem) and p.line >= 1 for p in problems)
    total_lines = len(path.read_text(encoding="utf-8", errors="replace").split("\n"))
    assert all(p.line <= total_lines + 1 for p in problems if p.path == target)
