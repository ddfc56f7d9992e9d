"""Process-wide counters, rendered in the Prometheus text exposition format.

Each server process counts for itself; a scraper sees the process that answered it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from subgroups.domain.webhooks import Backlog

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


def render_backlog(backlog: Backlog, *, now: datetime) -> str:
    """The webhook backlog, read from the database at each scrape: the same in every process."""
    age = 0.0
    if backlog.oldest_undelivered_at is not None:
        age = max(0.0, (now - backlog.oldest_undelivered_at).total_seconds())
    gauges = (
        (
            "subgroups_webhook_deliveries_queued",
            "Deliveries waiting to be sent or retried.",
            backlog.pending,
        ),
        (
            "subgroups_webhook_deliveries_failed",
            "Deliveries that failed for good (replayable).",
            backlog.failed,
        ),
        (
            "subgroups_webhook_oldest_undelivered_age_seconds",
            "Age of the oldest change not yet delivered to an enabled endpoint (0: none).",
            round(age, 3),
        ),
    )
    lines = []
    for name, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(lines) + "\n"
