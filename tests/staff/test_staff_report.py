"""The usage report against a tracker store of known conversations written by Rasa's SQLTrackerStore:
every number, the three formats agreeing, date filtering, deep-link usage, transcripts and the command line."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from async_helpers import run as run_async

from bot import clock
from bot.cli import main as cli_main
from bot.staff import report
from bot.staff.tracker_events import TrackerStoreError
from staff_helpers import (config_fallback_threshold, FALLBACK_THRESHOLD, FORM_ANSWER, INVOICE_TITLE, KNOWN_DAYS, KNOWN_FLOWS, KNOWN_TOPICS,
                           KNOWN_TOTALS, PERIOD, Script, at, known_store, write_store)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    return known_store(tmp_path_factory.mktemp("tracker") / "tracker.db")


@pytest.fixture(scope="module")
def known(store_url) -> report.Report:
    return report.build_report(store_url, *PERIOD, threshold=FALLBACK_THRESHOLD)


class Tables(HTMLParser):
    """Collects each <table class=…> as rows of cell texts, and every data-total value."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.totals: dict[str, str] = {}
        self._table = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._total: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("class")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "dd" and "data-total" in attrs:
            self._total = attrs["data-total"]
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "dd" and self._total:
            self.totals[self._total] = "".join(self._cell).strip()
            self._total, self._cell = None, None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_html(fragment: str) -> Tables:
    parser = Tables()
    parser.feed(fragment)
    return parser


# ---------------------------------------------------------------- the numbers


def test_every_total_matches_the_known_conversations(known):
    assert known.totals() == KNOWN_TOTALS
    assert (known.start, known.end) == ("2026-03-02", "2026-03-04")


def test_every_day_matches_the_known_conversations(known):
    got = {d.day: (d.conversations, d.user_messages, d.bot_messages, d.fallback_messages, d.handoff_requests,
                   d.zero_result_searches) for d in known.days}
    assert got == KNOWN_DAYS


def test_topics_flows_and_zero_result_searches(known):
    assert [(t.topic, t.title, t.count) for t in known.topics] == KNOWN_TOPICS
    assert {f.flow: (f.started, f.completed, f.stopped, f.abandoned, f.drop_off) for f in known.flows} == KNOWN_FLOWS
    assert [f.flow for f in known.flows] == ["msme_profile", "rules_check", "vor_readiness"]
    assert {f.flow: f.completion_rate for f in known.flows} == {"msme_profile": 0.0, "rules_check": 1.0,
                                                                "vor_readiness": 0.0}
    assert known.zero_results == [{"sender_id": "d-search", "time": "2026-03-03T15:00:03-05:00",
                                   "filters": "words: underwater basket weaving"}]


def test_an_answer_to_a_flow_question_is_not_a_fallback(store_url, known):
    # FORM_ANSWER was classified nlu_fallback but the rules_check form took it as the deal value.
    turns = [t for c in report.conversations(store_url, *PERIOD) for t in report.user_turns(c)
             if t.event.text == FORM_ANSWER]
    assert len(turns) == 1 and turns[0].form_answer and turns[0].in_form == "rules_check"
    assert not turns[0].is_fallback(FALLBACK_THRESHOLD)
    assert known.days[0].fallback_messages == 0


def test_the_threshold_decides_what_counts_as_low_confidence(store_url):
    # "how do I get paid by a ministry" was classified at 0.8: a threshold above that adds it to the fallbacks.
    strict = report.build_report(store_url, *PERIOD, threshold=0.85)
    assert strict.fallback_messages == KNOWN_TOTALS["fallback_messages"] + 1
    assert strict.days[0].fallback_messages == 1


def test_fallback_threshold_comes_from_config(tmp_path):
    assert report.fallback_threshold() == config_fallback_threshold()  # config.yml's FallbackClassifier
    config = tmp_path / "config.yml"
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n  - name: FallbackClassifier\n    threshold: 0.4\n")
    assert report.fallback_threshold(config) == 0.4
    config.write_text("pipeline:\n  - name: WhitespaceTokenizer\n")
    assert report.fallback_threshold(config) == 0.3  # Rasa's default when the pipeline has none


# ---------------------------------------------------------------- the three formats agree


def test_json_is_the_report(known):
    data = json.loads(report.report_json(known))
    assert data == known.to_dict()
    assert (data["start"], data["end"], data["timezone"]) == ("2026-03-02", "2026-03-04", "America/Toronto")
    assert data["totals"] == KNOWN_TOTALS
    assert {d["day"]: (d["conversations"], d["user_messages"], d["bot_messages"], d["fallback_messages"],
                       d["handoff_requests"], d["zero_result_searches"]) for d in data["days"]} == KNOWN_DAYS


def test_csv_holds_the_same_numbers_as_the_json(known):
    rows = list(csv.DictReader(io.StringIO(report.report_csv(known))))
    data = known.to_dict()
    assert {r["item"]: r["value"] for r in rows if r["section"] == "period"} == {
        "start": "2026-03-02", "end": "2026-03-04", "timezone": "America/Toronto"}
    totals = {r["item"]: r["value"] for r in rows if r["section"] == "total"}
    assert totals == {name: str(value) for name, value in data["totals"].items()}
    days = {(r["item"], r["measure"]): int(r["value"]) for r in rows if r["section"] == "day"}
    assert days == {(d["day"], name): value for d in data["days"] for name, value in d.items() if name != "day"}
    topics = {r["item"]: int(r["value"]) for r in rows if r["section"] == "topic"}
    assert topics == {t["topic"]: t["count"] for t in data["topics"]}
    flows = {(r["item"], r["measure"]): float(r["value"]) for r in rows if r["section"] == "flow"}
    assert flows == {(f["flow"], name): f[name] for f in data["flows"]
                     for name in ("started", "completed", "stopped", "abandoned", "completion_rate")}
    drop = {(r["item"], r["measure"]): int(r["value"]) for r in rows if r["section"] == "flow_drop_off"}
    assert drop == {(f["flow"], step): n for f in data["flows"] for step, n in f["drop_off"].items()}
    zero = [(r["item"], r["measure"], r["value"]) for r in rows if r["section"] == "zero_result_search"]
    assert zero == [(z["time"], z["sender_id"], z["filters"]) for z in data["zero_results"]]



def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted():
    known = report.Report("2026-03-02", "2026-03-04", "UTC", zero_results=[
        {"time": "2026-03-02T10:00:00+00:00", "sender_id": "=HYPERLINK(\"http://x\",\"y\")",
         "filters": "+cmd|' /C calc'!A0"},
        {"time": "2026-03-02T11:00:00+00:00", "sender_id": "@SUM(1)", "filters": "-2+3"},
        {"time": "2026-03-02T12:00:00+00:00", "sender_id": "conv-1", "filters": "category=snow"}])
    known.topics = [report.TopicStats("=1+1", "A topic", 2)]
    rows = list(csv.reader(io.StringIO(report.report_csv(known))))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], cells
    zero = [row[1:] for row in rows if row[0] == "zero_result_search"]
    assert zero == [["2026-03-02T10:00:00+00:00", "'=HYPERLINK(\"http://x\",\"y\")", "'+cmd|' /C calc'!A0"],
                    ["2026-03-02T11:00:00+00:00", "'@SUM(1)", "'-2+3"],
                    ["2026-03-02T12:00:00+00:00", "conv-1", "category=snow"]]
    assert ["topic", "'=1+1", "count", "2"] in rows
    assert ["total", "conversations", "", "0"] in rows  # numbers are left alone


def test_html_tables_hold_the_same_numbers_as_the_json(known):
    page = parse_html(report.report_html(known))
    data = known.to_dict()
    for name, value in data["totals"].items():
        expected = f"{value:.2%}" if name == "fallback_rate" else str(value)
        assert page.totals[name] == expected, name
    assert page.totals["fallback_rate"] == "27.27%"
    days = page.tables["report-days"][1:]
    assert days == [[d["day"], *(str(d[k]) for k in ("conversations", "user_messages", "bot_messages",
                                                      "fallback_messages", "handoff_requests",
                                                      "zero_result_searches"))] for d in data["days"]]
    assert page.tables["report-topics"][1:] == [[t["topic"], t["title"], str(t["count"])] for t in data["topics"]]
    assert page.tables["report-flows"][1:] == [
        [f["flow"], str(f["started"]), str(f["completed"]), str(f["stopped"]), str(f["abandoned"]),
         f"{f['completion_rate']:.2%}"] for f in data["flows"]]
    assert page.tables["report-drop-off"][1:] == [["msme_profile", "msme_revenue", "1"],
                                                  ["vor_readiness", "vor_offering_covered", "1"]]
    assert page.tables["report-zero-results"][0] == ["Time (America/Toronto)", "Search", "Conversation"]
    assert page.tables["report-zero-results"][1:] == [["2026-03-03 15:00:03 EST",
                                                       "words: underwater basket weaving", "d-search"]]
    fragment = report.report_html(known)
    assert '<time datetime="2026-03-03T15:00:03-05:00">2026-03-03 15:00:03 EST</time>' in fragment
    assert "<h2>Usage from 2026-03-02 to 2026-03-04 (America/Toronto time)</h2>" in fragment
    assert page.tables["report-days"][0][0] == "Day (America/Toronto)"


def test_html_has_titled_accessible_charts_with_axes(known):
    fragment = report.report_html(known)
    assert "<html" not in fragment and "<body" not in fragment
    svgs = [ET.fromstring(part[:part.index("</svg>") + 6]) for part in
            ["<svg" + chunk for chunk in fragment.split("<svg")[1:]]]  # each chart must be well-formed XML
    titles = []
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs:
        assert svg.get("role") == "img"
        labelled = svg.get("aria-labelledby").split()
        ids = {el.get("id"): el for el in svg.iter() if el.get("id")}
        assert all(label in ids for label in labelled)
        titles.append(svg.find(f"{ns}title").text)
        assert svg.find(f"{ns}desc").text
    assert titles == ["Conversations per day", "Messages per day",
                      "Fallbacks, handoff requests and zero-result searches per day", "Fallback rate per day",
                      "Top topics", "Top flows by runs started", "Flow completion rate", "Drop-off step per flow"]
    # Axes are labelled and the day axis carries the dates; the descriptions state the numbers.
    conversations = svgs[0]
    texts = [el.text for el in conversations.iter(f"{ns}text")]
    assert "Day (America/Toronto)" in texts and "Conversations" in texts and "Mar 02" in texts and "Mar 04" in texts
    assert "total 7, highest 3 on 2026-03-04" in conversations.find(f"{ns}desc").text
    topics_desc = svgs[4].find(f"{ns}desc").text
    assert f"{INVOICE_TITLE} (invoicing): 2" in topics_desc
    completion = svgs[6].find(f"{ns}desc").text
    assert "rules_check: 100%" in completion and "vor_readiness: 0%" in completion


# ---------------------------------------------------------------- periods


def test_a_single_day(store_url):
    day = report.build_report(store_url, dt.date(2026, 3, 3), dt.date(2026, 3, 3), threshold=FALLBACK_THRESHOLD)
    assert [d.day for d in day.days] == ["2026-03-03"]
    assert (day.conversations, day.user_messages, day.bot_messages, day.fallback_messages) == (2, 10, 12, 4)
    assert [f.flow for f in day.flows] == ["vor_readiness"]
    assert [(t.topic, t.count) for t in day.topics] == [("invoicing", 1)]


def test_a_conversation_belongs_to_the_day_it_started(store_url):
    # f-before started at 23:59:30 on March 1 and went on past midnight; g-after started at 00:00 on March 5.
    wide = report.build_report(store_url, dt.date(2026, 3, 1), dt.date(2026, 3, 5), threshold=FALLBACK_THRESHOLD)
    by_day = {d.day: d for d in wide.days}
    assert (by_day["2026-03-01"].conversations, by_day["2026-03-01"].user_messages,
            by_day["2026-03-01"].fallback_messages) == (1, 3, 1)
    assert (by_day["2026-03-05"].conversations, by_day["2026-03-05"].user_messages) == (1, 1)
    assert by_day["2026-03-02"].user_messages == KNOWN_DAYS["2026-03-02"][1]
    assert wide.conversations == KNOWN_TOTALS["conversations"] + 2
    assert [(t.topic, t.count) for t in wide.topics] == [("invoicing", 3), ("debriefing", 1), ("vor-what-is", 1)]


def test_an_empty_period_lists_its_days_with_zeros(store_url):
    empty = report.build_report(store_url, dt.date(2026, 4, 1), dt.date(2026, 4, 3), threshold=FALLBACK_THRESHOLD)
    assert [d.day for d in empty.days] == ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert all(value == 0 for value in empty.totals().values())
    assert empty.topics == [] and empty.flows == []
    assert "No data in this period" in report.report_html(empty)


def test_a_period_that_ends_before_it_starts_is_refused(store_url):
    with pytest.raises(ValueError, match="ends"):
        report.build_report(store_url, dt.date(2026, 3, 4), dt.date(2026, 3, 2))


# ---------------------------------------------------------------- deep links and transcripts


def test_link_usage_counts_the_conversations_each_deep_link_started(store_url):
    assert report.link_usage(store_url, *PERIOD) == [
        {"kind": "flow", "target": "msme_profile", "conversations": 1},
        {"kind": "flow", "target": "rules_check", "conversations": 1},
        {"kind": "topic", "target": "vor-what-is", "conversations": 1},
    ]
    # f-before's "/topic_invoicing" came mid-conversation: it did not start it.
    wide = report.link_usage(store_url, dt.date(2026, 3, 1), dt.date(2026, 3, 5))
    assert {(r["kind"], r["target"]): r["conversations"] for r in wide} == {
        ("flow", "msme_profile"): 1, ("flow", "rules_check"): 1, ("topic", "vor-what-is"): 1,
        ("topic", "debriefing"): 1}


def test_link_usage_adds_up_repeated_links(tmp_path):
    scripts = []
    for n in range(3):
        s = Script(f"link-{n}", at("2026-05-01", f"1{n}:00:00"))
        s.topic("/topic_business_number", "business-number", "BN", 1.0)
        scripts.append(s)
    flow = Script("flow-link", at("2026-05-02", "09:00:00"))
    flow.user("/start_bid_readiness", "start_bid_readiness", 1.0).utter("utter_bid_intro")
    scripts.append(flow)
    url = write_store(tmp_path / "links.db", scripts)
    assert report.link_usage(url, dt.date(2026, 5, 1), dt.date(2026, 5, 2)) == [
        {"kind": "topic", "target": "business-number", "conversations": 3},
        {"kind": "flow", "target": "bid_readiness", "conversations": 1},
    ]
    assert report.link_usage(url, dt.date(2026, 5, 2), dt.date(2026, 5, 2)) == [
        {"kind": "flow", "target": "bid_readiness", "conversations": 1}]


def test_transcript_shows_both_sides_in_order_with_times_escaped(tmp_path):
    s = Script("web-<1>", at("2026-03-02", "10:00:00"))
    s.user("<script>alert(1)</script> & \u202eevil", "nlu_fallback", 0.15, when=at("2026-03-02", "10:00:05"))
    s.action("action_fallback_suggestions").bot("utter_fallback_suggestions", "Try <b>these</b>\nor ask a person")
    s.listen()
    s.new_session(at("2026-03-03", "09:30:00"))
    s.user("hello", "greet", 0.9, when=at("2026-03-03", "09:30:10")).utter("utter_greet", "Hi!")
    url = write_store(tmp_path / "t.db", [s])
    html = report.transcript_html(url, "web-<1>")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; evil" in html
    assert "\u202e" not in html
    assert "Try &lt;b&gt;these&lt;/b&gt;<br>or ask a person" in html
    assert "Conversation web-&lt;1&gt;" in html
    order = [html.index(x) for x in ("2026-03-02 10:00:05 EST", "utter_fallback_suggestions", "Session 2",
                                     "2026-03-03 09:30:10 EST", "Hi!")]
    assert order == sorted(order)
    assert '<time datetime="2026-03-02T10:00:05-05:00">2026-03-02 10:00:05 EST</time>' in html
    assert html.count('class="turn user"') == 2 and html.count('class="turn bot"') == 2
    assert "No conversation recorded" in report.transcript_html(url, "nobody")


# ---------------------------------------------------------------- the store


def test_a_missing_store_is_reported_and_not_created(tmp_path):
    missing = tmp_path / "nothing.db"
    with pytest.raises(TrackerStoreError, match="no tracker store"):
        report.build_report(f"sqlite:///{missing}", *PERIOD)
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    import sqlite3
    sqlite3.connect(empty).close()
    with pytest.raises(TrackerStoreError, match="no events table"):
        report.build_report(f"sqlite:///{empty}", *PERIOD)
    with pytest.raises(TrackerStoreError, match="not a database URL"):
        report.build_report("not a url", *PERIOD)


def test_reading_leaves_the_store_unchanged(store_url):
    path = Path(store_url[len("sqlite:///"):])
    before = path.read_bytes()
    report.build_report(store_url, *PERIOD)
    report.link_usage(store_url, *PERIOD)
    report.transcript_html(store_url, "a-topic-link")
    assert path.read_bytes() == before


# ---------------------------------------------------------------- the command line


def test_cli_json_and_csv_match_the_report(store_url, known, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "fallback_threshold", lambda config_path=None: FALLBACK_THRESHOLD)
    assert cli_main(["report", "--from", "2026-03-02", "--to", "2026-03-04", "--format", "json",
                     "--tracker-url", store_url]) == 0
    assert json.loads(capsys.readouterr().out) == known.to_dict()
    out = tmp_path / "usage.csv"
    assert cli_main(["report", "--from", "2026-03-02", "--to", "2026-03-04", "--format", "csv",
                     "--tracker-url", store_url, "--output", str(out)]) == 0
    assert out.read_text() == report.report_csv(known)
    assert "7 conversation(s) from 2026-03-02 to 2026-03-04" in capsys.readouterr().err


def test_cli_html_is_a_whole_page_with_the_charts(store_url, tmp_path):
    out = tmp_path / "usage.html"
    assert cli_main(["report", "--from", "2026-03-02", "--to", "2026-03-04", "--tracker-url", store_url,
                     "--output", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.count('<svg ') == 8
    assert parse_html(page).totals["conversations"] == "7"


def test_cli_defaults_to_the_last_30_days_of_the_configured_store(store_url, capsys, monkeypatch):
    monkeypatch.setenv("TRACKER_STORE_URL", store_url)
    monkeypatch.setattr(clock, "now", lambda: at("2026-03-04", "23:30:00"))  # 04:30 on March 5 in UTC
    assert cli_main(["report", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["start"], data["end"]) == ("2026-02-03", "2026-03-04")
    assert data["totals"]["conversations"] == KNOWN_TOTALS["conversations"] + 1  # f-before, not g-after


@pytest.mark.parametrize("args, code, message", [
    (["--from", "2026-02-30", "--to", "2026-03-04"], 2, "'2026-02-30' is not a date: use YYYY-MM-DD"),
    (["--from", "yesterday"], 2, "'yesterday' is not a date"),
    (["--from", "2026-03-04", "--to", "2026-03-02"], 2, "--to 2026-03-02 is before --from 2026-03-04"),
    (["--format", "pdf"], 2, "invalid choice: 'pdf'"),
])
def test_cli_bad_usage_gets_a_clear_message(args, code, message, capsys, store_url):
    try:
        result = cli_main(["report", *args, "--tracker-url", store_url])
    except SystemExit as exit_:
        result = exit_.code
    assert result == code
    assert message in capsys.readouterr().err


def test_cli_missing_store_and_unwritable_output_exit_1(tmp_path, capsys, store_url):
    assert cli_main(["report", "--tracker-url", f"sqlite:///{tmp_path / 'none.db'}"]) == 1
    assert "error: no tracker store" in capsys.readouterr().err
    assert cli_main(["report", "--tracker-url", store_url, "--output", str(tmp_path / "no" / "dir.csv")]) == 1
    assert "error: cannot write" in capsys.readouterr().err


def test_cli_in_a_real_process_never_shows_a_traceback(tmp_path):
    env_run = [sys.executable, "-m", "bot", "report", "--from", "2026-13-01"]
    result = subprocess.run(env_run, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "is not a date" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "bot", "report", "--tracker-url",
                             f"sqlite:///{tmp_path / 'missing.db'}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "no tracker store" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_same_numbers_from_a_postgresql_tracker_store(tmp_path):
    """The cluster keeps conversations in PostgreSQL: the report reads it with the same queries."""
    import shutil
    import socket
    import tempfile

    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.cluster import Postgres
    from staff_helpers import known_scripts

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = Path(tempfile.mkdtemp(prefix="staff-pg-"))  # PostgreSQL runs as its own user: pytest's tmp is private
    base.chmod(0o755)
    (base / "secrets").mkdir()
    postgres = Postgres(base / "pgdata", base / "secrets", "127.0.0.1", port, base / "postgres.log")
    try:
        postgres.start()
        url = sa.engine.make_url(postgres.url)
        store = SQLTrackerStore(Domain.empty(), dialect="postgresql", host=url.host, port=url.port,
                                db=url.database, username=url.username, password=url.password)
        for script in known_scripts():
            run_async(store.save(DialogueStateTracker.from_events(script.sender_id, script.events)))
        store.engine.dispose()
        built = report.build_report(postgres.url, *PERIOD, threshold=FALLBACK_THRESHOLD)
        assert built.totals() == KNOWN_TOTALS
        assert {d.day: (d.conversations, d.user_messages, d.bot_messages, d.fallback_messages, d.handoff_requests,
                        d.zero_result_searches) for d in built.days} == KNOWN_DAYS
        assert report.link_usage(postgres.url, *PERIOD) == [
            {"kind": "flow", "target": "msme_profile", "conversations": 1},
            {"kind": "flow", "target": "rules_check", "conversations": 1},
            {"kind": "topic", "target": "vor-what-is", "conversations": 1}]
        assert "how do I get paid by a ministry" in report.transcript_html(postgres.url, "a-topic-link")
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_a_concierge_request_is_one_handoff_and_not_a_flow(tmp_path):
    # As data/rules/handoff.yml runs it: action_request_human, then the concierge form; asking again while the
    # form is open records nothing new (utter_concierge_in_progress). A handoff asked mid-flow is counted.
    s = Script("concierge", at("2026-06-01", "10:00:00"))
    s.user("/request_human", "request_human", 1.0).action("action_request_human")
    s.form_start("concierge", "concierge_consent")
    s.form_answer("/flow_yes", "flow_yes", "concierge", "concierge_consent", "concierge_name")
    s.user("/request_human", "request_human", 1.0).rejected("concierge").action("action_request_human")
    s.bot("utter_concierge_in_progress").action("concierge").slot("requested_slot", "concierge_name")
    s.bot("utter_ask_concierge_name").listen()
    s.form_answer("Jane Q. Founder", "nlu_fallback", "concierge", "concierge_name", "concierge_email",
                  FALLBACK_THRESHOLD, [("nlu_fallback", FALLBACK_THRESHOLD), ("greet", 0.05)])
    s.stop_form("concierge", "utter_concierge_cancelled")
    s.user("which rules apply", "start_rules_check", 0.9).utter("utter_rules_intro")
    s.form_start("rules_check", "deal_buyer")
    s.user("can I talk to someone", "request_human", 0.9).rejected("rules_check").action("action_request_human")
    s.bot("utter_handoff_recorded").action("rules_check").slot("requested_slot", "deal_buyer")
    s.bot("utter_ask_deal_buyer").listen()
    url = write_store(tmp_path / "concierge.db", [s])
    day = dt.date(2026, 6, 1)
    built = report.build_report(url, day, day, threshold=FALLBACK_THRESHOLD)
    assert built.handoff_requests == 2
    assert [(f.flow, f.started, f.abandoned, f.drop_off) for f in built.flows] == [
        ("rules_check", 1, 1, {"deal_buyer": 1})]
    assert built.fallback_messages == 0  # the name typed into the form is an answer, not a fallback
    from bot.staff import gaps
    assert gaps.find_gaps(url, day, day, tmp_path / "staff.db", threshold=FALLBACK_THRESHOLD) == []
