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
import time
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

TIMEOUT_SECONDS: Final = 15.0
MAX_CONNECTIONS: Final = 200
RESOLVED_SECONDS: Final = 1.0
MAX_RESOLVED: Final = 10_000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(Exception):
    pass


class HttpSender:
    def __init__(self, *, allow_private: bool, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self._allow_private = allow_private
        self._timeout = timeout_seconds
        self._resolved: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=50),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, url: str, *, headers: dict[str, str], body: bytes) -> Attempt:
        started = time.monotonic()

        def took() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self._timeout):
                target, host = await self._pinned(url)
                extensions = {"sni_hostname": host} if target.startswith("https:") else {}
                request = self._client.build_request(
                    "POST",
                    target,
                    headers={**headers, "host": _host_header(url)},
                    content=body,
                    extensions=extensions,
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

    async def _pinned(self, url: str) -> tuple[str, str]:
        """`url` with its host replaced by a checked address, and the host name."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await self._resolve(host, port)
        if not self._allow_private:
            for address in addresses:
                if not is_public(address):
                    raise RefusedAddress(private_address_message(host, str(address)))
        first = addresses[0]
        literal = f"[{first}]" if first.version == 6 else str(first)
        return urlunsplit(parts._replace(netloc=f"{literal}:{port}")), host

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
