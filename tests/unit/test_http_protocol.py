"""The server protocol's bound on request heads, fed byte strings read by read.

A real server cannot be made to cut its reads where a test wants them; this drives the protocol
with a transport that records what is written, so each case chooses its reads exactly.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from subgroups.web.middleware import ANSWERED_BY_SERVER
from subgroups.web.server.http_protocol import MAX_REQUEST_HEAD_BYTES, BoundedHttpToolsProtocol

LIMIT = MAX_REQUEST_HEAD_BYTES


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _connect(app: Any = _app) -> tuple[BoundedHttpToolsProtocol, RecordingTransport]:
    config = Config(app=app, log_level="warning", lifespan="off")
    config.load()
    protocol = BoundedHttpToolsProtocol(config, ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _feed(*reads: bytes) -> RecordingTransport:
    protocol, transport = _connect()
    for data in reads:
        protocol.data_received(data)
        for _ in range(5):  # let the app answer before the next read
            await asyncio.sleep(0)
    return transport


def _statuses(transport: RecordingTransport) -> list[bytes]:
    return [
        line.split()[1] for line in transport.written.split(b"\r\n") if line.startswith(b"HTTP")
    ]


def _get(path: bytes = b"/", extra: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def _post(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


async def test_a_head_arriving_in_pieces_is_refused_once_it_passes_the_limit() -> None:
    piece = b"p" * 8192
    reads = [b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ", *[piece] * (LIMIT // len(piece) + 1)]

    transport = await _feed(*reads)

    assert _statuses(transport) == [b"431"]
    assert transport.closed


async def test_a_complete_head_one_byte_over_the_limit_is_refused() -> None:
    base = len(b"/") + len(b"host") + len(b"x") + 4 + len(b"x-pad") + 4
    exact = _get(extra=b"X-Pad: " + b"p" * (LIMIT - base) + b"\r\n")
    over = _get(extra=b"X-Pad: " + b"p" * (LIMIT - base + 1) + b"\r\n")

    assert _statuses(await _feed(exact)) == [b"200"]
    assert _statuses(await _feed(over)) == [b"431"]


async def test_a_long_head_within_the_limit_is_served_however_it_is_cut() -> None:
    head = _get(extra=b"X-Pad: " + b"p" * (LIMIT - 1000) + b"\r\n")

    transport = await _feed(*[head[i : i + 1000] for i in range(0, len(head), 1000)])

    assert _statuses(transport) == [b"200"]
    assert not transport.closed


async def test_the_read_that_ends_a_large_body_does_not_count_toward_the_next_head() -> None:
    body = b"b" * (2 * LIMIT)
    post = _post(body)
    next_head = _get(extra=b"X-Pad: " + b"p" * (LIMIT // 2) + b"\r\n")

    # The body's last read is larger than the limit; the next head arrives in two reads after it.
    transport = await _feed(post[:100], post[100:], next_head[:1000], next_head[1000:])

    assert _statuses(transport) == [b"200", b"200"]


async def test_a_head_that_begins_in_the_read_that_ends_a_request_is_still_bounded() -> None:
    piece = b"p" * 8192
    start = _get() + b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "

    transport = await _feed(start, *[piece] * (LIMIT // len(piece) + 2))

    assert _statuses(transport) == [b"200", b"431"]
    assert transport.closed


async def test_a_body_the_parser_refuses_is_a_400_the_app_is_told_about() -> None:
    """The app, reading the body, sees the connection close; the scope says the client was answered."""
    seen: list[tuple[str, object]] = []

    async def reading_app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        while message["type"] == "http.request" and message.get("more_body"):
            message = await receive()
        seen.append((message["type"], scope["state"].get(ANSWERED_BY_SERVER)))

    protocol, transport = _connect(reading_app)
    protocol.data_received(
        b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nzz\r\n'
    )
    protocol.connection_lost(None)  # what the event loop does once the transport has closed
    for _ in range(5):
        await asyncio.sleep(0)

    assert _statuses(transport) == [b"400"]
    assert seen == [("http.disconnect", 400)]


async def test_a_client_that_closes_mid_body_leaves_no_answer_in_the_scope() -> None:
    seen: list[object] = []

    async def reading_app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive())["type"] == "http.request":
            pass
        seen.append(scope["state"].get(ANSWERED_BY_SERVER))

    protocol, transport = _connect(reading_app)
    protocol.data_received(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    protocol.connection_lost(None)
    for _ in range(5):
        await asyncio.sleep(0)

    assert transport.written == b""
    assert seen == [None]
