"""Knowledge gaps: the questions the assistant could not answer, grouped by similarity.

A gap message is a founder's typed message (not a button payload, not an answer to a flow's question) that
the NLU sent to `nlu_fallback`, classified below the FallbackClassifier threshold of config.yml, classified
`out_of_scope`, or that Rasa answered with `action_default_fallback`.

Grouping: term-frequency vectors (scikit-learn's TfidfVectorizer with the IDF off, see `_clusters`) over the
words and character n-grams of the normalized texts without stop words, cosine similarity, average-linkage
agglomerative clustering cut at SIMILARITY (deterministic: no random state). Each group is named by its most
central message; its key is a hash of that message's normalized text. Marking a group handled stores its key
in DATA_DIR/staff.db; a group counts as handled when the key of any of its messages was marked, so the flag
survives new messages joining the group and the period changing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.staff.report import fallback_threshold, time_html, user_turns
from bot.staff.tracker_events import conversations, display_text, report_zone

SIMILARITY = 0.4  # average cosine similarity at which questions belong together (related ~0.6, unrelated <0.15)
EXAMPLES = 5
KEY_RE = re.compile(r"^[0-9a-f]{16}$")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_RE = re.compile(r"(?<![\w-])\+?\(?\d[\d\s().-]{7,}\d(?![\w-])")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _phone(match: re.Match) -> str:
    candidate = match.group(0)
    digits = sum(ch.isdigit() for ch in candidate)
    if digits < 10 or digits > 15 or DATE_RE.match(candidate) or candidate.isdigit():
        return candidate  # a date, an amount or a reference number, not a phone number
    return "[phone]"


def redact(text: str) -> str:
    """Email addresses and phone numbers typed into a question are not shown on the gaps page (personal data
    belongs only in the concierge queue)."""
    return PHONE_RE.sub(_phone, EMAIL_RE.sub("[email]", text))


@dataclass(frozen=True)
class GapMessage:
    text: str
    sender_id: str
    time: str  # ISO 8601, UTC
    reason: str  # "fallback", "low confidence" or "out of scope"

    def to_dict(self) -> dict:
        return {"text": self.text, "sender_id": self.sender_id, "time": self.time, "reason": self.reason}


@dataclass
class GapGroup:
    key: str
    label: str
    count: int
    examples: list[GapMessage] = field(default_factory=list)
    messages: list[GapMessage] = field(default_factory=list)
    handled: bool = False

    @property
    def conversations(self) -> int:
        return len({m.sender_id for m in self.messages})

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "count": self.count, "conversations": self.conversations,
                "handled": self.handled, "examples": [m.to_dict() for m in self.examples]}


def normalize(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed: the form messages are compared in."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return " ".join(text.split())


def text_key(text: str) -> str:
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:16]


def gap_messages(tracker_url: str, start: dt.date, end: dt.date, threshold: float | None = None,
                 zone: ZoneInfo | None = None) -> list[GapMessage]:
    """The gap messages of the conversations started from `start` to `end`, days in `zone` (default
    REPORT_TIMEZONE)."""
    threshold = fallback_threshold() if threshold is None else threshold
    found = []
    for conversation in conversations(tracker_url, start, end, zone):
        for turn in user_turns(conversation):
            reason = turn.gap_reason(threshold)
            if reason and normalize(turn.event.text):
                found.append(GapMessage(redact(turn.event.text.strip()), conversation.sender_id,
                                        turn.event.time.isoformat(timespec="seconds"), reason))
    return found


def _without_stop_words(text: str) -> str:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return " ".join(word for word in text.split() if word not in ENGLISH_STOP_WORDS) or text


def _clusters(texts: list[str]) -> tuple[list[int], "object"]:
    """Cluster labels for the normalized texts, and their cosine-similarity matrix.

    Term frequencies without IDF: an IDF fitted to each period's messages made the same two questions more
    or less alike depending on what else was asked that period (so groups and keys moved between periods);
    dropping English stop words does the down-weighting instead and keeps every pair's similarity fixed.
    """
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    from scipy.sparse import csr_matrix

    def features(**options) -> "object":
        try:
            return TfidfVectorizer(use_idf=False, sublinear_tf=True, **options).fit_transform(content)
        except ValueError:  # "empty vocabulary": e.g. every message one character or only punctuation
            return csr_matrix((len(content), 0))

    content = [_without_stop_words(text) for text in texts]
    words = features(analyzer="word")
    chars = features(analyzer="char_wb", ngram_range=(3, 5))
    both = hstack([words, chars]).tocsr()
    similarity = (np.clip(cosine_similarity(both), 0.0, 1.0) if both.shape[1]
                  else np.zeros((len(content), len(content))))
    np.fill_diagonal(similarity, 1.0)  # a message without any feature is still like itself
    if len(texts) == 1:
        return [0], similarity
    model = AgglomerativeClustering(n_clusters=None, affinity="precomputed", linkage="average",
                                    distance_threshold=1.0 - SIMILARITY)
    return list(model.fit_predict(1.0 - similarity)), similarity


def group_messages(messages: list[GapMessage], handled_keys: set[str] | None = None) -> list[GapGroup]:
    """Groups similar messages; unhandled groups first, then by size."""
    handled_keys = handled_keys or set()
    if not messages:
        return []
    # Identical questions are one point for the clustering (their count still adds up).
    distinct = sorted({normalize(m.text) for m in messages})
    labels, similarity = _clusters(distinct)
    by_text: dict[str, list[GapMessage]] = {}
    for message in sorted(messages, key=lambda m: (m.time, m.sender_id, m.text)):
        by_text.setdefault(normalize(message.text), []).append(message)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(int(label), []).append(index)
    groups = []
    for indexes in members.values():
        # The most central question names the group: highest summed similarity to the others, weighted by
        # how often each was asked; ties go to the alphabetically first, so the choice is stable.
        def centrality(i: int) -> tuple[float, str]:
            score = sum(similarity[i][j] * len(by_text[distinct[j]]) for j in indexes)
            return (-round(float(score), 9), distinct[i])

        centre = min(indexes, key=centrality)
        grouped = sorted((m for i in indexes for m in by_text[distinct[i]]),
                         key=lambda m: (m.time, m.sender_id, m.text))
        representative = by_text[distinct[centre]][0]
        keys = {text_key(m.text) for m in grouped}
        groups.append(GapGroup(
            key=text_key(representative.text), label=display_text(representative.text, 120), count=len(grouped),
            examples=grouped[-EXAMPLES:][::-1], messages=grouped, handled=bool(keys & handled_keys)))
    groups.sort(key=lambda g: (g.handled, -g.count, g.label.lower(), g.key))
    return groups


def find_gaps(tracker_url: str, start: dt.date, end: dt.date, state_db: Path,
              threshold: float | None = None, zone: ZoneInfo | None = None) -> list[GapGroup]:
    """The gap groups of the conversations started from `start` to `end` (days in `zone`, default
    REPORT_TIMEZONE), with their handled flags."""
    return group_messages(gap_messages(tracker_url, start, end, threshold, zone), handled_keys(state_db))


# ---------------------------------------------------------------- handled flags (DATA_DIR/staff.db)


def _connect(state_db: Path) -> sqlite3.Connection:
    state_db.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(state_db)
    connection.execute("CREATE TABLE IF NOT EXISTS gap_handled (key TEXT PRIMARY KEY, handled_at TEXT NOT NULL)")
    return connection


def handled_keys(state_db: Path) -> set[str]:
    if not state_db.exists():
        return set()
    with _connect(state_db) as connection:
        return {row[0] for row in connection.execute("SELECT key FROM gap_handled")}


def mark_handled(state_db: Path, key: str, handled: bool = True, now: dt.datetime | None = None) -> None:
    """Marks a gap group handled (or not any more); a key not shaped like a group key is a ValueError."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ValueError(f"not a gap group key: {key!r}")
    connection = _connect(state_db)
    try:
        with connection:
            if handled:
                when = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
                connection.execute("INSERT OR REPLACE INTO gap_handled (key, handled_at) VALUES (?, ?)", (key, when))
            else:
                connection.execute("DELETE FROM gap_handled WHERE key = ?", (key,))
    finally:
        connection.close()


# ---------------------------------------------------------------- HTML


def gaps_html(groups: list[GapGroup], csrf_token: str, zone: ZoneInfo | None = None) -> str:
    """The gap groups as an HTML fragment, each with a form that marks it handled (or reopens it); the example
    messages' times in `zone` (default REPORT_TIMEZONE)."""
    if not groups:
        return '<p class="gaps-empty">No unanswered questions in this period.</p>'
    zone = zone or report_zone()
    parts = ['<ol class="gap-groups">']
    for group in groups:
        state = "handled" if group.handled else "open"
        parts.append(
            f'<li class="gap-group gap-{state}" id="gap-{group.key}" data-key="{group.key}">'
            f'<details><summary><span class="gap-label">{escape(group.label)}</span> '
            f'<span class="gap-count">{group.count} message{"s" if group.count != 1 else ""}</span> '
            f'<span class="gap-conversations">in {group.conversations} conversation'
            f'{"s" if group.conversations != 1 else ""}</span>'
            f'{" <strong class=gap-state>handled</strong>" if group.handled else ""}</summary>'
            '<ul class="gap-examples">')
        for message in group.examples:
            parts.append(
                f'<li><q>{escape(display_text(message.text, 300))}</q> <span class="gap-reason">{escape(message.reason)}</span> '
                f'{time_html(dt.datetime.fromisoformat(message.time), zone)} '
                f'<a href="/staff/conversations/{quote(message.sender_id, safe="")}">conversation '
                f'{escape(message.sender_id)}</a></li>')
        parts.append("</ul></details>")
        parts.append(
            '<form method="post" action="/staff/gaps/handled" class="gap-handled-form">'
            f'<input type="hidden" name="key" value="{group.key}">'
            f'<input type="hidden" name="handled" value="{"0" if group.handled else "1"}">'
            f'<input type="hidden" name="csrf" value="{escape(csrf_token, quote=True)}">'
            f'<button type="submit">{"Reopen" if group.handled else "Mark handled"}</button></form></li>')
    parts.append("</ol>")
    return "".join(parts)
