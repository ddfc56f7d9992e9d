"""The webhook receiver of the benchmarks: a bare ASGI app under uvicorn, in a process of its own.

It does as little as a receiver can and still tell the benchmark what arrived: it answers every
POST 204 at once, counts it, remembers its `webhook-id` (to count each event once however often
it comes) and how long after its change it arrived (the body's `timestamp` is when the change
happened, on this same machine's clock). It checks no signature: the tests do that, and here the
receiver must not be what limits the figures.

    python -m bench.receiver --port 8765
    GET  /stats    {"arrivals": .., "unique": .., "first": .., "last": .., "p50": .., ...}
    GET  /count    {"arrivals": .., "unique": ..} (cheap: the benchmark polls it)
    POST /reset    forgets everything
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

import orjson
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Arrivals:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.ids: set[bytes] = set()
        self.first = 0.0
        self.last = 0.0
        # Seconds from each event's change to its first arrival here.
        self.delays: list[float] = []

    def add(self, webhook_id: bytes, body: bytes) -> None:
        now = time.time()
        self.count += 1
        self.first = self.first or now
        self.last = now
        if webhook_id in self.ids:
            return
        self.ids.add(webhook_id)
        stamp = orjson.loads(body).get("timestamp")
        if isinstance(stamp, str):
            self.delays.append(now - datetime.fromisoformat(stamp).timestamp())

    def counts(self) -> dict[str, float]:
        return {"arrivals": self.count, "unique": len(self.ids)}

    def stats(self) -> dict[str, float]:
        delays = sorted(self.delays)

        def pick(q: float) -> float:
            return delays[min(len(delays) - 1, int(q * len(delays)))] if delays else 0.0

        return {
            **self.counts(),
            "first": self.first,
            "last": self.last,
            "p50": pick(0.50),
            "p99": pick(0.99),
            "max": delays[-1] if delays else 0.0,
        }


ARRIVALS = Arrivals()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    method, path = scope["method"], scope["path"]
    answer: bytes | None = None
    if method == "POST" and path == "/reset":
        ARRIVALS.reset()
    elif method == "POST":
        webhook_id = next((v for k, v in scope["headers"] if k == b"webhook-id"), b"")
        ARRIVALS.add(webhook_id, b"".join(chunks))
    elif path == "/count":
        answer = orjson.dumps(ARRIVALS.counts())
    elif path == "/stats":
        answer = orjson.dumps(ARRIVALS.stats())
    elif path != "/healthz":
        answer = b"{}"
    status = 204 if answer is None and method == "POST" else 200
    headers = [(b"content-type", b"application/json")] if answer is not None else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer or b""})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.receiver")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        # Longer than uvicorn's 5 s: on a loaded machine a sender's pooled connection may sit idle
        # that long, and one closed just as it is reused costs a failed attempt.
        timeout_keep_alive=120,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
