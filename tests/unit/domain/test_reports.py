from __future__ import annotations

from datetime import date

from subgroups.domain.reports import Sizes, daily_sizes

TODAY = date(2026, 3, 10)


def test_sizes_walk_back_from_now_through_each_days_net_change() -> None:
    deltas = {
        date(2026, 3, 10): Sizes(2, -1),  # today: two subscribed, one of them was unsubscribed
        date(2026, 3, 8): Sizes(1, 1),
    }

    series = daily_sizes(Sizes(5, 3), deltas, today=TODAY, days=4)

    assert [(p.day.day, p.sizes) for p in series] == [
        (7, Sizes(2, 3)),
        (8, Sizes(3, 4)),
        (9, Sizes(3, 4)),
        (10, Sizes(5, 3)),
    ]


def test_a_quiet_group_is_flat_and_changes_before_the_window_are_ignored() -> None:
    series = daily_sizes(Sizes(7, 1), {date(2026, 1, 1): Sizes(9, 9)}, today=TODAY, days=30)

    assert len(series) == 30
    assert series[0].day == date(2026, 2, 9)
    assert {p.sizes for p in series} == {Sizes(7, 1)}
