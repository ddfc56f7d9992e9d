"""The security headers every response carries, unless the response or its path sets its own.

API responses are JSON that no browser should render, frame, cache or send a referrer from. Pages
(the dashboard, API docs) need a CSP that admits their own assets: give their path prefix its own
headers in PAGE_OVERRIDES, or set the header on the response itself, which always wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

API_HEADERS: Final[Mapping[str, str]] = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": (
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "cache-control": "no-store",
}

# (path prefix, headers that replace or add to API_HEADERS there), first match wins. For example:
# ("/dashboard", {"content-security-policy": "default-src 'self'", "cache-control": "no-cache"})
PAGE_OVERRIDES: Final[Sequence[tuple[str, Mapping[str, str]]]] = ()

RawHeaders = list[tuple[bytes, bytes]]


def _encoded(headers: Mapping[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode(), value.encode()) for name, value in headers.items())


class SecurityHeaders:
    def __init__(self, overrides: Iterable[tuple[str, Mapping[str, str]]] = PAGE_OVERRIDES) -> None:
        self._default = _encoded(API_HEADERS)
        self._overrides = [
            (prefix, _encoded({**API_HEADERS, **headers})) for prefix, headers in overrides
        ]

    def for_path(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        for prefix, headers in self._overrides:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return headers
        return self._default

    def add_to(self, path: str, headers: RawHeaders) -> None:
        """Adds the path's headers that the response did not set itself."""
        present = {name.lower() for name, _ in headers}
        headers.extend(h for h in self.for_path(path) if h[0] not in present)
