"""Builds a tracker store with known conversations, written by Rasa's own SQLTrackerStore.

`Script` writes a conversation the way the running assistant would: Rasa event objects with explicit
timestamps (one second apart unless a time is given). `write_store` saves them through
`rasa.core.tracker_store.SQLTrackerStore` into a SQLite file, so the report reads exactly the rows Rasa writes.

`known_store` is the fixture conversation set the staff tests check every number against; the expected
figures are written out next to it (KNOWN_*), derived by hand from the scripts, not from the code under test.
Its times are Toronto wall-clock times (`at`), the report's default zone: "just before midnight" means the
report's midnight.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from async_helpers import run as run_async

UTC = dt.timezone.utc
TORONTO = ZoneInfo("America/Toronto")  # REPORT_TIMEZONE's default
FALLBACK_THRESHOLD = 0.15  # the tests pass it explicitly; config.yml's value is checked separately


def config_fallback_threshold() -> float:
    """The FallbackClassifier threshold written in the project's config.yml (read here independently)."""
    import yaml

    from bot.settings import PROJECT_ROOT

    pipeline = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())["pipeline"]
    return float(next(step for step in pipeline if step["name"] == "FallbackClassifier")["threshold"])


def at(day: str, clock: str, zone: dt.tzinfo = TORONTO) -> dt.datetime:
    """The moment a wall clock in `zone` shows `clock` on `day` (Toronto unless told)."""
    return dt.datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=zone)


class Script:
    """One sender's conversation(s) as Rasa events."""

    def __init__(self, sender_id: str, start: dt.datetime):
        from rasa.shared.core.events import ActionExecuted, SessionStarted

        self.sender_id = sender_id
        self.clock = start.astimezone(UTC)  # UTC: adding seconds to a zoned wall time skips DST changes
        self.events: list[Any] = []
        self._add(ActionExecuted("action_session_start", timestamp=self._tick()))
        self._add(SessionStarted(timestamp=self._tick(0)))
        self._add(ActionExecuted("action_listen", timestamp=self._tick(0)))

    def _tick(self, seconds: float = 1.0) -> float:
        stamp = self.clock.timestamp()
        self.clock += dt.timedelta(seconds=seconds)
        return stamp

    def _add(self, event: Any) -> "Script":
        self.events.append(event)
        return self

    def new_session(self, start: dt.datetime) -> "Script":
        from rasa.shared.core.events import ActionExecuted, SessionStarted

        self.clock = start.astimezone(UTC)
        self._add(ActionExecuted("action_session_start", timestamp=self._tick()))
        self._add(SessionStarted(timestamp=self._tick(0)))
        return self._add(ActionExecuted("action_listen", timestamp=self._tick(0)))

    def user(self, text: str, intent: str, confidence: float = 0.9, ranking: list[tuple[str, float]] | None = None,
             when: dt.datetime | None = None) -> "Script":
        from rasa.shared.core.events import UserUttered

        if when is not None:
            self.clock = when.astimezone(UTC)
        ranking = ranking or [(intent, confidence)]
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": [],
            "intent_ranking": [{"name": name, "confidence": value} for name, value in ranking],
        }
        return self._add(UserUttered(text, intent={"name": intent, "confidence": confidence}, parse_data=parse_data,
                                     timestamp=self._tick()))

    def fallback(self, text: str, best: str = "flow_inform", best_confidence: float = 0.1) -> "Script":
        """A message the FallbackClassifier turned into nlu_fallback (as Rasa 3.6 records it)."""
        return self.user(text, "nlu_fallback", FALLBACK_THRESHOLD,
                         ranking=[("nlu_fallback", FALLBACK_THRESHOLD), (best, best_confidence)])

    def action(self, name: str, policy: str = "RulePolicy") -> "Script":
        from rasa.shared.core.events import ActionExecuted

        return self._add(ActionExecuted(name, policy=policy, confidence=1.0, timestamp=self._tick()))

    def listen(self) -> "Script":
        return self.action("action_listen")

    def bot(self, response: str, text: str | None = None, **metadata: Any) -> "Script":
        from rasa.shared.core.events import BotUttered

        metadata = {"utter_action": response, **metadata}
        return self._add(BotUttered(text or f"({response})", data={}, metadata=metadata, timestamp=self._tick()))

    def utter(self, response: str, text: str | None = None, **metadata: Any) -> "Script":
        """A response run as its own action (`utter_…` action then the message), then listening."""
        return self.action(response).bot(response, text, **metadata).listen()

    def slot(self, name: str, value: Any) -> "Script":
        from rasa.shared.core.events import SlotSet

        return self._add(SlotSet(name, value, timestamp=self._tick(0)))

    def loop(self, name: str | None) -> "Script":
        from rasa.shared.core.events import ActiveLoop

        return self._add(ActiveLoop(name, timestamp=self._tick(0)))

    def rejected(self, action: str) -> "Script":
        from rasa.shared.core.events import ActionExecutionRejected

        return self._add(ActionExecutionRejected(action, timestamp=self._tick(0)))

    # ---- the assistant's recurring patterns

    def topic(self, text: str, topic_id: str, title: str, confidence: float = 0.9) -> "Script":
        self.user(text, "topic_" + topic_id.replace("-", "_"), confidence)
        self.action("action_answer_topic")
        self.bot("utter_topic_answer", f"**{title}** ...", template="utter_topic_answer", title=title)
        return self.slot("last_topic", title).listen()

    def form_start(self, form: str, first_slot: str) -> "Script":
        self.action(form).loop(form).slot("requested_slot", first_slot)
        return self.bot(f"utter_ask_{first_slot}").listen()

    def form_answer(self, text: str, intent: str, form: str, filled: str, next_slot: str | None,
                    confidence: float = 1.0, ranking: list[tuple[str, float]] | None = None) -> "Script":
        self.user(text, intent, confidence, ranking).slot(filled, text).action(form).slot(filled, text)
        if next_slot:
            return self.slot("requested_slot", next_slot).bot(f"utter_ask_{next_slot}").listen()
        return self.slot("requested_slot", None).loop(None)

    def stop_form(self, form: str, response: str = "utter_flow_stopped") -> "Script":
        self.user("stop", "stop", 0.95).rejected(form).action("action_deactivate_loop").loop(None)
        self.slot("requested_slot", None)
        return self.utter(response)


def write_store(path: Path, scripts: list[Script]) -> str:
    """Saves the scripts through Rasa's SQLTrackerStore; returns the store's SQLAlchemy URL."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    for script in scripts:
        tracker = DialogueStateTracker.from_events(script.sender_id, script.events)
        run_async(store.save(tracker))
    store.engine.dispose()
    return f"sqlite:///{path}"


# ---------------------------------------------------------------- the known conversations

VOR_TITLE = "What is a Vendor of Record (VOR) arrangement?"
INVOICE_TITLE = "How do I invoice a government client?"
DEBRIEF_TITLE = "How do I get a debriefing?"

SNOW = ["can I bid on snow plowing contracts in Nunavut", "snow plowing contracts nunavut bids",
        "paperwork for snow plowing nunavut"]
GRANTS = ["is there a grant for hiring students", "grants for hiring a student?"]
WEATHER = "what's the weather like today"
GIBBERISH = "asdf qwer"
FORM_ANSWER = "about 50000 dollars"
BEFORE_RANGE_QUESTION = "blah snow plowing nunavut permits"


def known_scripts() -> list[Script]:
    scripts = []

    # 2026-03-01, crossing midnight: belongs to March 1 (its first message), out of the tested period.
    f = Script("f-before", at("2026-03-01", "23:59:30"))
    f.user("hello", "greet", 0.95).utter("utter_greet")
    f.fallback(BEFORE_RANGE_QUESTION).action("action_fallback_suggestions")
    f.bot("utter_fallback_suggestions").listen()
    f.user("/topic_invoicing", "topic_invoicing", 1.0, when=at("2026-03-02", "00:00:30")).action("action_answer_topic")
    f.bot("utter_topic_answer", title=INVOICE_TITLE).listen()
    scripts.append(f)

    # 2026-03-02 A: deep link to a topic, a typed topic question, a handoff.
    a = Script("a-topic-link", at("2026-03-02", "10:00:00"))
    a.topic("/topic_vor_what_is", "vor-what-is", VOR_TITLE, 1.0)
    a.topic("how do I get paid by a ministry", "invoicing", INVOICE_TITLE, 0.8)
    a.user("/request_human", "request_human", 1.0).action("action_request_human")
    a.bot("utter_handoff_recorded", reference="H00001").listen()
    scripts.append(a)

    # 2026-03-02 B: deep link to a flow, completed; the amount typed is a form answer, not a fallback.
    b = Script("b-flow-complete", at("2026-03-02", "11:00:00"))
    b.user("/start_rules_check", "start_rules_check", 1.0).utter("utter_rules_intro")
    b.form_start("rules_check", "deal_buyer")
    b.form_answer('/flow_inform{"buyer_type": "bps"}', "flow_inform", "rules_check", "deal_buyer", "deal_value")
    b.form_answer(FORM_ANSWER, "nlu_fallback", "rules_check", "deal_value", None, FALLBACK_THRESHOLD,
                  [("nlu_fallback", FALLBACK_THRESHOLD), ("flow_inform", 0.1)])
    b.action("action_rules_verdict").bot("utter_rules_method").listen()
    scripts.append(b)

    # 2026-03-03 C: a flow stopped at its first question, two fallbacks, one out-of-scope question.
    c = Script("c-flow-stop", at("2026-03-03", "09:00:00"))
    c.user("hello", "greet", 0.95).utter("utter_greet")
    c.user("check if I'm ready for a VOR", "start_vor_readiness", 0.9).utter("utter_vor_intro")
    c.form_start("vor_readiness", "vor_offering_covered")
    c.stop_form("vor_readiness")
    for text in SNOW[:2]:
        c.fallback(text).action("action_fallback_suggestions").bot("utter_fallback_suggestions").listen()
    c.user(WEATHER, "out_of_scope", 0.9).utter("utter_out_of_scope")
    scripts.append(c)

    # 2026-03-03 D: a search with no results, one with results, a core fallback, a low-confidence topic.
    d = Script("d-search", at("2026-03-03", "15:00:00"))
    d.user("find underwater basket weaving tenders", "search_opportunities", 0.95).action("action_search_opportunities")
    d.bot("utter_opportunities_none_found", filters="words: underwater basket weaving").listen()
    d.user("find cleaning tenders in ottawa", "search_opportunities", 0.95).action("action_search_opportunities")
    d.bot("utter_opportunities_found").bot("utter_opportunity_result").listen()
    d.user(GIBBERISH, "greet", 0.4).action("action_default_fallback").bot("utter_default").listen()
    d.topic(SNOW[2], "invoicing", INVOICE_TITLE, 0.12)
    scripts.append(d)

    # 2026-03-04 E: two sessions of one sender: a flow left unfinished, then a greeting.
    e = Script("e-two-sessions", at("2026-03-04", "08:00:00"))
    e.user("/start_msme_profile", "start_msme_profile", 1.0).utter("utter_msme_intro")
    e.form_start("msme_profile", "msme_employees")
    e.form_answer("12 people", "flow_inform", "msme_profile", "msme_employees", "msme_revenue", 0.9)
    e.new_session(at("2026-03-04", "20:00:00"))
    e.user("hi", "greet", 0.97).utter("utter_greet")
    scripts.append(e)

    # 2026-03-04 H: two similar unanswered questions and a handoff.
    h = Script("h-grants", at("2026-03-04", "12:00:00"))
    for text in GRANTS:
        h.fallback(text, "topic_invoicing", 0.05).action("action_fallback_suggestions")
        h.bot("utter_fallback_suggestions").listen()
    h.user("/request_human", "request_human", 1.0).action("action_request_human")
    h.bot("utter_handoff_recorded", reference="H00002").listen()
    scripts.append(h)

    # 2026-03-05 at midnight exactly: the day after the tested period.
    g = Script("g-after", at("2026-03-05", "00:00:00"))
    g.topic("/topic_debriefing", "debriefing", DEBRIEF_TITLE, 1.0)
    scripts.append(g)
    return scripts


def known_store(path: Path) -> str:
    return write_store(path, known_scripts())


PERIOD = (dt.date(2026, 3, 2), dt.date(2026, 3, 4))

# What the known conversations hold for March 2-4, counted by hand from the scripts above.
KNOWN_DAYS = {
    #              conversations, user msgs, bot msgs, fallbacks, handoffs, zero-result searches
    "2026-03-02": (2, 3 + 3, 3 + 4, 0, 1, 0),
    "2026-03-03": (2, 6 + 4, 7 + 5, 2 + 2, 0, 1),
    "2026-03-04": (3, 2 + 1 + 3, 3 + 1 + 3, 2, 1, 0),
}
KNOWN_TOTALS = {
    "conversations": 7, "user_messages": 22, "bot_messages": 26, "fallback_messages": 6,
    "fallback_rate": round(6 / 22, 4), "out_of_scope_messages": 1, "handoff_requests": 2,
    "opportunity_searches": 2, "zero_result_searches": 1,
}
KNOWN_TOPICS = [("invoicing", INVOICE_TITLE, 2), ("vor-what-is", VOR_TITLE, 1)]
KNOWN_FLOWS = {
    # flow: (started, completed, stopped, abandoned, drop-off)
    "msme_profile": (1, 0, 0, 1, {"msme_revenue": 1}),
    "rules_check": (1, 1, 0, 0, {}),
    "vor_readiness": (1, 0, 1, 0, {"vor_offering_covered": 1}),
}
