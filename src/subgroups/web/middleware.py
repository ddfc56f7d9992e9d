"""The request context every response carries.

One pure-ASGI middleware, outermost, so that it sees every response (errors and 404s too):
- a request id, sent as X-Request-Id and written to the log and the audit trail;
- the client's address, resolved once through trusted proxies (see `client.py`);
- the security headers (see `security_headers.py`) and, once a key passed authentication, the
  X-RateLimit-* headers (see `ratelimit.py`);
- a clean 500 when code fails, with the details in the log only;
- one access-log line per request (see `logs.py`).

A client that hangs up before its answer is not a failure of the service: it gets no answer (there
is no one to send it to), no traceback is logged, and its access line says 499, nginx's "client
closed request". When the server itself answered the client and closed the connection under the
app (a body the HTTP parser refused), the line gives that answer's status instead.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Final

from prometheus_client import Counter, Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from subgroups.domain.models import Network
from subgroups.services.in_flight import InFlight
from subgroups.services.metrics import Metrics
from subgroups.web.api.ratelimit import quota_headers
from subgroups.web.client import forwarded_client
from subgroups.web.responses import json_response
from subgroups.web.security_headers import RawHeaders, SecurityHeaders

log = logging.getLogger("subgroups.api")
access_log = logging.getLogger("subgroups.access")

MAX_LOGGED_PATH = 200
CLIENT_CLOSED_REQUEST: Final = 499
# The key of a request's scope state under which the server (`server/http_protocol.py`) leaves the
# status it answered with itself, when it did so and closed the connection while the app ran.
ANSWERED_BY_SERVER: Final = "answered_by_server"

# Request ids only need to be unique, not secret: a generator seeded once from the OS is enough,
# and unlike uuid4 it makes no system call per request (one that also hands the GIL to other threads).
_ids = random.Random()  # noqa: S311  # uniqueness, not secrecy (see above)


def new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: tuple[Network, ...] = (),
        security: SecurityHeaders | None = None,
        metrics: Metrics | None = None,
        in_flight: InFlight | None = None,
    ) -> None:
        self.app = app
        # Counted so that this process's webhook deliveries give way to its requests.
        self.in_flight = in_flight or InFlight()
        self.trusted_proxies = trusted_proxies
        self.security = security or SecurityHeaders()
        self.metrics = metrics
        # The series of each (method, route, status) seen, found once: `labels()` takes a lock.
        self._series: dict[tuple[str, str | None, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        rid = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        if self.trusted_proxies:
            self._resolve_client(scope)
        status = 0
        self.in_flight.enter()

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = self._headers(scope, state, message.get("headers", ()), rid)
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except ClientDisconnect:
            # Whatever was sent after the client left (a mounted app's 500 for this very
            # exception) reached no one.
            status = state.get(ANSWERED_BY_SERVER, CLIENT_CLOSED_REQUEST)
        except Exception:
            key = state.get("api_key")
            log.exception(
                "unhandled error",
                extra={
                    "request_id": rid,
                    "workspace_id": key.workspace_id if key is not None else None,
                    "key_id": key.id if key is not None else None,
                },
            )
            if status:
                raise
            response = json_response({"message": "Internal Server Error"}, 500)
            await response(scope, receive, send_with_context)
        finally:
            self.in_flight.leave()
            seconds = time.perf_counter() - began
            route = _route(scope)
            if self.metrics is not None:
                self._count(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                _log_request(scope, state, route, status, seconds)

    def _count(self, method: str, route: str | None, status: int, seconds: float) -> None:
        key = (method, route, status)
        found = self._series.get(key)
        if found is None:
            assert self.metrics is not None
            # Unmatched paths are one label value: a scanner's paths must not each make a series.
            label = route or "unmatched"
            found = self._series[key] = (
                self.metrics.requests.labels(label, method, str(status or CLIENT_CLOSED_REQUEST)),
                self.metrics.request_seconds.labels(label),
            )
        found[0].inc()
        found[1].observe(seconds)

    def _resolve_client(self, scope: Scope) -> None:
        client = scope.get("client")
        forwarded = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name.lower() == b"x-forwarded-for"
        ]
        host = forwarded_client(client[0] if client else None, forwarded, self.trusted_proxies)
        if host is None:
            scope["client"] = None
        elif client is None or host != client[0]:
            scope["client"] = (host, 0)

    def _headers(self, scope: Scope, state: dict[str, Any], headers: Any, rid: str) -> RawHeaders:
        out: RawHeaders = [*headers, (b"x-request-id", rid.encode())]
        quota = state.get("rate_limit")
        if quota is not None:
            out.extend(quota_headers(quota))
        self.security.add_to(scope["path"], out)
        return out


def _log_request(
    scope: Scope, state: dict[str, Any], route: str | None, status: int, seconds: float
) -> None:
    key = state.get("api_key")
    client = scope.get("client")
    # The record is made and handed over directly: `Logger.info` would also look up the calling
    # frame (file, line, function), which no line writes, at every request.
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        "",
        0,
        "request",
        (),
        None,
        extra={
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "route": route,
            "path": scope["path"][:MAX_LOGGED_PATH],
            "status": status or None,
            "duration_ms": round(seconds * 1000, 2),
            "workspace_id": key.workspace_id if key is not None else None,
            "key_id": key.id if key is not None else None,
            "client_ip": client[0] if client else None,
        },
    )
    access_log.handle(record)


def _route(scope: Scope) -> str | None:
    """The path template of the route that answered, or None when no route matched."""
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return None
    found = _paths.get(endpoint)
    if found is not None:
        return found
    for route in getattr(scope.get("router"), "routes", ()):
        if getattr(route, "endpoint", None) is endpoint:
            path: str = route.path
            _paths[endpoint] = path
            return path
    return None


# Each endpoint's path template, found once: an endpoint belongs to one route.
_paths: dict[object, str] = {}
