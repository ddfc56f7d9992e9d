"""The request context every response carries: a request id, and a clean 500 when code fails."""

from __future__ import annotations

import logging
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from subgroups.api.responses import json_response

log = logging.getLogger("subgroups.api")

# Request ids only need to be unique, not secret: a generator seeded once from the OS is enough,
# and unlike uuid4 it makes no system call per request (one that also hands the GIL to other threads).
_ids = random.Random()  # noqa: S311  # uniqueness, not secrecy (see above)


def new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        id_header = (b"x-request-id", rid.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"request_id": rid})
            if started:
                raise
            response = json_response({"message": "Internal Server Error"}, 500)
            await response(scope, receive, send_with_id)
