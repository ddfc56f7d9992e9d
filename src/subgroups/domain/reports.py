"""What the dashboard shows about groups: their sizes now and day by day."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from subgroups.domain.models import Group


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many profiles are subscribed and unsubscribed (profiles with no state are in neither)."""

    subscribed: int = 0
    unsubscribed: int = 0

    def __add__(self, other: Sizes) -> Sizes:
        return Sizes(self.subscribed + other.subscribed, self.unsubscribed + other.unsubscribed)

    def __sub__(self, other: Sizes) -> Sizes:
        return Sizes(self.subscribed - other.subscribed, self.unsubscribed - other.unsubscribed)


@dataclass(frozen=True, slots=True)
class GroupSummary:
    group: Group
    sizes: Sizes


@dataclass(frozen=True, slots=True)
class DailySizes:
    """The group's sizes at the end of `day` (UTC)."""

    day: date
    sizes: Sizes


def daily_sizes(
    current: Sizes, deltas: Mapping[date, Sizes], *, today: date, days: int
) -> list[DailySizes]:
    """The sizes at the end of each of the last `days` days, oldest first, ending with today.

    Works backwards from the sizes now: the end of a day is now minus every change made after it.
    `deltas` holds the net change of each day since the first day shown (other days are ignored).
    """
    series: list[DailySizes] = []
    sizes = current
    for offset in range(days):
        day = today - timedelta(days=offset)
        series.append(DailySizes(day, sizes))
        sizes = sizes - deltas.get(day, Sizes())
    series.reverse()
    return series
