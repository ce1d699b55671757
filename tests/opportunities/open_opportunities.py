"""An opportunities.db whose notices are open relative to a given `now`, built from the real bundled samples.

The bundled snapshot has closed by today, so the sample notices are shifted forward in time (keeping each notice's
hour of closing), and a few notices are added in the samples' own shape for the topics the conversation tests
search for (cybersecurity, web development, IT codes, Health Canada, a known value, an amendment).
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

from bot.opportunities import store
from bot.opportunities.model import FEED_TIMEZONE, Opportunity
from bot.opportunities.sources import canadabuys, toronto

SNAPSHOT = Path(__file__).resolve().parents[2] / "bot" / "opportunities" / "snapshot"
CANADABUYS = SNAPSHOT / "newTenderNotice-nouvelAvisAppelOffres.2025-12-30.csv"
TORONTO = SNAPSHOT / "toronto-all-solicitations.2026-08-22.csv"


def _parse(module, path: Path) -> list[Opportunity]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [item for item in module.parse(handle) if isinstance(item, Opportunity)]


def _shift(items: list[Opportunity], latest: dt.date) -> list[Opportunity]:
    """Moves every closing (and publishing) date so the last one falls on `latest`."""
    last = max(i.closing for i in items if i.closing).astimezone(FEED_TIMEZONE).date()
    delta = latest - last
    for item in items:
        if item.closing:
            item.closing = item.closing + delta
        if item.published:
            item.published = item.published + delta
    return items


def _variant(base: Opportunity, closing: dt.datetime, **changes) -> Opportunity:
    item = copy.deepcopy(base)
    item.closing = closing
    return dataclasses.replace(item, **changes)


def extra_notices(base: Opportunity, now: dt.datetime) -> list[Opportunity]:
    """Notices in the CanadaBuys sample's shape for the topics the tests search for."""
    at = lambda days, hour=14: dt.datetime.combine(  # noqa: E731
        now.astimezone(FEED_TIMEZONE).date() + dt.timedelta(days=days), dt.time(hour), tzinfo=FEED_TIMEZONE)
    return [
        _variant(base, at(3), reference="cb-900-00000001", solicitation_number="T-CYBER-1",
                 title_en="Cybersecurity assessment services", title_fr="Services d'évaluation de la cybersécurité",
                 description_en="Health Canada requires cybersecurity threat and risk assessments. Bidders must hold a "
                                "valid Facility Security Clearance at the level of Secret.",
                 buyer="Health Canada", regions=["National Capital Region"], category=["services"],
                 unspsc=["81111800"], unspsc_descriptions=["System and system component administration services"],
                 min_value=150000.0, max_value=250000.0, amendment_number="001"),
        _variant(base, at(9), reference="cb-900-00000002", solicitation_number="T-WEB-2",
                 title_en="Web development and accessibility of public websites", title_fr="Développement Web",
                 description_en="Web development services for a public website. This requirement is set aside for "
                                "Indigenous businesses under the Procurement Strategy for Indigenous Business.",
                 buyer="Department of Public Works and Government Services (PSPC)", regions=["Ontario"],
                 category=["services"], unspsc=["81112100"], unspsc_descriptions=["Internet services"],
                 min_value=40000.0, max_value=60000.0),
        _variant(base, at(20), reference="cb-900-00000003", solicitation_number="T-LAPTOP-3",
                 title_en="Laptops and docking stations", title_fr="Ordinateurs portatifs",
                 description_en="Supply of laptops and docking stations.", buyer="Health Canada",
                 regions=["Canada"], category=["goods"], unspsc=["43211503"],
                 unspsc_descriptions=["Notebook computers"], trade_agreements=[], min_value=None, max_value=None),
    ]


def build_open_store(db_path: Path, now: dt.datetime) -> Path:
    """Writes `db_path` with the samples shifted to be open at `now` plus extra_notices(); returns db_path."""
    today = now.astimezone(FEED_TIMEZONE).date()
    federal = _shift(_parse(canadabuys, CANADABUYS), today + dt.timedelta(days=45))
    city = _shift(_parse(toronto, TORONTO), today + dt.timedelta(days=60))
    extra = extra_notices(federal[0], now)
    with store.open_writer(Path(db_path)) as db:
        store.load(db, "canadabuys", federal + extra, now)
        store.load(db, "toronto", city, now)
    return Path(db_path)
