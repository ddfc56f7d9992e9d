"""Reading a POST body as a JSON object, refusing what the contract refuses (§1)."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson
from starlette.requests import Request

from subgroups.errors import InvalidRequest
from subgroups.web.errors import HttpError

MAX_BODY_BYTES: Final = 1024 * 1024
NOT_AN_OBJECT: Final = "Request body must be a JSON object"


def check_media_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # accepted when the body parses as JSON
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise HttpError(415, "Unsupported Media Type")


async def read_body(request: Request, time_limit: float) -> bytes:
    """The raw body, refusing (413) one over the cap before reading past it, and (408) one that
    does not arrive in full within `time_limit` seconds: a slow sender cannot hold a request open.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise HttpError(400, "Invalid Content-Length header")
        if int(declared) > MAX_BODY_BYTES:
            raise HttpError(413, "Request body too large")
    try:
        async with asyncio.timeout(time_limit):
            return await _read_capped(request)
    except TimeoutError:
        raise HttpError(408, "Request Timeout") from None


async def _read_capped(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpError(413, "Request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, time_limit: float) -> dict[str, Any]:
    check_media_type(request)
    raw = await read_body(request, time_limit)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(NOT_AN_OBJECT) from None
    if not isinstance(value, dict):
        raise InvalidRequest(NOT_AN_OBJECT)
    return value
