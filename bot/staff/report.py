"""The usage report: what founders asked, which flows they finished, where the assistant fell short.

Read from the tracker store (see `bot.staff.tracker_events` for what a conversation is). Definitions:
- messages: user and bot messages of the conversations started in the period, on their conversation's day;
- topics: user messages classified as a knowledge topic (`topic_<id>`), by knowledge id;
- flows: a *run* starts when a form becomes active; it is *completed* when the form finishes itself,
  *stopped* when the founder stops it (`action_deactivate_loop`), *abandoned* when the conversation
  ends with it still active. The drop-off step of a run not completed is the last question it asked;
- fallback: a user message the NLU could not classify (`nlu_fallback`, or confidence under the
  FallbackClassifier threshold) or that Rasa answered with `action_default_fallback`. Answers to a flow's
  question are left out: the flow validates them itself. Fallback rate = fallback / user messages;
- out of scope: user messages classified `out_of_scope`;
- handoff requests: runs of `action_request_human`, except while a concierge request is already open (asking
  again then records nothing new). The concierge request form is part of a handoff, so it is not a flow;
- opportunity searches: runs of `action_search_opportunities`; zero results: its `utter_opportunities_none_found`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Iterator
from urllib.parse import quote
from zoneinfo import ZoneInfo

import yaml

from bot import settings
from bot.staff import charts
from bot.staff.tracker_events import (Conversation, Event, conversations, display_text, report_zone,
                                      sender_events, split_sessions)

HANDOFF_ACTION = "action_request_human"
SEARCH_ACTION = "action_search_opportunities"
ZERO_RESULTS_RESPONSE = "utter_opportunities_none_found"
TOPIC_ANSWER_RESPONSE = "utter_topic_answer"
CORE_FALLBACK_ACTION = "action_default_fallback"
STOP_ACTION = "action_deactivate_loop"
CONCIERGE_FORM = "concierge"  # the handoff's own form (name, email, company, description): not a guided flow
NLU_FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
DEFAULT_FALLBACK_THRESHOLD = 0.3  # Rasa's own default for FallbackClassifier


def fallback_threshold(config_path: Path | None = None) -> float:
    """The FallbackClassifier threshold of the assistant's pipeline (config.yml), Rasa's default if absent."""
    path = config_path or settings.PROJECT_ROOT / "config.yml"
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return DEFAULT_FALLBACK_THRESHOLD
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", DEFAULT_FALLBACK_THRESHOLD))
    return DEFAULT_FALLBACK_THRESHOLD


# ---------------------------------------------------------------- reading one conversation


@dataclass
class UserTurn:
    event: Event
    next_action: str | None  # the first action Rasa ran after the message
    in_form: str | None  # the active form when the message arrived
    form_answer: bool  # the active form took the message as the answer to its question

    @property
    def intent(self) -> str | None:
        return self.event.intent_name or (self.event.parse_data.get("intent") or {}).get("name")

    @property
    def confidence(self) -> float:
        """The confidence of the best real intent (the FallbackClassifier's own entry is not one)."""
        ranking = [r for r in self.event.parse_data.get("intent_ranking") or [] if r.get("name") != NLU_FALLBACK]
        if ranking:
            return float(ranking[0].get("confidence") or 0.0)
        return float((self.event.parse_data.get("intent") or {}).get("confidence") or 0.0)

    def gap_reason(self, threshold: float) -> str | None:
        """Why this message shows a knowledge gap: "fallback", "low confidence", "out of scope", or None."""
        if self.form_answer or self.event.text.startswith("/"):
            return None  # a button payload or an answer to a flow's question is not a question
        if self.intent == OUT_OF_SCOPE:
            return "out of scope"
        if self.intent == NLU_FALLBACK or self.next_action == CORE_FALLBACK_ACTION:
            return "fallback"
        if self.confidence < threshold:
            return "low confidence"
        return None

    def is_fallback(self, threshold: float) -> bool:
        if self.form_answer:
            return False
        return (self.intent == NLU_FALLBACK or self.next_action == CORE_FALLBACK_ACTION
                or (not self.event.text.startswith("/") and self.intent != OUT_OF_SCOPE
                    and self.confidence < threshold))


@dataclass
class FlowRun:
    flow: str
    outcome: str = "abandoned"  # completed | stopped | abandoned
    last_step: str | None = None


def user_turns(conversation: Conversation) -> Iterator[UserTurn]:
    events = conversation.events
    active: str | None = None
    for index, event in enumerate(events):
        if event.type_name == "active_loop":
            active = event.data.get("name")
        if event.type_name != "user":
            continue
        next_action = None
        for later in events[index + 1:]:
            if later.type_name == "user":
                break
            if later.type_name == "action_execution_rejected":
                next_action = None
                break  # the form refused the message: it went to another rule
            if later.type_name == "action" and later.action_name != "action_listen":
                next_action = later.action_name
                break
        yield UserTurn(event, next_action, active, bool(active) and next_action == active)


def flow_runs(conversation: Conversation) -> list[FlowRun]:
    runs: list[FlowRun] = []
    current: FlowRun | None = None
    last_action: str | None = None
    for event in conversation.events:
        if event.type_name == "action":
            last_action = event.action_name
        elif event.type_name == "active_loop":
            name = event.data.get("name")
            if name == CONCIERGE_FORM:
                continue  # the handoff form (it starts only when no flow is active)
            if name:
                if current is None or current.flow != name:
                    current = FlowRun(name)
                    runs.append(current)
            elif current is not None:
                current.outcome = "stopped" if last_action == STOP_ACTION else "completed"
                current = None
        elif event.type_name == "slot" and event.data.get("name") == "requested_slot" and current is not None:
            if event.data.get("value"):
                current.last_step = str(event.data["value"])
    return runs


def deep_link(conversation: Conversation) -> tuple[str, str] | None:
    """("topic", knowledge id) or ("flow", name) when the conversation opened with a widget deep link."""
    users = conversation.user_events
    if not users:
        return None
    text = users[0].text.strip()
    for prefix, kind in (("/topic_", "topic"), ("/start_", "flow")):
        if text.startswith(prefix):
            target = text[len(prefix):].split("{", 1)[0].strip()
            if target:
                # The widget writes a knowledge id's hyphens as underscores (intent names cannot hold them).
                return kind, target.replace("_", "-") if kind == "topic" else target
    return None


# ---------------------------------------------------------------- the report


@dataclass
class DayStats:
    day: str
    conversations: int = 0
    user_messages: int = 0
    bot_messages: int = 0
    fallback_messages: int = 0
    handoff_requests: int = 0
    zero_result_searches: int = 0


@dataclass
class TopicStats:
    topic: str
    title: str
    count: int


@dataclass
class FlowStats:
    flow: str
    started: int = 0
    completed: int = 0
    stopped: int = 0
    abandoned: int = 0
    drop_off: dict[str, int] = field(default_factory=dict)  # step -> runs not completed that ended there

    @property
    def completion_rate(self) -> float:
        return round(self.completed / self.started, 4) if self.started else 0.0


@dataclass
class Report:
    start: str
    end: str
    timezone: str  # the tz database name of the zone the days and times are in
    conversations: int = 0
    user_messages: int = 0
    bot_messages: int = 0
    fallback_messages: int = 0
    out_of_scope_messages: int = 0
    handoff_requests: int = 0
    opportunity_searches: int = 0
    zero_result_searches: int = 0
    days: list[DayStats] = field(default_factory=list)
    topics: list[TopicStats] = field(default_factory=list)
    flows: list[FlowStats] = field(default_factory=list)
    zero_results: list[dict] = field(default_factory=list)  # sender_id, time (ISO, local with offset), filters

    @property
    def fallback_rate(self) -> float:
        return round(self.fallback_messages / self.user_messages, 4) if self.user_messages else 0.0

    def totals(self) -> dict[str, float]:
        return {
            "conversations": self.conversations,
            "user_messages": self.user_messages,
            "bot_messages": self.bot_messages,
            "fallback_messages": self.fallback_messages,
            "fallback_rate": self.fallback_rate,
            "out_of_scope_messages": self.out_of_scope_messages,
            "handoff_requests": self.handoff_requests,
            "opportunity_searches": self.opportunity_searches,
            "zero_result_searches": self.zero_result_searches,
        }

    def to_dict(self) -> dict:
        flows = []
        for flow in self.flows:
            entry = asdict(flow)
            entry["completion_rate"] = flow.completion_rate
            flows.append(entry)
        return {
            "start": self.start,
            "end": self.end,
            "timezone": self.timezone,
            "totals": self.totals(),
            "days": [asdict(day) for day in self.days],
            "topics": [asdict(topic) for topic in self.topics],
            "flows": flows,
            "zero_results": list(self.zero_results),
        }


def build_report(tracker_url: str, start: dt.date, end: dt.date, threshold: float | None = None,
                 zone: ZoneInfo | None = None) -> Report:
    """Counts the conversations that started from `start` to `end` (inclusive), days in `zone` (default
    REPORT_TIMEZONE)."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    threshold = fallback_threshold() if threshold is None else threshold
    zone = zone or report_zone()
    report = Report(start.isoformat(), end.isoformat(), zone.key)
    days = {start + dt.timedelta(days=n): DayStats((start + dt.timedelta(days=n)).isoformat())
            for n in range((end - start).days + 1)}
    topic_counts: Counter[str] = Counter()
    topic_titles: dict[str, str] = {}
    flows: dict[str, FlowStats] = {}
    for conversation in conversations(tracker_url, start, end, zone):
        day = days[conversation.day(zone)]
        day.conversations += 1
        report.conversations += 1
        for turn in user_turns(conversation):
            day.user_messages += 1
            if turn.is_fallback(threshold):
                day.fallback_messages += 1
            if turn.intent == OUT_OF_SCOPE and not turn.form_answer:
                report.out_of_scope_messages += 1
            intent = turn.intent or ""
            if intent.startswith("topic_") and not turn.form_answer:
                topic = intent[len("topic_"):].replace("_", "-")
                topic_counts[topic] += 1
        pending_topic: str | None = None
        active_loop: str | None = None
        for event in conversation.events:
            if event.type_name == "active_loop":
                active_loop = event.data.get("name")
            elif event.type_name == "user":
                intent = event.intent_name or ""
                pending_topic = intent[len("topic_"):].replace("_", "-") if intent.startswith("topic_") else None
            elif event.type_name == "bot":
                day.bot_messages += 1
                if event.utter_action == TOPIC_ANSWER_RESPONSE and pending_topic and event.metadata.get("title"):
                    topic_titles.setdefault(pending_topic, str(event.metadata["title"]))
                if event.utter_action == ZERO_RESULTS_RESPONSE:
                    day.zero_result_searches += 1
                    report.zero_results.append({
                        "sender_id": conversation.sender_id,
                        "time": event.time.astimezone(zone).isoformat(timespec="seconds"),
                        "filters": display_text(str(event.metadata.get("filters") or "")),
                    })
            elif event.type_name == "action":
                if event.action_name == HANDOFF_ACTION and active_loop != CONCIERGE_FORM:
                    day.handoff_requests += 1
                elif event.action_name == SEARCH_ACTION:
                    report.opportunity_searches += 1
        for run in flow_runs(conversation):
            stats = flows.setdefault(run.flow, FlowStats(run.flow))
            stats.started += 1
            setattr(stats, run.outcome, getattr(stats, run.outcome) + 1)
            if run.outcome != "completed":
                step = run.last_step or "(before the first question)"
                stats.drop_off[step] = stats.drop_off.get(step, 0) + 1
    report.days = [days[key] for key in sorted(days)]
    for day in report.days:
        report.user_messages += day.user_messages
        report.bot_messages += day.bot_messages
        report.fallback_messages += day.fallback_messages
        report.handoff_requests += day.handoff_requests
        report.zero_result_searches += day.zero_result_searches
    report.topics = [TopicStats(topic, topic_titles.get(topic, topic), count)
                     for topic, count in sorted(topic_counts.items(), key=lambda item: (-item[1], item[0]))]
    for stats in flows.values():
        stats.drop_off = dict(sorted(stats.drop_off.items(), key=lambda item: (-item[1], item[0])))
    report.flows = sorted(flows.values(), key=lambda f: (-f.started, f.flow))
    # By the moment, not the text: the hour repeated when the clocks go back has two UTC offsets.
    report.zero_results.sort(key=lambda z: (dt.datetime.fromisoformat(z["time"]), z["sender_id"]))
    return report


# ---------------------------------------------------------------- link usage and transcripts


def link_usage(tracker_url: str, start: dt.date, end: dt.date, zone: ZoneInfo | None = None) -> list[dict]:
    """Per deep link (kind "topic" or "flow", target): how many conversations in the period (days in `zone`,
    default REPORT_TIMEZONE) it started."""
    counts: Counter[tuple[str, str]] = Counter()
    for conversation in conversations(tracker_url, start, end, zone):
        link = deep_link(conversation)
        if link:
            counts[link] += 1
    return [{"kind": kind, "target": target, "conversations": count}
            for (kind, target), count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def time_html(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """A <time> element: the wall time in `zone` with the zone's abbreviation (EST, EDT) for staff to read,
    and the ISO time with its UTC offset in the datetime attribute."""
    local = moment.astimezone(zone)
    return (f'<time datetime="{local.isoformat(timespec="seconds")}">'
            f'{escape(local.strftime("%Y-%m-%d %H:%M:%S %Z"))}</time>')


def transcript_html(tracker_url: str, sender_id: str, zone: ZoneInfo | None = None) -> str:
    """One sender's conversation(s) as an HTML fragment: user and bot turns with their times in `zone`
    (default REPORT_TIMEZONE), escaped."""
    zone = zone or report_zone()
    sessions = [c for c in split_sessions(sender_events(tracker_url, sender_id)) if c.user_events or any(
        e.type_name == "bot" for e in c.events)]
    if not sessions:
        return f'<p class="transcript-empty">No conversation recorded for {escape(sender_id)}.</p>'
    parts = [f'<section class="transcript" aria-label="Conversation {escape(sender_id)}">']
    for number, session in enumerate(sessions, 1):
        if len(sessions) > 1:
            parts.append(f"<h3>Session {number}</h3>")
        parts.append('<ol class="turns">')
        for event in session.events:
            if event.type_name not in ("user", "bot"):
                continue
            who = "Founder" if event.type_name == "user" else "Navigator"
            detail = ""
            if event.type_name == "user" and event.intent_name:
                detail = f' <span class="intent">({escape(event.intent_name)})</span>'
            elif event.type_name == "bot" and event.utter_action:
                detail = f' <span class="response">({escape(event.utter_action)})</span>'
            text = escape(display_text(event.text)).replace("\n", "<br>")
            buttons = event.data.get("data", {}).get("buttons") if event.type_name == "bot" else None
            button_html = ""
            if buttons:
                titles = ", ".join(escape(str(b.get("title", ""))) for b in buttons if isinstance(b, dict))
                button_html = f'<div class="buttons">Buttons: {titles}</div>'
            parts.append(
                f'<li class="turn {event.type_name}"><span class="who">{who}</span> '
                f'{time_html(event.time, zone)}{detail}'
                f'<div class="text">{text}</div>{button_html}</li>')
        parts.append("</ol>")
    parts.append("</section>")
    return "".join(parts)


# ---------------------------------------------------------------- output formats


def report_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def report_rows(report: Report) -> list[tuple[str, str, str, object]]:
    """The report as (section, item, measure, value) rows: the CSV export, one number per row."""
    rows: list[tuple[str, str, str, object]] = [
        ("period", "start", "", report.start), ("period", "end", "", report.end),
        ("period", "timezone", "", report.timezone)]
    rows += [("total", name, "", value) for name, value in report.totals().items()]
    for day in report.days:
        for name, value in asdict(day).items():
            if name != "day":
                rows.append(("day", day.day, name, value))
    for topic in report.topics:
        rows.append(("topic", topic.topic, "count", topic.count))
    for flow in report.flows:
        for name in ("started", "completed", "stopped", "abandoned"):
            rows.append(("flow", flow.flow, name, getattr(flow, name)))
        rows.append(("flow", flow.flow, "completion_rate", flow.completion_rate))
        for step, count in flow.drop_off.items():
            rows.append(("flow_drop_off", flow.flow, step, count))
    for item in report.zero_results:
        rows.append(("zero_result_search", item["time"], item["sender_id"], item["filters"]))
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (=, +, -, @ first: a founder's sender id or search
    filters) gets a leading apostrophe; numbers are unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def report_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "item", "measure", "value"))
    writer.writerows(tuple(_safe_cell(cell) for cell in row) for row in report_rows(report))
    return buffer.getvalue()


def _table(caption: str, headers: list[str], rows: list[list[object]], css: str = "") -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = [f'<th scope="row">{escape(str(row[0]))}</th>'] + [
            f'<td data-col="{escape(h)}">{escape(_fmt(v))}</td>' for h, v in zip(headers[1:], row[1:])]
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(headers)}">None in this period</td></tr>')
    return (f'<table class="{css or "report-table"}"><caption>{escape(caption)}</caption><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table>')


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2%}" if value <= 1 else f"{value:g}"
    return str(value)


def _percent(value: float) -> str:
    return f"{value:.2%}"


def report_html(report: Report) -> str:
    """The report as an HTML fragment: the totals, the charts (inline SVG) and the tables behind them."""
    days = [dt.date.fromisoformat(d.day) for d in report.days]
    zone = ZoneInfo(report.timezone)
    day_label = f"Day ({report.timezone})"
    totals = report.totals()
    labels = {
        "conversations": "Conversations", "user_messages": "Messages from founders",
        "bot_messages": "Messages from the assistant", "fallback_messages": "Fallback messages",
        "fallback_rate": "Fallback rate", "out_of_scope_messages": "Out-of-scope messages",
        "handoff_requests": "Handoff requests", "opportunity_searches": "Opportunity searches",
        "zero_result_searches": "Opportunity searches with zero results",
    }
    parts = [f'<section class="usage-report" data-start="{report.start}" data-end="{report.end}" '
             f'data-timezone="{escape(report.timezone)}">',
             f"<h2>Usage from {report.start} to {report.end} ({escape(report.timezone)} time)</h2>",
             '<dl class="report-totals">']
    for name, value in totals.items():
        shown = _percent(value) if name == "fallback_rate" else str(value)
        parts.append(f'<div><dt>{labels[name]}</dt><dd data-total="{name}">{shown}</dd></div>')
    parts.append("</dl>")

    def column(name: str) -> list[int]:
        return [getattr(d, name) for d in report.days]

    parts.append(charts.line_chart("Conversations per day", days, [("Conversations", column("conversations"))],
                                   "Conversations", x_label=day_label))
    parts.append(charts.line_chart("Messages per day", days, [("From founders", column("user_messages")),
                                                              ("From the assistant", column("bot_messages"))],
                                   "Messages", x_label=day_label))
    parts.append(charts.line_chart(
        "Fallbacks, handoff requests and zero-result searches per day", days,
        [("Fallback messages", column("fallback_messages")), ("Handoff requests", column("handoff_requests")),
         ("Zero-result searches", column("zero_result_searches"))], "Count", x_label=day_label))
    rates = [round(d.fallback_messages / d.user_messages * 100, 2) if d.user_messages else 0 for d in report.days]
    parts.append(charts.line_chart("Fallback rate per day", days, [("Fallback rate (%)", rates)], "Percent of messages",
                                   x_label=day_label))
    parts.append(_table("Per day", [day_label, "Conversations", "Messages from founders", "Messages from the assistant",
                                    "Fallback messages", "Handoff requests", "Zero-result searches"],
                        [[d.day, d.conversations, d.user_messages, d.bot_messages, d.fallback_messages,
                          d.handoff_requests, d.zero_result_searches] for d in report.days], "report-days"))

    top = report.topics[:15]
    parts.append(charts.bar_chart("Top topics", [f"{t.title} ({t.topic})" if t.title != t.topic else t.topic
                                                 for t in top], [t.count for t in top], "Questions"))
    parts.append(_table("Topics", ["Topic", "Title", "Questions"],
                        [[t.topic, t.title, t.count] for t in report.topics], "report-topics"))

    parts.append(charts.stacked_bar_chart(
        "Top flows by runs started", [f.flow for f in report.flows],
        [("Completed", [f.completed for f in report.flows]), ("Stopped", [f.stopped for f in report.flows]),
         ("Abandoned", [f.abandoned for f in report.flows])], "Runs"))
    parts.append(charts.bar_chart("Flow completion rate", [f.flow for f in report.flows],
                                  [round(f.completion_rate * 100, 2) for f in report.flows], "Runs completed",
                                  percent=True))
    drop_labels, drop_values = [], []
    for flow in report.flows:
        for step, count in flow.drop_off.items():
            drop_labels.append(f"{flow.flow}: {step}")
            drop_values.append(count)
    parts.append(charts.bar_chart("Drop-off step per flow", drop_labels, drop_values, "Runs that ended there"))
    parts.append(_table("Flows", ["Flow", "Started", "Completed", "Stopped", "Abandoned", "Completion rate"],
                        [[f.flow, f.started, f.completed, f.stopped, f.abandoned, f.completion_rate]
                         for f in report.flows], "report-flows"))
    parts.append(_table("Drop-off steps", ["Flow", "Step", "Runs"],
                        [[f.flow, step, count] for f in report.flows for step, count in f.drop_off.items()],
                        "report-drop-off"))
    zero_rows = []
    for item in report.zero_results:
        when = time_html(dt.datetime.fromisoformat(item["time"]), zone)
        zero_rows.append(f'<tr><th scope="row">{when}</th><td>{escape(item["filters"])}</td>'
                         f'<td><a href="/staff/conversations/{quote(item["sender_id"], safe="")}">'
                         f'{escape(item["sender_id"])}</a></td></tr>')
    if not zero_rows:
        zero_rows.append('<tr><td colspan="3">None in this period</td></tr>')
    parts.append('<table class="report-zero-results"><caption>Opportunity searches with zero results</caption>'
                 f'<thead><tr><th scope="col">Time ({escape(report.timezone)})</th><th scope="col">Search</th>'
                 '<th scope="col">Conversation</th></tr></thead><tbody>' + "".join(zero_rows) + "</tbody></table>")
    parts.append("</section>")
    return "".join(parts)


def report_page(report: Report) -> str:
    """A standalone HTML document around `report_html`, for `python -m bot report --format html`."""
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}"
             "table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;"
             "text-align:left}caption{font-weight:bold;text-align:left}.report-totals{display:grid;"
             "grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.5rem}.report-totals dd{margin:0;"
             "font-size:1.5rem}figure{margin:1.5rem 0}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Supplier Navigator usage '
            f'{report.start} to {report.end}</title><style>{style}</style></head><body>'
            f"{report_html(report)}</body></html>\n")
