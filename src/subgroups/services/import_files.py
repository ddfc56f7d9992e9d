"""An import's CSV file: checked whole before anything is written, then read row by row.

A file that cannot be read as a whole (not UTF-8, a NUL byte, a field over the size limit, no
header, no rows) is refused before its first row is applied: an import is never left half done
by a problem of the file itself. Problems of single rows are the rows' own (see domain/imports).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final

from subgroups.domain.imports import COLUMNS, IDENTIFIER_COLUMNS, RowError
from subgroups.errors import InvalidRequest

if TYPE_CHECKING:
    from _csv import Reader

_CHUNK: Final = 1 << 20
# Far above any valid cell (the longest, an external id, is 512 characters), far below memory
# trouble: a longer field is a broken file, refused with its line.
MAX_FIELD: Final = 64 * 1024
REQUIRED: Final = ("subscription_group_id", "subscription_state")


@dataclass(frozen=True, slots=True)
class FileSummary:
    sha256: str
    size: int
    rows: int
    columns: tuple[str, ...]
    ignored: tuple[str, ...]


def check_file(stream: BinaryIO) -> FileSummary:
    """Reads the whole file once: its hash, size, header and row count. Raises InvalidRequest
    naming the first problem that makes the file unreadable."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = lines = 0
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise _not_utf8(lines + chunk.count(b"\n", 0, error.start) + 1) from None
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_utf8(lines + 1) from None
    stream.seek(0)
    header, records = _records(stream)
    columns = tuple(c for c in header if c in COLUMNS)
    count = sum(1 for _ in records)
    if count == 0:
        raise InvalidRequest("The file has a header row but no rows to import")
    stream.seek(0)
    ignored = tuple(dict.fromkeys(c for c in header if c not in COLUMNS))
    return FileSummary(digest.hexdigest(), size, count, columns, ignored)


def read_rows(
    stream: BinaryIO, *, skip: int = 0
) -> Iterator[tuple[int, dict[str, str]] | RowError]:
    """Each row after the first `skip`: its line and its non-empty cells of known columns, or the
    error of a row with more cells than the header has columns."""
    header, records = _records(stream)
    width = len(header)
    known = [(i, c) for i, c in enumerate(header) if c in COLUMNS]
    for index, (line, record) in enumerate(records):
        if index < skip:
            continue
        extra = [cell for cell in record[width:] if cell]
        if extra:
            yield RowError(
                line,
                "",
                extra[0],
                f"This row has {len(record)} cells but the header names {width} columns",
            )
            continue
        yield line, {c: record[i] for i, c in known if i < len(record) and record[i]}


def _records(stream: BinaryIO) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header (names stripped, lowercase) and the non-blank records after it, each with the
    line it starts on."""
    raw = io.BufferedReader(_NoClose(stream), _CHUNK)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=False)
    numbered = _numbered(reader)
    try:
        _, first = next(numbered)
    except StopIteration:
        raise InvalidRequest(
            "The file is empty: it needs a header row naming its columns"
        ) from None
    header = [name.strip().lower() for name in first]
    _check_header(header)
    return header, numbered


def _numbered(reader: Reader) -> Iterator[tuple[int, list[str]]]:
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:  # found by check_file first, with its line
            raise _not_utf8(reader.line_num + 1) from None
        except csv.Error as error:
            raise InvalidRequest(f"Line {start} cannot be read as CSV: {error}") from None
        line, start = start, reader.line_num + 1
        if "\x00" in "".join(record):
            raise InvalidRequest(
                f"Line {line} contains a NUL byte: the file is not a CSV text file"
            )
        if record:
            yield line, record


def _not_utf8(line: int) -> InvalidRequest:
    return InvalidRequest(f"The file is not UTF-8 text: line {line} has bytes that are not UTF-8")


def _check_header(header: list[str]) -> None:
    duplicated = sorted({c for c in header if c and header.count(c) > 1})
    if duplicated:
        raise InvalidRequest(f"The header names the column '{duplicated[0]}' more than once")
    if not all(c in header for c in REQUIRED) or not any(c in header for c in IDENTIFIER_COLUMNS):
        raise InvalidRequest(
            "The header row must name subscription_group_id, subscription_state and at least one"
            " of external_id, email, phone"
        )


def buffer_stream(buffer: bytes | bytearray) -> BinaryIO:
    """A binary file over `buffer` that reads it in place (see _BufferReader)."""
    return io.BufferedReader(_BufferReader(buffer))


class _BufferReader(io.RawIOBase):
    """A file read from a buffer already in memory, without copying it (io.BytesIO copies any
    buffer but an immutable `bytes`): a large upload is held once, however often it is read."""

    def __init__(self, buffer: bytes | bytearray) -> None:
        self._view = memoryview(buffer)
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), len(self._view) - self._at)
        buffer[:count] = self._view[self._at : self._at + count]
        self._at += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: len(self._view)}[whence]
        self._at = max(0, base + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def close(self) -> None:
        self._view.release()
        super().close()


class _NoClose(io.RawIOBase):
    """The caller's stream, which the text wrapper reads but must not close."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# Cells are limited once, for every reader of the process.
csv.field_size_limit(MAX_FIELD)
