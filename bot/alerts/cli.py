"""`python -m bot alerts run [--dry-run DIR] [--smtp-host HOST ...]`."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from bot import settings
from bot.alerts import digest
from bot.alerts.unsubscribe import link_prefix


def register(subparsers) -> None:
    parser = subparsers.add_parser("alerts", help="Email alerts for saved opportunity searches.")
    commands = parser.add_subparsers(dest="alerts_command", metavar="ACTION")
    commands.required = True
    run = commands.add_parser("run", help="Send one digest per subscriber of the notices new since the last run.")
    run.add_argument("--dry-run", type=Path, metavar="DIR", help="write each digest to DIR/digest-N.eml instead")
    run.add_argument("--smtp-host", default=None, help="SMTP server (default: ALERTS_SMTP_HOST)")
    run.add_argument("--smtp-port", type=int, default=None, help="SMTP port (default: ALERTS_SMTP_PORT)")
    run.add_argument("--starttls", action="store_true", default=None, help="upgrade the connection with STARTTLS")
    run.set_defaults(handler=run_alerts)


def _now() -> dt.datetime:
    # The command line is the edge where "now" is decided.
    return dt.datetime.now(dt.timezone.utc)


def run_alerts(args: argparse.Namespace) -> int:
    sender = settings.get("ALERTS_FROM")
    unsubscribe_url = link_prefix()
    if args.dry_run:
        send = digest.file_sender(args.dry_run)
        where = f"files in {args.dry_run}"
    else:
        host = args.smtp_host or settings.get("ALERTS_SMTP_HOST")
        if not host:
            print("no SMTP server: set ALERTS_SMTP_HOST or pass --smtp-host (or use --dry-run DIR)", file=sys.stderr)
            return 1
        config = digest.SmtpConfig(
            host=host, port=args.smtp_port or settings.get_int("ALERTS_SMTP_PORT"),
            user=settings.get("ALERTS_SMTP_USER"), password=settings.get("ALERTS_SMTP_PASSWORD"),
            starttls=args.starttls if args.starttls is not None else settings.get_bool("ALERTS_SMTP_STARTTLS"),
            sender=sender,
        )
        send = digest.smtp_sender(config)
        where = f"SMTP {config.host}:{config.port}"
    report = digest.run(_now(), send, sender=sender, unsubscribe_url=unsubscribe_url)
    print(f"{report.subscriptions} subscription(s), {report.digests} digest(s) sent to {where}, "
          f"{report.notices} notice(s) of which {report.amended} amended")
    for failure in report.failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if report.failures else 0
