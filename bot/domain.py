"""The Rasa domain as one dictionary, merged from the files in domain/ (one file per feature)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot import settings

DOMAIN_DIR = settings.PROJECT_ROOT / "domain"
_LISTS = ("intents", "entities", "actions")
_MAPPINGS = ("slots", "responses", "forms")


def domain_files(directory: Path = DOMAIN_DIR) -> list[Path]:
    return sorted(p for p in directory.rglob("*.yml") if p.is_file())


def load_domain(directory: Path = DOMAIN_DIR) -> dict[str, Any]:
    """Intents, entities and actions concatenated; slots, responses and forms merged; session_config kept."""
    merged: dict[str, Any] = {key: [] for key in _LISTS} | {key: {} for key in _MAPPINGS}
    for path in domain_files(directory):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in _LISTS:
            merged[key].extend(part.get(key) or [])
        for key in _MAPPINGS:
            merged[key].update(part.get(key) or {})
        if "session_config" in part:
            merged["session_config"] = part["session_config"]
    return merged


def intent_names(domain: dict[str, Any]) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else i for i in domain.get("intents", [])}


def entity_names(domain: dict[str, Any]) -> set[str]:
    return {next(iter(e)) if isinstance(e, dict) else e for e in domain.get("entities", [])}
