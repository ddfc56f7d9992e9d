"""CSV text with every cell neutralised for spreadsheets, a line or many lines at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

from subgroups.domain.imports import RowError
from subgroups.domain.spreadsheet import FORMULA_STARTS, neutralise

ERROR_REPORT_HEADER = ("line", "column", "value", "message")


class CsvLines:
    """Turns rows into CSV lines (CRLF, as RFC 4180 and spreadsheets expect)."""

    def __init__(self, header: Sequence[str]) -> None:
        self._header = tuple(header)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        # The columns whose cells may need neutralising (every one but the phone's).
        self._checked = tuple(i for i, name in enumerate(self._header) if name != "phone")

    def header(self) -> str:
        return self.line(self._header)

    def line(self, cells: Iterable[object]) -> str:
        self._writer.writerow(
            neutralise(c, column=name) if isinstance(c, str) else ("" if c is None else c)
            for name, c in zip(self._header, cells, strict=True)
        )
        return self._taken()

    def lines(self, rows: Iterable[Sequence[object]]) -> str:
        """Many rows at once, the same text as `line` gives each: an export's chunk costs one
        call into the csv module, and only the rows with a cell to neutralise are copied."""
        checked = self._checked
        safe: list[Sequence[object]] = []
        for row in rows:
            for i in checked:
                cell = row[i]
                if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
                    row = [
                        neutralise(c, column=name) if isinstance(c, str) else c
                        for name, c in zip(self._header, row, strict=True)
                    ]
                    break
            safe.append(row)
        self._writer.writerows(safe)
        return self._taken()

    def _taken(self) -> str:
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
