"""The unsubscribe link of alert emails: GET /alerts/unsubscribe?token=… asks, POST stops the alerts.

A GET never changes anything, so a mail scanner or link preview that opens the link unsubscribes nobody; the page
it shows has a button that POSTs the token. A POST with the token in the query string is also accepted, which is
what mail programs send for the one-click `List-Unsubscribe-Post` header (RFC 8058). The page texts are the HTML
files in pages/.
"""
from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import parse_qs

from bot import settings
from bot.alerts import store

PATH = "/alerts/unsubscribe"
PAGES = Path(__file__).parent / "pages"
MAX_FORM_BYTES = 4096
logger = logging.getLogger(__name__)


@dataclass
class Page:
    status: int
    html: str


def link_prefix() -> str:
    """What a token is appended to: ALERTS_UNSUBSCRIBE_URL, else this web server's own page."""
    configured = settings.get("ALERTS_UNSUBSCRIBE_URL")
    if configured:
        return configured
    return f"http://{settings.get('HOST')}:{settings.get('WEB_PORT')}{PATH}?token="


def _page(name: str, status: int, **values: str) -> Page:
    text = Template((PAGES / f"{name}.html").read_text(encoding="utf-8"))
    return Page(status, text.substitute({key: html.escape(value) for key, value in values.items()}))


def _token(values: dict[str, list[str]]) -> str | None:
    """The token if it has the shape of one; anything else is treated as an unknown link."""
    token = (values.get("token") or [""])[0].strip().upper()
    return token if store.find_token(token) == token else None


def confirm_page(query_string: str) -> Page:
    """GET: the question and a button, or the "not valid" page. Never changes anything."""
    token = _token(parse_qs(query_string))
    try:
        subscription = store.find_subscription(token) if token else None
    except Exception:
        logger.exception("could not read alert subscriptions")
        return _page("unsubscribe_error", 503)
    if subscription is None:
        return _page("unsubscribe_unknown", 404)
    return _page("unsubscribe_confirm", 200, token=subscription.token,
                 description=subscription.description or "your search")


def unsubscribe(query_string: str, body: bytes) -> Page:
    """POST: stops the alerts of the token in the form (or in the query string) and says so."""
    values = parse_qs(query_string)
    values.update(parse_qs(body.decode("utf-8", errors="replace")))
    token = _token(values)
    try:
        count = store.unsubscribe(token=token) if token else 0
    except Exception:
        logger.exception("could not delete an alert subscription")
        return _page("unsubscribe_error", 503)
    return _page("unsubscribe_done", 200) if count else _page("unsubscribe_unknown", 404)
