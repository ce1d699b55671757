"""`python -m bot alerts run`: one digest per subscriber of the notices new (or amended) since the last run.

A notice is sent once per subscription; when its amendment number or closing date changes later it is sent
again, flagged as amended. Mail goes through a configured SMTP server, or to files in dry-run mode.
"""
from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from string import Template
from typing import Callable

from bot.alerts import store
from bot.alerts.unsubscribe import link_prefix
from bot.opportunities.conversation import notice_ref, query_from_dict, result_values
from bot.opportunities.model import Opportunity
from bot.opportunities.search import MAX_LIMIT, search

TEMPLATES = Path(__file__).parent
MAX_ITEMS = 25  # per digest; the rest come next time
AMENDED_FLAG = "[AMENDED] "


@dataclass
class SmtpConfig:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "Supplier Navigator <alerts@localhost>"


@dataclass
class RunReport:
    subscriptions: int = 0
    digests: int = 0
    notices: int = 0
    amended: int = 0
    failures: list[str] = field(default_factory=list)  # subscription ids and reasons, never addresses


def version_of(opp: Opportunity) -> str:
    """What makes a later copy of a notice "amended": its amendment number or its closing date changing."""
    return f"{opp.amendment_number or ''}|{opp.closing.isoformat() if opp.closing else ''}"


def pending(subscription: store.Subscription, now: dt.datetime, opportunities_db: Path | None,
            alerts_db: Path | None) -> list[tuple[Opportunity, bool]]:
    """Open matches not yet sent to this subscription (or sent in an older version), with an amended flag."""
    query = query_from_dict(subscription.query)
    if query is None:
        return []
    # A saved closing window ("this week") is about the day it was saved; alerts follow every open notice.
    query.closing_after = query.closing_before = None
    query.include_closed = False
    already = store.delivered(subscription.id, alerts_db)
    found: list[tuple[Opportunity, bool]] = []
    offset = 0
    while len(found) < MAX_ITEMS:
        query.limit, query.offset = MAX_LIMIT, offset
        result = search(query, now, opportunities_db)
        if not result.items:
            break
        for opp in result.items:
            sent_version = already.get(notice_ref(opp))
            if sent_version == version_of(opp):
                continue
            found.append((opp, sent_version is not None))
            if len(found) >= MAX_ITEMS:
                break
        offset += len(result.items)
        if offset >= result.total:
            break
    return found


def subject() -> str:
    """The digest's subject line, from digest_subject.txt."""
    return (TEMPLATES / "digest_subject.txt").read_text(encoding="utf-8").strip()


def render(subscription: store.Subscription, items: list[tuple[Opportunity, bool]], now: dt.datetime,
           unsubscribe_url: str = "") -> str:
    """The digest's text; `unsubscribe_url` is the link prefix (default: bot.alerts.unsubscribe.link_prefix())."""
    item_template = Template((TEMPLATES / "digest_item.txt").read_text(encoding="utf-8"))
    lines = []
    for number, (opp, amended) in enumerate(items, start=1):
        values = result_values(opp, now, number)
        values["link"] = values["link"] or f"reference {values['reference']}"
        lines.append(item_template.substitute(values, flag=AMENDED_FLAG if amended else ""))
    return Template((TEMPLATES / "digest.txt").read_text(encoding="utf-8")).substitute(
        description=subscription.description or "your search", items="".join(lines), token=subscription.token,
        unsubscribe_link=f"{unsubscribe_url or link_prefix()}{subscription.token}")


def build_message(subscription: store.Subscription, body: str, sender: str, unsubscribe_url: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject()
    message["From"] = sender
    message["To"] = subscription.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="supplier-navigator")
    message["List-Unsubscribe"] = f"<{unsubscribe_url or link_prefix()}{subscription.token}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: the link accepts a POST
    message.set_content(body)
    return message


def smtp_sender(config: SmtpConfig) -> Callable[[EmailMessage], None]:
    def send(message: EmailMessage) -> None:
        with smtplib.SMTP(config.host, config.port, timeout=30) as client:
            if config.starttls:
                client.starttls(context=ssl.create_default_context())
            if config.user:
                client.login(config.user, config.password)
            client.send_message(message)

    return send


def file_sender(directory: Path) -> Callable[[EmailMessage], None]:
    """Dry run: each digest becomes DIRECTORY/digest-<n>.eml instead of being mailed."""
    directory.mkdir(parents=True, exist_ok=True)

    def send(message: EmailMessage) -> None:
        number = len(list(directory.glob("digest-*.eml"))) + 1
        (directory / f"digest-{number:04d}.eml").write_bytes(bytes(message))

    return send


def run(now: dt.datetime, send: Callable[[EmailMessage], None], *, sender: str, unsubscribe_url: str = "",
        opportunities_db: Path | None = None, alerts_db: Path | None = None) -> RunReport:
    """Sends one digest per subscription with something new; records what was sent only after it was sent."""
    report = RunReport()
    for subscription in store.subscriptions(alerts_db):
        report.subscriptions += 1
        items = pending(subscription, now, opportunities_db, alerts_db)
        if not items:
            store.record_delivery(subscription.id, {}, now, alerts_db)
            continue
        message = build_message(subscription, render(subscription, items, now, unsubscribe_url), sender,
                                unsubscribe_url)
        try:
            send(message)
        except (OSError, smtplib.SMTPException) as exc:
            # The exception text can hold the address (SMTPRecipientsRefused): report its kind only.
            report.failures.append(f"subscription {subscription.id}: {type(exc).__name__}")
            continue
        store.record_delivery(subscription.id, {notice_ref(o): version_of(o) for o, _ in items}, now, alerts_db)
        report.digests += 1
        report.notices += len(items)
        report.amended += sum(1 for _, amended in items if amended)
    return report
