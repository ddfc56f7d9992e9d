"""Where log lines go: standard error, written in batches.

A line per request, each written and flushed on its own, is a system call per request on the event
loop's thread, and each one hands the GIL to the SQLite writer thread, which the loop then waits to
get back. So lines wait in memory and are written together, as nginx does with `access_log ...
buffer= flush=`: at most FLUSH_SECONDS after the first of them, at once when one is a warning or
worse, and when the process exits normally. A process that is killed loses at most the last
FLUSH_SECONDS of informational lines; nothing the service promises lives in its log (the record of
every change is in the database, written before the change is acknowledged).

Each write holds whole lines and at most PIPE_BUF bytes where it can, so that the lines of several
worker processes sharing one pipe never interleave inside a line.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from typing import Final, Protocol

FLUSH_SECONDS: Final = 0.2
# Writes to a pipe up to this size are atomic (POSIX's minimum PIPE_BUF, and Linux's value).
PIPE_BUF: Final = 4096
# Enough lines waiting: write them now rather than hold more.
MAX_PENDING_BYTES: Final = 64 * 1024


class Stream(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class BatchedStderrHandler(logging.Handler):
    def __init__(
        self, flush_seconds: float = FLUSH_SECONDS, *, stream: Stream | None = None
    ) -> None:
        """`stream`: where to write; by default sys.stderr, whatever it is at each write (a test
        runner or a daemon may replace it)."""
        super().__init__()
        self._flush_seconds = flush_seconds
        self._stream = stream
        self._pending: list[str] = []
        self._pending_size = 0
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Called with the handler's lock held (`Handler.handle`).
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        self._pending_size += len(line)
        if record.levelno >= logging.WARNING or self._pending_size >= MAX_PENDING_BYTES:
            self.flush()
        elif self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_periodically, name="log-flusher", daemon=True
            )
            self._flusher.start()

    def flush(self) -> None:
        self.acquire()
        try:
            lines, self._pending, self._pending_size = self._pending, [], 0
            if lines:
                _write(self._stream or sys.stderr, lines)
        finally:
            self.release()

    def close(self) -> None:
        self._closed.set()
        self.flush()
        super().close()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self._flush_seconds):
            self.flush()


def _write(stream: Stream, lines: list[str]) -> None:
    try:
        for chunk in _chunks(lines):
            stream.write(chunk)
        stream.flush()
    except (OSError, ValueError):  # a closed or broken stderr: nowhere left to write
        pass


def _chunks(lines: list[str]) -> Iterator[str]:
    """Whole lines, joined into pieces of at most PIPE_BUF characters (a longer line alone).

    Characters, not bytes: the same for the ASCII that nearly every line is, and a line with
    other characters is no less whole for its piece being a little larger."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > PIPE_BUF:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    if chunk:
        yield "".join(chunk)
