"""The transport under the webhook sender's httpx client: httpcore's connection pool, one per
origin, over connections made directly on the running event loop.

Why not httpx's default transport: its one pool serves every origin, and before and after each
request it looks at every connection it holds, asking each idle one whether the server has closed
it. With the default network backend (anyio) that question builds a dictionary of socket
attributes and asks the kernel for the peer's address, every time; and each read and write goes
through a cancel scope of its own. On loopback that was most of a delivery's CPU, and it grows
with each receiver and connection added. Here each origin's pool holds only the connections to
that origin, and a connection is an asyncio protocol that knows itself whether the server has
closed it or sent bytes nobody asked for (the loop reads them as they come), so the question is
free.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

import httpcore
import httpx

# Scheme, address, port, and the name TLS checks the certificate against: a connection made for
# one name is never used for another that resolves to the same address.
_Origin = tuple[bytes, bytes, int | None, str | None]
# A pool no request has used for this long is closed (its connections have expired anyway).
IDLE_POOL_SECONDS: Final = 60.0
# The most a connection holds of what the receiver sent and nobody has read yet: past it the
# loop stops reading the socket until some is taken, so a receiver that streams bytes (into an
# idle connection, or a huge answer) fills its own socket buffers, not this process's memory.
READ_BUFFER_BYTES: Final = 256 * 1024

# httpcore's errors as httpx's, as httpx's own transport maps them (the most specific first).
_ERRORS: Final[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _as_httpx(error: Exception) -> Exception:
    for theirs, ours in _ERRORS:
        if isinstance(error, theirs):
            return ours(str(error))
    return error


class _Connection(asyncio.Protocol):
    """One TCP connection's bytes as the event loop hands them over, and its flow control."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed = False
        self._socket: asyncio.BaseTransport | None = None
        self._reading_paused = False
        self._arrived: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The TCP transport: pausing it pauses a TLS layer started over it too.
        self._socket = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= READ_BUFFER_BYTES and not self._reading_paused:
            self._reading_paused = True
            assert isinstance(self._socket, asyncio.ReadTransport)
            self._socket.pause_reading()
        self._wake_reader()

    def take(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` of what has arrived; reading resumes once there is room again."""
        data = bytes(self.received[:max_bytes])
        del self.received[:max_bytes]
        if self._reading_paused and len(self.received) < READ_BUFFER_BYTES:
            self._reading_paused = False
            assert isinstance(self._socket, asyncio.ReadTransport)
            if not self._socket.is_closing():
                self._socket.resume_reading()
        return data

    def eof_received(self) -> bool:
        self.closed = True
        self._wake_reader()
        return False  # and close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    def _wake_reader(self) -> None:
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)
        self._arrived = None

    def _wake_writer(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    async def readable(self, timeout: float | None) -> None:
        if self.received or self.closed:
            return
        self._arrived = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout):
            await self._arrived

    async def writable(self, timeout: float | None) -> None:
        if self._writable is None:
            return
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._writable)


class _Stream(httpcore.AsyncNetworkStream):
    """A connection on the running event loop, for httpcore."""

    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport = transport
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        try:
            await connection.readable(timeout)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"nothing to read within {timeout} s") from None
        if not connection.received:
            return b""  # the server closed the connection
        return connection.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:  # h11 ends a request with a known length by writing nothing
            return
        if self._connection.closed:
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        try:
            await self._connection.writable(timeout)
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not write within {timeout} s") from None

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                secured = await loop.start_tls(
                    self._transport,
                    self._connection,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from None
        except (OSError, ssl.SSLError) as error:
            self._transport.close()
            raise httpcore.ConnectError(str(error)) from error
        if secured is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return _Stream(secured, self._connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle connection with bytes waiting, or closed by the server, cannot be reused.
            return self._connection.closed or bool(self._connection.received)
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class _Backend(httpcore.AsyncNetworkBackend):
    """Connections straight on the running event loop (asyncio or uvloop)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                # TCP_NODELAY is set by the loop on every TCP connection.
                transport, connection = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as error:
            raise httpcore.ConnectError(str(error)) from error
        for option in socket_options or ():
            transport.get_extra_info("socket").setsockopt(*option)
        return _Stream(transport, connection)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("deliveries go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Body(httpx.AsyncByteStream):
    def __init__(self, inner: Any) -> None:  # httpcore's response stream: iterable, closable
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._inner:
                yield part
        except Exception as error:
            raise _as_httpx(error) from error

    async def aclose(self) -> None:
        await self._inner.aclose()


class PooledTransport(httpx.AsyncBaseTransport):
    """Keeps up to `connections` connections to each origin it sends to (see _Origin)."""

    def __init__(self, *, ssl_context: ssl.SSLContext, connections: int) -> None:
        self._ssl = ssl_context
        self._connections = connections
        self._backend = _Backend()
        self._pools: dict[_Origin, tuple[httpcore.AsyncConnectionPool, float]] = {}
        self._swept_at = time.monotonic()

    def _pool(self, origin: _Origin) -> httpcore.AsyncConnectionPool:
        found = self._pools.get(origin)
        if found is None:
            pool = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl,
                max_connections=self._connections,
                max_keepalive_connections=self._connections,
                network_backend=self._backend,
            )
        else:
            pool = found[0]
        self._pools[origin] = (pool, time.monotonic())
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._sweep()
        url = httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        )
        inner = httpcore.Request(
            method=request.method,
            url=url,
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            origin = (url.scheme, url.host, url.port, request.extensions.get("sni_hostname"))
            answer = await self._pool(origin).handle_async_request(inner)
        except Exception as error:
            raise _as_httpx(error) from error
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    async def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < IDLE_POOL_SECONDS:
            return
        self._swept_at = now
        idle = [o for o, (_, used) in self._pools.items() if now - used > IDLE_POOL_SECONDS]
        for origin in idle:
            pool, _ = self._pools.pop(origin)
            await pool.aclose()

    async def aclose(self) -> None:
        pools = [pool for pool, _ in self._pools.values()]
        self._pools.clear()
        for pool in pools:
            await pool.aclose()
