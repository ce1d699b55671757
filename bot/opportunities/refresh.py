"""Refresh the store from the configured feeds: fetch, parse, load, record the outcome per source.

The last good data of a source is never replaced by a failed, malformed or truncated download: the load
happens in a copy of the store that only goes live when the whole feed parsed acceptably. With OFFLINE (or no
network), a source that has data keeps it; one that has none gets its bundled snapshot, labelled as such in
source_status.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import requests
import yaml

from bot import settings
from bot.opportunities import store
from bot.opportunities.fetch import FetchError, FetchPolicy, CSV_TYPES, JSON_TYPES, fetch, resolve_ckan_dump
from bot.opportunities.model import FeedFormatError
from bot.opportunities.sources import FORMATS, get_parser, open_text
from bot.opportunities.sources.generic import MappingError, load_mapping


DEFAULT_FEEDS = settings.PROJECT_ROOT / "feeds" / "sources.yml"


class ConfigError(ValueError):
    """feeds/sources.yml (or a source given on the command line) is not usable."""


@dataclass
class SourceConfig:
    name: str
    format: str
    url: str = ""
    ckan_package: str = ""
    ckan_resource: str = ""
    mapping: Path | None = None
    snapshot: Path | None = None
    snapshot_date: str = ""
    enabled: bool = True


@dataclass
class RefreshOutcome:
    source: str
    ok: bool
    origin: str  # live | not_modified | file | snapshot | kept | failed
    message: str
    rows: int = 0
    row_errors: int = 0


def _resolve(path: str | None) -> Path | None:
    if not path:
        return None
    candidate = Path(path)
    return candidate if candidate.is_absolute() else settings.PROJECT_ROOT / candidate


def load_sources(config_path: Path | str | None = None) -> list[SourceConfig]:
    """The sources listed in feeds/sources.yml (or `config_path`), checked."""
    path = Path(config_path) if config_path else DEFAULT_FEEDS
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a 'sources:' list")
    configs: list[SourceConfig] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: source #{number} is not a mapping")
        name = str(entry.get("name", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ConfigError(f"{path}: source #{number} needs a name of letters, digits, - or _")
        fmt = str(entry.get("format", ""))
        if fmt not in FORMATS:
            raise ConfigError(f"{path}: source {name}: format must be one of {', '.join(FORMATS)}")
        if fmt == "generic" and not entry.get("mapping"):
            raise ConfigError(f"{path}: source {name}: the generic format needs a mapping file")
        if name in {c.name for c in configs}:
            raise ConfigError(f"{path}: source {name} is listed twice")
        configs.append(SourceConfig(
            name=name,
            format=fmt,
            url=str(entry.get("url") or ""),
            ckan_package=str(entry.get("ckan_package") or ""),
            ckan_resource=str(entry.get("ckan_resource") or ""),
            mapping=_resolve(entry.get("mapping")),
            snapshot=_resolve(entry.get("snapshot")),
            snapshot_date=str(entry.get("snapshot_date") or ""),
            enabled=bool(entry.get("enabled", True)),
        ))
    return configs


def _stamp(now: dt.datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def load_file(
    path: Path, config: SourceConfig, *, now: dt.datetime, db_path: Path | None = None, origin: str = "file",
    fetched: dict | None = None,
) -> RefreshOutcome:
    """Parse a local feed file and load it; on any problem the store is left as it was and the error recorded."""
    stamp = _stamp(now)
    options = {"source": config.name}
    try:
        if config.format == "generic":
            if config.mapping is None:
                raise MappingError("the generic format needs a mapping (--mapping FILE)")
            options["mapping"] = load_mapping(config.mapping)
        parser = get_parser(config.format)
        with store.open_writer(db_path) as db, open_text(path) as stream:
            report = store.load(db, config.name, parser(stream, **options), now)
            store.record_status(
                db, config.name,
                format=config.format, origin=origin, url=config.url or config.ckan_package or str(path),
                last_attempt=stamp, last_success=stamp, rows=report.rows, row_errors=report.error_count,
                error_lines=json.dumps([f"line {e.line}: {e.message}" for e in report.errors], ensure_ascii=False),
                snapshot=1 if origin == "snapshot" else 0,
                snapshot_date=config.snapshot_date if origin == "snapshot" else "",
                **(fetched or {"etag": "", "last_modified": "", "sha256": ""}),
            )
    except (FeedFormatError, store.FeedRejected, MappingError, UnicodeDecodeError, OSError) as exc:
        message = f"{exc.__class__.__name__}: {exc}"
        record_error(config, message, now=now, db_path=db_path)
        return RefreshOutcome(config.name, False, "failed", message)
    note = f"{report.rows} rows loaded ({report.inserted} new, {report.updated} updated, {report.amended} amended)"
    if report.error_count:
        note += f"; {report.error_count} rows skipped (" + ", ".join(f"line {e.line}" for e in report.errors[:10]) + ")"
    if origin == "snapshot":
        note = f"bundled snapshot of {config.snapshot_date or 'unknown date'}: " + note
    return RefreshOutcome(config.name, True, origin, note, rows=report.rows, row_errors=report.error_count)


def record_error(config: SourceConfig, message: str, *, now: dt.datetime, db_path: Path | None = None) -> None:
    stamp = _stamp(now)
    with store.open_writer(db_path) as db:
        store.record_status(
            db, config.name, format=config.format, url=config.url or config.ckan_package,
            last_attempt=stamp, last_error=message, last_error_at=stamp,
        )


def refresh_source(
    config: SourceConfig,
    *,
    now: dt.datetime,
    offline: bool,
    db_path: Path | None = None,
    policy: FetchPolicy | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RefreshOutcome:
    """Bring one source up to date, or keep its last good data, or fall back to its bundled snapshot."""
    db_path = Path(db_path or store.default_db_path())
    has_data = store.source_has_data(db_path, config.name)
    if offline or not (config.url or config.ckan_package):
        if has_data:
            return RefreshOutcome(config.name, True, "kept", "offline: serving the last good data")
        return _snapshot(config, now=now, db_path=db_path, reason="offline")
    state = store.source_state(db_path, config.name) if has_data else {}
    if policy is None:
        policy = FetchPolicy(allowed_types=JSON_TYPES if _is_json(config) else CSV_TYPES)
    download_dir = db_path.parent / "downloads"
    try:
        url = config.url or resolve_ckan_dump(config.ckan_package, config.ckan_resource, policy=policy, session=session)
        result = fetch(
            url, dest_dir=download_dir, etag=state.get("etag") or "", last_modified=state.get("last_modified") or "",
            policy=policy, session=session, sleep=sleep,
        )
    except FetchError as exc:
        message = f"FetchError: {exc}"
        record_error(config, message, now=now, db_path=db_path)
        if has_data:
            return RefreshOutcome(config.name, False, "kept", f"{message}; the last good data is kept")
        fallback = _snapshot(config, now=now, db_path=db_path, reason="unreachable")
        return RefreshOutcome(config.name, False, fallback.origin, f"{message}; {fallback.message}", fallback.rows)
    if result.not_modified:
        stamp = _stamp(now)
        with store.open_writer(db_path) as db:
            store.record_status(db, config.name, last_attempt=stamp, last_success=stamp)
        return RefreshOutcome(config.name, True, "not_modified", "not modified since the last download")
    try:
        outcome = load_file(
            result.path, config, now=now, db_path=db_path, origin="live",
            fetched={"etag": result.etag, "last_modified": result.last_modified, "sha256": result.sha256},
        )
    finally:
        try:
            os.unlink(result.path)
        except OSError:
            pass
    if not outcome.ok and not has_data:
        fallback = _snapshot(config, now=now, db_path=db_path, reason="bad download")
        return RefreshOutcome(config.name, False, fallback.origin, f"{outcome.message}; {fallback.message}",
                              fallback.rows)
    if not outcome.ok:
        outcome.origin = "kept"
        outcome.message += "; the last good data is kept"
    return outcome


def _is_json(config: SourceConfig) -> bool:
    if config.format != "generic" or config.mapping is None:
        return False
    try:
        return load_mapping(config.mapping).format in ("json", "jsonl")
    except MappingError:
        return False


def _snapshot(config: SourceConfig, *, now: dt.datetime, db_path: Path, reason: str) -> RefreshOutcome:
    if config.snapshot is None or not config.snapshot.exists():
        message = f"{reason}: no data yet and no bundled snapshot"
        record_error(config, message, now=now, db_path=db_path)
        return RefreshOutcome(config.name, False, "failed", message)
    outcome = load_file(config.snapshot, config, now=now, db_path=db_path, origin="snapshot")
    if outcome.ok:
        outcome.message = f"{reason}: {outcome.message}"
    return outcome


def refresh_all(
    offline: bool,
    now: dt.datetime,
    *,
    db_path: Path | None = None,
    config_path: Path | None = None,
    only: str | None = None,
    policy: FetchPolicy | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[RefreshOutcome]:
    """Refresh every enabled source in feeds/sources.yml (or just `only`); one outcome per source."""
    configs = [c for c in load_sources(config_path) if c.enabled or c.name == only]
    if only is not None:
        configs = [c for c in configs if c.name == only]
        if not configs:
            raise ConfigError(f"no source named {only!r} in the feed list")
    return [
        refresh_source(c, now=now, offline=offline, db_path=db_path, policy=policy, session=session, sleep=sleep)
        for c in configs
    ]


def refresh_from(
    url_or_path: str,
    config: SourceConfig,
    *,
    now: dt.datetime,
    offline: bool,
    db_path: Path | None = None,
    policy: FetchPolicy | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RefreshOutcome:
    """Load one feed from a local path (or file:// URL) or an http(s) URL into `config`'s source."""
    scheme = urlsplit(url_or_path).scheme.lower()
    if scheme in ("http", "https"):
        if offline:
            return RefreshOutcome(config.name, False, "failed", "OFFLINE is set: not downloading " + url_or_path)
        live = SourceConfig(**{**config.__dict__, "url": url_or_path, "ckan_package": ""})
        return refresh_source(live, now=now, offline=False, db_path=db_path, policy=policy, session=session,
                              sleep=sleep)
    path = Path(urlsplit(url_or_path).path if scheme == "file" else url_or_path)
    if not path.is_file():
        return RefreshOutcome(config.name, False, "failed", f"no such file: {path}")
    local = SourceConfig(**{**config.__dict__, "url": str(path.resolve()), "ckan_package": ""})
    return load_file(path, local, now=now, db_path=db_path, origin="file")
