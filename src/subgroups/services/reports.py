"""What the dashboard reads: group sizes, their history, and the audit trail of a group or profile."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from subgroups.domain.models import Group, StateChange
from subgroups.domain.reports import DailySizes, GroupSummary, Sizes, daily_sizes
from subgroups.errors import InvalidRequest, NotFound
from subgroups.services.ports import Clock, GroupStore, ReportStore, WorkspaceStore

SERIES_DAYS = (30, 90)


def live_from(today: date) -> date:
    """The first day whose changes are counted at each view rather than kept: yesterday stays
    live, because another server's clock may still be writing into it."""
    return today - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class GroupReport:
    group: Group
    sizes: Sizes
    series: list[DailySizes]
    recent: list[StateChange]
    # Why people left (§11), per reason: how many gave it in the last 30 and 90 days, most given first.
    reasons: list[tuple[str, dict[int, int]]] = field(default_factory=list)


class ReportService:
    def __init__(
        self, *, reports: ReportStore, groups: GroupStore, workspaces: WorkspaceStore, clock: Clock
    ) -> None:
        self._reports = reports
        self._groups = groups
        self._workspaces = workspaces
        self._clock = clock

    async def summaries(self, *, workspace_id: int) -> list[GroupSummary]:
        if await self._workspaces.get(workspace_id) is None:
            raise NotFound(f"No workspace {workspace_id}")
        return await self._reports.summaries(workspace_id, live_from=live_from(self._today()))

    async def group_report(
        self, *, workspace_id: int, group_id: str, days: int, recent: int = 20
    ) -> GroupReport:
        """The group's sizes now, at the end of each of the last `days` days, and its latest changes."""
        if days not in SERIES_DAYS:
            raise InvalidRequest(f"days is one of {', '.join(map(str, SERIES_DAYS))}")
        group = (await self._groups.find(workspace_id, [group_id])).get(group_id)
        if group is None:
            raise NotFound(f"No subscription group '{group_id}' in this workspace")
        today = self._today()
        sizes, deltas = await self._reports.sizes_and_deltas(
            group, first_day=today - timedelta(days=days - 1), live_from=live_from(today)
        )
        return GroupReport(
            group=group,
            sizes=sizes,
            series=daily_sizes(sizes, deltas, today=today, days=days),
            recent=await self._reports.group_changes(group, limit=recent),
            reasons=await self._reasons(group),
        )

    async def _reasons(self, group: Group) -> list[tuple[str, dict[int, int]]]:
        now = self._clock.now()
        counts = {
            days: await self._reports.reason_counts(group, since=now - timedelta(days=days))
            for days in SERIES_DAYS
        }
        longest = counts[SERIES_DAYS[-1]]
        return [
            (reason, {days: counts[days].get(reason, 0) for days in SERIES_DAYS})
            for reason in sorted(longest, key=lambda r: (-longest[r], r))
        ]

    def _today(self) -> date:
        return self._clock.now().astimezone(UTC).date()

    async def profile_changes(
        self, *, workspace_id: int, profile_ids: Collection[int]
    ) -> list[StateChange]:
        if not profile_ids:
            return []
        return await self._reports.profile_changes(workspace_id, profile_ids)
