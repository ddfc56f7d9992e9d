"""Process-wide counters, rendered in the Prometheus text exposition format.

Each server process counts for itself; a scraper sees the process that answered it.
"""

from __future__ import annotations

from typing import Final

AUTH_FAILURES: Final = "subgroups_auth_failures_total"
RATE_LIMITED: Final = "subgroups_rate_limited_total"
RATE_LIMIT_STORE_ERRORS: Final = "subgroups_rate_limit_store_errors_total"
WEBHOOKS_DELIVERED: Final = "subgroups_webhook_deliveries_delivered_total"
WEBHOOKS_FAILED: Final = "subgroups_webhook_deliveries_failed_total"

_HELP: Final = {
    AUTH_FAILURES: "Requests refused with 401: a missing, unknown, revoked or malformed API key.",
    RATE_LIMITED: "Requests refused with 429: the workspace spent its budget.",
    RATE_LIMIT_STORE_ERRORS: (
        "Rate-limit operations the shared store (Redis) failed; those requests were counted"
        " in this process instead."
    ),
    WEBHOOKS_DELIVERED: "Webhook deliveries this process delivered (a 2xx from the receiver).",
    WEBHOOKS_FAILED: (
        "Webhook deliveries this process marked failed after their last attempt (replayable)."
    ),
}


class Metrics:
    def __init__(self) -> None:
        self._counts = dict.fromkeys(_HELP, 0)

    def inc(self, name: str, amount: int = 1) -> None:
        self._counts[name] += amount

    def value(self, name: str) -> int:
        return self._counts[name]

    def render(self) -> str:
        lines = []
        for name, count in self._counts.items():
            lines += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} counter", f"{name} {count}"]
        return "\n".join(lines) + "\n"
