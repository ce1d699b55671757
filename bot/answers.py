"""What the assistant says for a knowledge topic, as response names and their values (text lives in domain/)."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from bot.knowledge.freshness import freshness
from bot.knowledge.training import intent_for, topic_for_intent

MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Reply:
    response: str
    values: dict[str, Any] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)


def topic_button(topic_id: str, title: str) -> dict[str, str]:
    return {"title": title, "payload": f"/{intent_for(topic_id)}"}


def topic_replies(topic: dict[str, Any], today: dt.date) -> list[Reply]:
    """The answer (with its source, review date and related topics as buttons), preceded by a note when stale."""
    source = topic.get("source") or {}
    cited = {"source_title": source.get("title", ""), "source_url": source.get("url", ""),
             "last_reviewed": topic["last_reviewed"].isoformat(), "review_every_days": topic["review_every_days"]}
    replies = []
    if freshness(topic["last_reviewed"], topic["review_every_days"], today) == "overdue":
        replies.append(Reply("utter_topic_stale", cited))
    steps = topic.get("next_steps") or []
    values = {**cited, "title": topic["title"], "answer": topic["answer"],
              "next_steps": "\n".join(f"- {step}" for step in steps)}
    buttons = [topic_button(r["id"], r["title"]) for r in topic.get("related", [])]
    replies.append(Reply("utter_topic_answer" if steps else "utter_topic_answer_short", values, buttons))
    return replies


def suggestions(intent_ranking: Iterable[dict[str, Any]], search_results: Iterable[tuple[str, str, float]],
                titles: dict[str, str], limit: int = MAX_SUGGESTIONS) -> list[dict[str, str]]:
    """Up to `limit` topic buttons: the classifier's best topic guesses first, then full-text matches."""
    chosen: list[str] = []
    for ranked in intent_ranking:
        topic_id = topic_for_intent(ranked.get("name"))
        if topic_id and topic_id in titles and topic_id not in chosen and ranked.get("confidence", 0) >= 0.05:
            chosen.append(topic_id)
        if len(chosen) >= 2:  # leave room for a full-text match the classifier did not rank
            break
    for topic_id, _title, _score in search_results:
        if topic_id in titles and topic_id not in chosen:
            chosen.append(topic_id)
    return [topic_button(topic_id, titles[topic_id]) for topic_id in chosen[:limit]]


def glossary_entry(glossary: list[dict[str, Any]], term: str | None) -> dict[str, Any] | None:
    """The values for utter_glossary_definition for a term (any case), or None if it is not in the glossary."""
    wanted = (term or "").strip().casefold()
    for row in glossary:
        if row["term"].casefold() == wanted:
            source = row.get("source") or {}
            return {"term": row["term"], "expansion": row.get("expansion") or row["term"],
                    "definition": row["definition"], "source_title": source.get("title", ""),
                    "source_url": source.get("url", ""), "last_reviewed": str(row["last_reviewed"])}
    return None


def glossary_buttons(glossary: list[dict[str, Any]], limit: int = 12) -> list[dict[str, str]]:
    """Buttons that ask for the first `limit` glossary terms."""
    return [{"title": row["term"], "payload": "/define_term" + json.dumps({"term": row["term"]})}
            for row in glossary[:limit]]
