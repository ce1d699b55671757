"""One module per feed format, all behind one interface.

Each format module has `parse(stream, *, source=..., **options) -> Iterator[Opportunity | RowError]`, reading a
text stream (opened with `open_text`) row by row, so memory does not grow with the feed. A row that fails is
yielded as a RowError with its line number and the rest still load; a feed that is unusable as a whole (a
required column missing) raises FeedFormatError before any row is yielded.
"""
from __future__ import annotations

import importlib
import io
from pathlib import Path
from typing import Callable, Iterator, TextIO

from bot.opportunities.model import Opportunity, RowError

FORMATS = ("canadabuys", "toronto", "generic")

Parser = Callable[..., Iterator["Opportunity | RowError"]]


def get_parser(format_name: str) -> Parser:
    """The parse function of a format named in FORMATS."""
    if format_name not in FORMATS:
        raise ValueError(f"unknown feed format {format_name!r}; known: {', '.join(FORMATS)}")
    return importlib.import_module(f"bot.opportunities.sources.{format_name}").parse


def open_text(path: str | Path) -> TextIO:
    """A feed file as text: UTF-8 with or without BOM, newlines left for the csv module to handle."""
    return io.open(path, "r", encoding="utf-8-sig", errors="strict", newline="")
