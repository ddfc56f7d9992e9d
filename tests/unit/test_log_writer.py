"""Log lines written in batches: when they are written, and in what pieces."""

from __future__ import annotations

import logging
import threading

import pytest

from subgroups.web.server.log_writer import PIPE_BUF, BatchedStderrHandler


class Stderr:
    """Stands in for sys.stderr (only the two methods the handler calls), keeping each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.writes.append(text)
        self.written.set()
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.writes)


@pytest.fixture
def stderr() -> Stderr:
    return Stderr()


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("subgroups.access", level, __file__, 1, message, (), None)


def _handler(stderr: Stderr, flush_seconds: float = 3600) -> BatchedStderrHandler:
    handler = BatchedStderrHandler(flush_seconds, stream=stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def test_informational_lines_wait_until_a_flush(stderr: Stderr) -> None:
    handler = _handler(stderr)

    handler.handle(_record("one"))
    handler.handle(_record("two"))
    before = stderr.text
    handler.flush()

    assert before == ""
    assert stderr.text == "one\ntwo\n"
    handler.close()


def test_a_warning_is_written_at_once_after_the_lines_before_it(stderr: Stderr) -> None:
    handler = _handler(stderr)

    handler.handle(_record("request"))
    handler.handle(_record("trouble", logging.WARNING))

    assert stderr.text == "request\ntrouble\n"
    handler.close()


def test_waiting_lines_are_written_by_the_flusher_on_its_own(stderr: Stderr) -> None:
    handler = _handler(stderr, flush_seconds=0.01)

    handler.handle(_record("request"))

    assert stderr.written.wait(timeout=10)
    assert stderr.text == "request\n"
    handler.close()


def test_closing_writes_what_waits(stderr: Stderr) -> None:
    handler = _handler(stderr)
    handler.handle(_record("last"))

    handler.close()

    assert stderr.text == "last\n"


def test_writes_hold_whole_lines_and_at_most_pipe_buf_where_a_line_allows(
    stderr: Stderr,
) -> None:
    handler = _handler(stderr)
    lines = [f"line {i:04d} " + "x" * 90 for i in range(200)]
    long_line = "y" * (2 * PIPE_BUF)

    for line in [*lines[:100], long_line, *lines[100:]]:
        handler.handle(_record(line))
    handler.flush()

    assert stderr.text == "".join(f"{line}\n" for line in [*lines[:100], long_line, *lines[100:]])
    assert len(stderr.writes) > 1
    for piece in stderr.writes:
        assert piece.endswith("\n")
        assert len(piece) <= PIPE_BUF or piece == long_line + "\n"
    handler.close()
