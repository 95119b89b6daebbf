"""A CSV file as a table, one page of rows at a time (``predictions.csv`` may have millions).

``append_row`` output has no header and its delimiter is the deployment's (a space for many
Azure scripts), so the delimiter is sniffed from the file's start and columns are numbered.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CSV_PAGE", "CsvPage", "read_csv_page"]

#: Rows per page of a CSV table.
CSV_PAGE = 100
_SNIFF_BYTES = 16 * 1024
_DELIMITERS = ",\t;| "


@dataclass(frozen=True)
class CsvPage:
    """Rows ``offset .. offset+len(rows)`` of a CSV file."""

    rows: list[list[str]]
    columns: int
    offset: int
    delimiter: str
    #: True when more rows follow this page.
    more: bool

    @property
    def next_offset(self) -> int | None:
        return self.offset + len(self.rows) if self.more else None

    @property
    def previous_offset(self) -> int | None:
        return max(self.offset - CSV_PAGE, 0) if self.offset else None

    @property
    def delimiter_name(self) -> str:
        return {" ": "space", "\t": "tab"}.get(self.delimiter, self.delimiter)


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_csv_page(path: Path, offset: int, limit: int = CSV_PAGE) -> CsvPage:
    """One page of rows, reading the file only up to the page's end."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        delimiter = _delimiter(handle.read(_SNIFF_BYTES))
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        page = list(itertools.islice(reader, offset, offset + limit + 1))
    more = len(page) > limit
    rows = page[:limit]
    columns = max((len(row) for row in rows), default=0)
    return CsvPage(rows, columns, offset, delimiter, more)
