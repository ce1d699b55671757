"""Shared fixtures for the knowledge tests: a small, valid knowledge folder written fresh into each test's tmp dir.

The tests never depend on the real `knowledge/` content (one test checks it separately), so content edits can
not break them and each test may freely break its own copy.
"""
from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Callable

import pytest

TODAY = dt.date(2026, 11, 26)

_SOURCE = "{url: https://www.ontario.ca/page/vendor-record-arrangements, title: VOR arrangements (ontario.ca)}"
_PROVENANCE = f"""    source: {_SOURCE}
    last_reviewed: 2026-11-01
    review_every_days: 180"""


def _topic(topic_id: str, title: str, questions: list[str], related: list[str], answer: str) -> str:
    question_lines = "\n".join(f"  - {q}" for q in questions)
    return f"""---
id: {topic_id}
title: {title}
jurisdiction: ontario
audience: [founder]
questions:
{question_lines}
sources:
  - url: https://www.ontario.ca/page/vendor-record-arrangements
    title: Vendor of Record arrangements (ontario.ca)
last_reviewed: 2026-11-01
review_every_days: 180
related: [{", ".join(related)}]
tags: [vor]
---
{answer}

## Next steps
- Register on the Ontario Tenders Portal.
- Watch for the next call for
  qualifications.
"""


FILES: dict[str, str] = {
    "topics/vor-what-is.md": _topic(
        "vor-what-is",
        "What is a Vendor of Record (VOR) arrangement?",
        [
            "what is a vor",
            "whats a vendor of record arrangement",
            "do i need to be a VOR to sell to ontario?",
            "how does the ontario vor thing work",
            "explain vendor of record to me",
            "is a VOR like a pre-approved supplier list",
        ],
        ["vor-types"],
        "A Vendor of Record arrangement is a list of pre-qualified suppliers that ministries buy from.",
    ),
    "topics/vor-types.md": _topic(
        "vor-types",
        "What kinds of VOR arrangements are there?",
        [
            "what kinds of vor are there",
            "types of vendor of record",
            "enterprise-wide vor vs ministry vor",
            "is there more than one kind of VOR",
            "which vor types exist in ontario",
            "difference between vor arrangements",
            "are all vors the same",
        ],
        ["vor-what-is"],
        "There are enterprise-wide arrangements used by every ministry and ones set up by a single ministry.",
    ),
    "topics/register-ontario.md": _topic(
        "register-ontario",
        "How do I register to sell to Ontario ministries?",
        [
            "how do i register with ontario",
            "where do i sign up as a supplier",
            "register on the ontario tenders portal",
            "how to become an ontario government supplier",
            "do i need an account to bid in ontario",
            "sign up for ontario tenders",
            "registration steps for ontario bids",
            "what do i need before i can bid",
            "i want to sell to the province where do i start",
            "supplier registration ontario",
            "how long does ontario supplier registration take",
            "is registering as an ontario supplier free",
        ],
        ["vor-what-is", "vor-types"],
        "Create a free account on the Ontario Tenders Portal; every ministry posts its competitions there.",
    ),
    "tables/thresholds.yml": f"""methods:
  - id: ops-goods-invitational
    buyer: ontario_ministry
    category: goods
    min_value: 0
    max_value: 121200
    method: Invitational competitive
    summary: The ministry invites at least three qualified suppliers.
    min_suppliers: 3
    posting: Invitation only
    effective_date: 2024-01-01
{_PROVENANCE}
  - id: ops-goods-open
    buyer: ontario_ministry
    category: goods
    min_value: 121200
    method: Open competitive
    summary: Posted publicly on the Ontario Tenders Portal.
    posting: Ontario Tenders Portal
    effective_date: 2024-01-01
{_PROVENANCE}
trade_agreements:
  - id: cfta-ontario-ministry-goods
    agreement: CFTA
    name: Canadian Free Trade Agreement
    buyer: ontario_ministry
    category: goods
    min_value: 133800
    effective_date: 2026-01-01
    summary: Open to suppliers from across Canada.
{_PROVENANCE}
preferences:
  - id: bobi-ops
    name: Building Ontario Businesses Initiative
    buyer: ontario_ministry
    category: any
    min_value: 0
    max_value: 121200
    summary: Ministries invite Ontario businesses first.
    effective_date: 2024-04-01
{_PROVENANCE}
""",
    "tables/buyer_types.yml": f"""buyer_types:
  - id: ontario_ministry
    name: Ontario ministry
    terms: [ministry, province, ontario government]
    summary: A ministry of the Government of Ontario.
{_PROVENANCE}
  - id: bps
    name: Broader public sector organization
    terms: [hospital, school board]
    summary: Hospitals, school boards, colleges and universities.
{_PROVENANCE}
""",
    "tables/categories.yml": f"""categories:
  - id: goods
    name: Goods
    terms: [products, equipment]
    summary: Things you deliver.
{_PROVENANCE}
  - id: services
    name: Services
    terms: [services]
    summary: Work you do.
{_PROVENANCE}
""",
    "tables/vor_arrangements.yml": f"""vor_arrangements:
  - id: enterprise-wide
    name: Enterprise-wide VOR
    summary: Used by every ministry.
{_PROVENANCE}
""",
    "tables/events.yml": f"""events:
  - id: supplier-webinar-2027-01
    title: Doing business with Ontario
    organizer: Supply Ontario
    starts: 2027-01-14T10:00:00-05:00
    ends: 2027-01-14T11:30:00-05:00
    format: online
    location: online
    topics: [it, health]
    registration_url: https://www.ontario.ca/events/webinar
    description: A one-hour introduction.
{_PROVENANCE}
""",
    "tables/programs.yml": f"""programs:
  - id: ontario-together
    name: Ontario Together
    jurisdiction: ontario
    summary: Innovative solutions for the province.
    who_can_apply: Ontario businesses
    url: https://www.ontario.ca/page/ontario-together
{_PROVENANCE}
""",
    "tables/checklists.yml": f"""checklists:
  - id: register-ontario-ministries
    title: Register to sell to Ontario ministries
    audience: [ontario_ministry]
    steps:
      - id: account
        title: Create an account
        detail: Sign up on the Ontario Tenders Portal.
        why: Every competition is posted there.
        url: https://ontariotenders.app.jaggaer.com/
      - id: profile
        title: Complete your profile
        detail: Add your commodity codes.
{_PROVENANCE}
""",
    "tables/business_size.yml": f"""business_size:
  - id: micro
    name: Micro enterprise
    min_employees: 1
    max_employees: 4
    summary: One to four employees.
{_PROVENANCE}
""",
    "tables/glossary.yml": f"""glossary:
  - term: RFP
    expansion: Request for Proposal
    definition: A call for proposals where price is one of several criteria.
{_PROVENANCE}
""",
    "tables/search_categories.yml": f"""search_categories:
  - id: information_technology
    terms: [IT, information technology]
    unspsc_prefixes: ["43"]
{_PROVENANCE}
""",
    "tables/vor_readiness.yml": f"""vor_readiness:
  - id: otp-registered
    requirement: Registered on the Ontario Tenders Portal
    kind: preparable
    applies: always
    summary: VOR requests for bids are posted there.
    next_step: Register on the portal.
{_PROVENANCE}
""",
}


def write_knowledge(root: Path) -> Path:
    """Write the fixture knowledge folder under `root` and return its path."""
    knowledge_dir = root / "knowledge"
    for rel, text in FILES.items():
        path = knowledge_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return knowledge_dir


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    """A fresh copy of the valid fixture knowledge folder."""
    return write_knowledge(tmp_path)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DATA_DIR pointed at a fresh tmp folder, so nothing touches the repository's var/."""
    directory = tmp_path / "var"
    directory.mkdir()
    monkeypatch.setenv("DATA_DIR", str(directory))
    return directory


def line_number(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `needle` in `path`."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not found {occurrence} time(s) in {path}"
    return hits[occurrence - 1]


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    """Edit a fixture file in place; fails loudly when `old` is not there (so a test cannot silently pass)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.fixture
def edit() -> Callable[[Path, str, str], None]:
    return replace_in
