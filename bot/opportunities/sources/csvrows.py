"""Streaming CSV rows with the line number each record starts on, tolerant of broken records."""
from __future__ import annotations

import csv
import re
from typing import Iterator, TextIO

from bot.opportunities.model import FeedFormatError, RowError

# Tender descriptions can be long; the csv module's default 128 KiB cap would reject real notices.
_FIELD_LIMIT = 8 * 1024 * 1024


def header_key(name: str) -> str:
    """A header reduced to lowercase letters and digits, so spacing, case and a BOM do not matter."""
    return re.sub(r"[^0-9a-z]", "", name.lstrip("\ufeff").lower())


class CsvRecords:
    """A CSV stream's header (read at construction) and its records, each with the line it starts on.

    Iterating yields (start_line, cells) or RowError for a record the csv module rejects or whose field count
    differs from the header's. Raises FeedFormatError when the stream has no readable header row.
    """

    def __init__(self, stream: TextIO):
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)
        self._reader = csv.reader(stream, strict=True)
        try:
            header = next(self._reader)
        except StopIteration:
            raise FeedFormatError("the feed is empty (no header row)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FeedFormatError(f"unreadable header row: {exc}") from None
        if header:
            header[0] = header[0].lstrip("\ufeff")
        self.header: list[str] = header

    def __iter__(self) -> Iterator[tuple[int, list[str]] | RowError]:
        reader = self._reader
        width = len(self.header)
        previous_end = reader.line_num
        while True:
            start = previous_end + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                previous_end = reader.line_num
                yield RowError(start, f"malformed CSV record: {exc}")
                continue
            except UnicodeDecodeError as exc:
                raise FeedFormatError(f"not UTF-8 text near line {start}: {exc}") from None
            previous_end = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if len(cells) != width:
                yield RowError(start, f"expected {width} fields, found {len(cells)}")
                continue
            yield start, cells
