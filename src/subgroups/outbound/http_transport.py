"""The transport under the webhook sender's httpx client: httpcore's connection pool, one per
origin, over httpcore's own network backend with a cheaper readiness check.

Why not httpx's default transport: its one pool serves every origin, and before and after each
request it looks at every connection it holds, asking each idle one whether the server has closed
it. With the default backend that question builds a dictionary of socket attributes (and asks
the kernel for the peer's address) every time: most of a request's cost on loopback, and more
with each receiver and connection added. Here each origin's pool holds only the connections to
that origin, and the question is one `poll` on the socket, which is what httpcore asks in the end.
"""

from __future__ import annotations

import select
import ssl
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

import httpcore
import httpx

_Origin = tuple[bytes, bytes, int | None]
# A pool no request has used for this long is closed (its connections have expired anyway).
IDLE_POOL_SECONDS: Final = 60.0

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


class _Stream(httpcore.AsyncNetworkStream):
    """A stream of the default backend, its socket looked up once."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:  # h11 ends a request with a known length by writing nothing
            await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle connection the server has closed reads its end at once.
            fd = -1 if self._socket is None else self._socket.fileno()
            if fd < 0:
                return True
            probe = select.poll()
            probe.register(fd, select.POLLIN)
            return bool(probe.poll(0))
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("deliveries go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


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
    """Keeps up to `connections` connections to each origin (scheme, host, port) it sends to."""

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
            origin = (url.scheme, url.host, url.port)
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
