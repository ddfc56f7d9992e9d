"""Downloads streamed as they are read (exports, import error reports): memory stays flat at any
size, and the database cursor behind them is let go as soon as the response ends.

A HEAD request gets the headers a GET would get, once the request has been checked as a GET's
is, and no line is read: a client that asks what a download would be must not cost the server
the whole query (Starlette answers HEAD with the GET route, which would stream every line to a
server that then drops them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Final

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

# Lines are gathered into chunks of about this many characters: one send per line would cost
# more than the line itself, and between two chunks the event loop goes to the other requests
# (larger chunks made a set answered during a PostgreSQL export wait several times as long).
CHUNK_CHARS: Final = 16 * 1024
CSV: Final = "text/csv"  # Starlette adds `; charset=utf-8`
NDJSON: Final = "application/x-ndjson"


class TextDownload(StreamingResponse):
    """Lines, sent in chunks, as an attachment named `filename`. An async generator of them is
    closed however the response ends, a client that hangs up included."""

    def __init__(
        self,
        lines: AsyncIterator[str],
        *,
        media_type: str,
        filename: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._lines = lines
        super().__init__(
            _chunks(lines),
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                **(headers or {}),
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["method"] == "HEAD":
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await super().__call__(scope, receive, send)
        finally:
            if isinstance(self._lines, AsyncGenerator):
                await self._lines.aclose()


async def _chunks(lines: AsyncIterator[str]) -> AsyncIterator[bytes]:
    pending: list[str] = []
    size = 0
    async for line in lines:
        pending.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(pending).encode()
            pending.clear()
            size = 0
            # A cursor hands out its prefetched rows without waiting, and a send to a client that
            # keeps up does not wait either: without this, a long export would hold the event
            # loop for thousands of lines at a time, and every request sharing it would wait.
            await asyncio.sleep(0)
    if pending:
        yield "".join(pending).encode()
