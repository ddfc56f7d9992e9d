"""CSV text, a line at a time, with every cell neutralised for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

from subgroups.domain.imports import RowError
from subgroups.domain.spreadsheet import neutralise

ERROR_REPORT_HEADER = ("line", "column", "value", "message")


class CsvLines:
    """Turns rows into CSV lines (CRLF, as RFC 4180 and spreadsheets expect)."""

    def __init__(self, header: Sequence[str]) -> None:
        self._header = tuple(header)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def header(self) -> str:
        return self.line(self._header)

    def line(self, cells: Iterable[object]) -> str:
        self._writer.writerow(
            neutralise(c, column=name) if isinstance(c, str) else ("" if c is None else c)
            for name, c in zip(self._header, cells, strict=True)
        )
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


async def error_report(errors: AsyncIterable[RowError]) -> AsyncIterator[str]:
    """The error report of an import: `line,column,value,message`, one row per problem row."""
    lines = CsvLines(ERROR_REPORT_HEADER)
    yield lines.header()
    async for e in errors:
        yield lines.line((e.line, e.column, e.value, e.message))
