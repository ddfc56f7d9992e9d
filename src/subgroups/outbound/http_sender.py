"""Sends webhook deliveries over HTTP (httpx), to public addresses only unless told otherwise.

Before each request the URL's host is resolved (at most once a second per host) and every address
it resolves to is checked (a receiver's DNS can change after `webhook create`, and a name can
resolve to a private address next to a public one); the request then goes to the first checked
address, not to a second lookup that could answer differently. The host name is kept for the
Host header and for TLS (SNI and certificate checks). Redirects are not followed, environment
proxies are not used, and at most 1 KiB of an answer is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx

from subgroups.domain.webhooks import (
    KEPT_TEXT_BYTES,
    Attempt,
    is_public,
    kept_text,
    private_address_message,
)
from subgroups.outbound.http_transport import PooledTransport

TIMEOUT_SECONDS: Final = 15.0
# Connections to one receiver (scheme, address, port) at most. A pool opens one only when none
# is idle, so it holds as many as requests were in flight to that receiver at once (each
# endpoint's concurrency, summed over the endpoints it serves), however high this is.
CONNECTIONS_PER_ORIGIN: Final = 100
RESOLVED_SECONDS: Final = 1.0
MAX_RESOLVED: Final = 10_000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(Exception):
    pass


class HttpSender:
    def __init__(
        self,
        *,
        allow_private: bool,
        timeout_seconds: float = TIMEOUT_SECONDS,
        connections: int = CONNECTIONS_PER_ORIGIN,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = timeout_seconds
        self._resolved: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        # Each URL's checked target, for as long as its host's addresses are trusted.
        self._pins: dict[str, tuple[float, _Pin | RefusedAddress]] = {}
        self._request_extensions = {"timeout": httpx.Timeout(timeout_seconds).as_dict()}
        self._client = httpx.AsyncClient(
            transport=PooledTransport(
                ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
                connections=connections,
            ),
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, url: str, *, headers: dict[str, str], body: bytes) -> Attempt:
        started = time.monotonic()

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self._timeout):
                pin = await self._pin(url)
                # Built here rather than by the client: its default headers (user agent,
                # compression, keep-alive) are not needed, and merging them costs every time.
                request = httpx.Request(
                    "POST",
                    pin.target,
                    headers={**headers, "host": pin.host_header},
                    content=body,
                    extensions={**self._request_extensions, **pin.extensions},
                )
                response = await self._client.send(request, stream=True)
                try:
                    latency = took()
                    answer = await _first_bytes(response)
                finally:
                    await response.aclose()
        except RefusedAddress as refused:
            return Attempt(None, took(), f"refused: {refused}")
        except TimeoutError:
            return Attempt(None, took(), f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as error:
            return Attempt(None, took(), kept_text(f"{type(error).__name__}: {error}"))
        except OSError as error:  # name resolution failed
            return Attempt(None, took(), kept_text(f"cannot resolve the host: {error}"))
        return Attempt(
            response.status_code,
            latency,
            kept_text(answer.decode(errors="replace")) or None,
            response.headers.get("retry-after"),
        )

    async def _pin(self, url: str) -> _Pin:
        """Where to send `url`: the checked address, looked up again once the host's addresses
        are older than RESOLVED_SECONDS (a refusal is remembered as long)."""
        now = time.monotonic()
        known = self._pins.get(url)
        if known is None or known[0] <= now:
            try:
                found: _Pin | RefusedAddress = await self._pinned(url)
            except RefusedAddress as refused:
                found = refused
            if len(self._pins) >= MAX_RESOLVED:
                self._pins.clear()
            expires = self._resolved.get(_host_port(url), (now, []))[0]
            self._pins[url] = known = (expires, found)
        if isinstance(known[1], RefusedAddress):
            raise known[1]
        return known[1]

    async def _pinned(self, url: str) -> _Pin:
        """`url` with its host replaced by a checked address."""
        parts = urlsplit(url)
        host, port = _host_port(url)
        addresses = await self._resolve(host, port)
        if not self._allow_private:
            for address in addresses:
                if not is_public(address):
                    raise RefusedAddress(private_address_message(host, str(address)))
        first = addresses[0]
        literal = f"[{first}]" if first.version == 6 else str(first)
        target = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
        return _Pin(
            target=httpx.URL(target),
            host_header=_host_header(url),
            extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        )

    async def _resolve(self, host: str, port: int) -> list[Address]:
        """The addresses of host:port, looked up at most once a second: a round of deliveries to
        one endpoint resolves its host once, not once per request (and each lookup costs a
        thread), while a change of DNS is still seen within the second."""
        now = time.monotonic()
        known = self._resolved.get((host, port))
        if known is not None and known[0] > now:
            return known[1]
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        if not addresses:
            raise OSError(f"{host} has no address")
        if len(self._resolved) >= MAX_RESOLVED:
            self._resolved.clear()
        self._resolved[(host, port)] = (now + RESOLVED_SECONDS, addresses)
        return addresses

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, slots=True)
class _Pin:
    target: httpx.URL
    host_header: str
    extensions: dict[str, str]


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]


async def _first_bytes(response: httpx.Response) -> bytes:
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= KEPT_TEXT_BYTES:
            break
    return bytes(kept[:KEPT_TEXT_BYTES])
