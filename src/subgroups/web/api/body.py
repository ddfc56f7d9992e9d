"""Reading a POST body as a JSON object, refusing what the contract refuses (§1).

The body itself is read, bounded in size and time, by `subgroups.web.body`, as the dashboard's are.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.requests import Request

from subgroups.errors import InvalidRequest
from subgroups.web.body import read_body
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


async def read_json_object(request: Request, time_limit: float) -> dict[str, Any]:
    check_media_type(request)
    raw = await read_body(request, max_bytes=MAX_BODY_BYTES, time_limit=time_limit)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(NOT_AN_OBJECT) from None
    if not isinstance(value, dict):
        raise InvalidRequest(NOT_AN_OBJECT)
    return value
