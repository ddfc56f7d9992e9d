"""Reading a request body, bounded in size and in time: the one way the API and the dashboard read one.

A body over its cap is refused (413) before anything past the cap is read, and one that has not
arrived in full within the time limit (`SUBGROUPS_BODY_TIMEOUT_SECONDS`) is refused (408), so a
slow sender cannot hold a request open. A file upload (`read_upload`) gets more time the larger it
is, at a minimum rate. A client that hangs up mid-body raises Starlette's
`ClientDisconnect`, which the request context (`middleware.py`) records as the client's doing.
"""

from __future__ import annotations

import asyncio
from typing import Final

from starlette.requests import Request

from subgroups.web.errors import HttpError

TOO_LARGE: Final = "Request body too large"
# A file upload may take longer than a form or a JSON body, but not forever: after the usual time
# limit, it must keep arriving at this average rate (bytes a second) or it is refused (408).
MIN_UPLOAD_RATE: Final = 64 * 1024


async def read_body(
    request: Request, *, max_bytes: int, time_limit: float, too_large: str = TOO_LARGE
) -> bytes:
    """The raw body; `too_large` is the message of the 413."""
    _check_declared_length(request, max_bytes, too_large)
    try:
        async with asyncio.timeout(time_limit):
            return await _read_capped(request, max_bytes, too_large)
    except TimeoutError:
        raise HttpError(408, "Request Timeout") from None


async def read_upload(request: Request, *, max_bytes: int, grace_seconds: float) -> bytearray:
    """A file sent as the body (an import's CSV): at most `max_bytes`, arriving at
    MIN_UPLOAD_RATE on average once `grace_seconds` have passed (else 408).

    The chunks are appended to one buffer as they arrive, so the file is held once (a list of
    chunks joined at the end would be held twice). The buffer grows with what has arrived, not
    with what Content-Length declares: a sender that declares much and sends little costs little."""
    _check_declared_length(request, max_bytes, TOO_LARGE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    body = bytearray()
    stream = aiter(request.stream())
    while True:
        try:
            async with asyncio.timeout_at(started + grace_seconds + len(body) / MIN_UPLOAD_RATE):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return body
        except TimeoutError:
            raise HttpError(408, "Request Timeout") from None
        if len(body) + len(chunk) > max_bytes:
            raise HttpError(413, TOO_LARGE)
        body += chunk


def _check_declared_length(request: Request, max_bytes: int, too_large: str) -> None:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise HttpError(400, "Invalid Content-Length header")
        if int(declared) > max_bytes:
            raise HttpError(413, too_large)


async def _read_capped(request: Request, max_bytes: int, too_large: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)
