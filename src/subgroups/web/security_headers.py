"""The security headers every response carries, unless the response sets its own.

API responses are JSON that no browser should render, frame, cache or send a referrer from, and
that is the policy every path gets. Pages that need another one (the dashboard admits its own
scripts and styles) set their headers on the response itself, which always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
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

RawHeaders = list[tuple[bytes, bytes]]


class SecurityHeaders:
    def __init__(self) -> None:
        self._headers = tuple(
            (name.encode(), value.encode()) for name, value in API_HEADERS.items()
        )

    def for_path(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        """The headers a response at `path` gets: the same for every path."""
        return self._headers

    def add_to(self, path: str, headers: RawHeaders) -> None:
        """Adds the path's headers that the response did not set itself."""
        present = {name.lower() for name, _ in headers}
        headers.extend(h for h in self.for_path(path) if h[0] not in present)
