"""The HTTP/1.1 protocol `subgroups serve` runs: uvicorn's httptools protocol, with a bounded head.

httptools (llhttp, the parser of Node.js) costs a request less than half of what h11 does, but it
keeps whatever part of a request head has arrived, however long it grows: one client could send
megabytes of a single header and the process would hold them all. This protocol counts the bytes
of a head that is still arriving and, once they pass MAX_REQUEST_HEAD_BYTES, answers 431 and closes
the connection instead of parsing on.

While a head arrives, the count is of the reads that began and ended inside it (a head that begins
inside a read that ended an earlier request counts from the next read), so what one connection can
make the process hold is the limit plus one read. A complete head is measured exactly, before
httptools parses its target (which it would refuse with a 400 past 64 KiB). The bound lives here
and nowhere else: the app leaves it to the server, so run it with `subgroups serve`.

When the parser refuses what follows a complete head (a bad chunk size), uvicorn answers 400 and
closes the connection while the app is reading the body; the app sees the client hang up. This
protocol tells the app the client was answered (see `ANSWERED_BY_SERVER`), so that the request's
access line gives the 400 the client got.
"""

from __future__ import annotations

import logging
from typing import Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from subgroups.web.middleware import ANSWERED_BY_SERVER
from subgroups.web.security_headers import SecurityHeaders

# The request line and headers together. 64 KiB holds a GET naming 50 long external ids with room
# to spare.
MAX_REQUEST_HEAD_BYTES: Final = 64 * 1024
HEAD_TOO_LARGE: Final = "Request Header Fields Too Large"

log = logging.getLogger("subgroups.api")


def _refusal() -> bytes:
    body = b'{"message":"' + HEAD_TOO_LARGE.encode() + b'"}'
    lines = [
        b"HTTP/1.1 431 " + HEAD_TOO_LARGE.encode(),
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
        *(name + b": " + value for name, value in SecurityHeaders().for_path("/")),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_REFUSAL: Final = _refusal()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing (431) a request head over MAX_REQUEST_HEAD_BYTES."""

    # Per connection: whether a head is being received (between requests counts as before one),
    # its bytes so far, and how many heads have completed (to tell whether one ended in a read).
    _in_head = True
    _head_bytes = 0
    _heads_done = 0

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        in_head, heads_before = self._in_head, self._heads_done
        super().data_received(data)
        # Counted only when the whole read was head: it began and ended inside the same head.
        if not (in_head and self._in_head and self._heads_done == heads_before):
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            self._refuse()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._heads_done += 1
        # The request target and every header line, as received (name, ": ", value, CRLF).
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_REQUEST_HEAD_BYTES:
            self._refuse()
            return
        super().on_headers_complete()

    # What the parser still finds in the read that was refused belongs to no request.
    def on_body(self, body: bytes) -> None:
        if not self.transport.is_closing():
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = True
        if not self.transport.is_closing():
            super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        cycle = self.cycle
        # None before the first head; a request whose answer has begun is the app's to log.
        if cycle is not None and not cycle.response_started:
            cycle.scope.setdefault("state", {})[ANSWERED_BY_SERVER] = 400
        super().send_400_response(msg)

    def _refuse(self) -> None:
        if self.transport.is_closing():
            return
        log.warning(
            "request head over %d bytes refused",
            MAX_REQUEST_HEAD_BYTES,
            extra={"status": 431, "client_ip": self.client[0] if self.client else None},
        )
        self.transport.write(_REFUSAL)
        self.transport.close()
