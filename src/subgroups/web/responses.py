"""JSON responses, encoded with orjson; the constant ones are encoded once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json"


class JSONBytes(Response):
    media_type = JSON


def json_response(
    payload: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONBytes(orjson.dumps(payload), status_code=status, headers=headers)


_CREATED = orjson.dumps({"message": "success"})


def created(errors: list[str] | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """`201 {"message":"success"}`, with the non-fatal `errors` when there are any."""
    if errors:
        return json_response({"message": "success", "errors": errors}, 201, headers)
    return JSONBytes(_CREATED, status_code=201, headers=headers)
