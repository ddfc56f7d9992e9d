"""Reading a request body, bounded in size and in time: the one way the API and the dashboard read one.

A body over its cap is refused (413) before anything past the cap is read, and one that has not
arrived in full within the time limit (`SUBGROUPS_BODY_TIMEOUT_SECONDS`) is refused (408), so a
slow sender cannot hold a request open. A client that hangs up mid-body raises Starlette's
`ClientDisconnect`, which the request context (`middleware.py`) records as the client's doing.
"""

from __future__ import annotations

import asyncio
from typing import Final

from starlette.requests import Request

from subgroups.web.errors import HttpError

TOO_LARGE: Final = "Request body too large"


async def read_body(
    request: Request, *, max_bytes: int, time_limit: float, too_large: str = TOO_LARGE
) -> bytes:
    """The raw body; `too_large` is the message of the 413."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise HttpError(400, "Invalid Content-Length header")
        if int(declared) > max_bytes:
            raise HttpError(413, too_large)
    try:
        async with asyncio.timeout(time_limit):
            return await _read_capped(request, max_bytes, too_large)
    except TimeoutError:
        raise HttpError(408, "Request Timeout") from None


async def _read_capped(request: Request, max_bytes: int, too_large: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)
