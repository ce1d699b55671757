"""The concierge form's answers: whether a message answers the form at all, and what a valid name, company
and description look like. The email address is read by bot.alerts.store.find_email, as for alerts.

Used by the form's validators (actions/handoff.py); kept here, without Rasa, so the rules read and test on
their own.
"""
from __future__ import annotations

import re

# Intents that mean "not an answer": the form steps aside and the matching rule runs (answer, cancel, ...).
NOT_ANSWERS = {"stop", "request_human", "restart_flow", "ask_capabilities", "bot_challenge", "define_term",
               "flow_yes", "flow_no"}
QUESTION_WORDS = {"what", "whats", "what's", "how", "when", "where", "why", "who", "which", "can", "could",
                  "do", "does", "is", "are", "should", "would", "will", "tell", "explain"}
LIMITS = {"name": 100, "company": 200, "description": 1000}


def is_question(intent: str, text: str, long_answer: bool) -> bool:
    """True when the message is a question for the assistant rather than an answer to the form.

    A topic intent alone is not enough (a company name can look like a topic to the classifier): the text must
    also read like a question, or, for the short answers, be longer than a name or company usually is.
    """
    if intent in NOT_ANSWERS:
        return True
    if not (intent.startswith("topic_") or intent in {"other_jurisdiction", "out_of_scope"}):
        return False
    words = re.findall(r"[\w']+", text.lower())
    questiony = text.rstrip().endswith("?") or (bool(words) and words[0] in QUESTION_WORDS)
    return questiony or (not long_answer and len(words) > 8)


def read_name(text: str) -> str | None:
    """The name typed, or None when it cannot be one (empty, too long, an email address, no letters)."""
    text = text.strip()
    return text if 0 < len(text) <= LIMITS["name"] and "@" not in text and re.search(r"[^\W\d_]", text) else None


def read_company(text: str) -> str | None:
    """The company typed, or None when it cannot be one (empty, too long, punctuation only)."""
    text = text.strip()
    return text if 0 < len(text) <= LIMITS["company"] and re.search(r"\w", text) else None


def read_description(text: str) -> str | None:
    """The description typed, or None when it is too short or too long."""
    text = text.strip()
    return text if 3 <= len(text) <= LIMITS["description"] else None
