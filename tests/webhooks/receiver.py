"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that checks every delivery's
signature with `standardwebhooks` and remembers what arrived.

Each delivery is verified against each of the `secrets` given, separately, so that a test can tell
which secrets signed it (a rotation signs with two). What it answers is up to `answer`, a function
of the delivery (status, headers, delay), 204 by default. It also notes whether a `webhook-id`
arrives while the same id is still being answered: two dispatchers sending one event at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.servers import free_port


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    timestamp: int
    body: dict[str, object]
    # Indexes into the receiver's secrets of those whose signature the delivery carries.
    signed_by: frozenset[int]
    headers: dict[str, str]

    @property
    def change_id(self) -> int:
        data = self.body["data"]
        assert isinstance(data, dict)
        change_id = data["id"]
        assert isinstance(change_id, int)
        return change_id


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


class Receiver:
    def __init__(
        self,
        secrets: Sequence[str] = (),
        *,
        port: int | None = None,
        answer: Callable[[Arrival], Answer] | None = None,
    ) -> None:
        self.secrets = list(secrets)
        self.port = port or free_port()
        self.answer = answer or (lambda _arrival: Answer())
        self.arrivals: list[Arrival] = []
        # Deliveries whose signature matched none of the secrets (or had none).
        self.unverified: list[dict[str, str]] = []
        # Requests whose sender went away before the whole body arrived.
        self.truncated = 0
        # webhook-ids that arrived while the same id was being answered.
        self.overlaps: list[str] = []
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/subgroups"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                if len(raw) < length:  # the sender died mid-request (a test killed it)
                    with receiver._lock:
                        receiver.truncated += 1
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                webhook_id = headers.get("webhook-id", "")
                with receiver._lock:
                    if webhook_id in receiver._in_flight:
                        receiver.overlaps.append(webhook_id)
                    receiver._in_flight.add(webhook_id)
                try:
                    answer = receiver._take(raw, headers)
                    if answer.delay:
                        time.sleep(answer.delay)
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                finally:
                    with receiver._lock:
                        receiver._in_flight.discard(webhook_id)

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return  # a sender that hung up (killed): nothing to report

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _take(self, raw: bytes, headers: dict[str, str]) -> Answer:
        signed_by = set()
        for index, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(raw, headers)
            except WebhookVerificationError:
                continue
            signed_by.add(index)
        if not signed_by:
            with self._lock:
                self.unverified.append(headers)
            return Answer(status=400)
        arrival = Arrival(
            webhook_id=headers["webhook-id"],
            timestamp=int(headers["webhook-timestamp"]),
            body=json.loads(raw),
            signed_by=frozenset(signed_by),
            headers=headers,
        )
        answer = self.answer(arrival)
        if 200 <= answer.status < 300:
            with self._lock:
                self.arrivals.append(arrival)
        return answer

    def change_ids(self) -> set[int]:
        with self._lock:
            return {a.change_id for a in self.arrivals}

    async def wait_for(self, change_ids: set[int], within: float = 30.0) -> None:
        """Returns once every change in `change_ids` has arrived; fails the test otherwise."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if change_ids <= self.change_ids():
                return
            await asyncio.sleep(0.05)
        missing = sorted(change_ids - self.change_ids())
        raise AssertionError(f"{len(missing)} changes never arrived, first {missing[:10]}")


@contextmanager
def receiving(
    secrets: Sequence[str] = (),
    *,
    port: int | None = None,
    answer: Callable[[Arrival], Answer] | None = None,
) -> Iterator[Receiver]:
    receiver = Receiver(secrets, port=port, answer=answer)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
