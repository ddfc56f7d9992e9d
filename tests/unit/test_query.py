"""Paging parameters from query-string text: `whole_number` reads them, `page_bounds` checks them."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from subgroups.domain.reads import MAX_OFFSET, page_bounds
from subgroups.errors import InvalidRequest
from subgroups.web.api.query import whole_number


@pytest.mark.parametrize(
    ("text", "number"),
    [
        (None, None),
        ("0", 0),
        ("0007", 7),
        ("100", 100),
        ("", -1),
        ("-1", -1),
        (" 1", -1),
        ("1.0", -1),
        ("\u0661", -1),  # ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
        (str(MAX_OFFSET), MAX_OFFSET),
        ("9" * 19, int("9" * 19)),
        ("9" * 20, MAX_OFFSET + 1),
        ("0" * 30 + "5", 5),
        ("9" * 5000, MAX_OFFSET + 1),  # longer than int() converts: never converted
    ],
)
def test_whole_number(text: str | None, number: int | None) -> None:
    assert whole_number(text) == number


@given(st.text(max_size=30))
@example("9" * 40)
def test_an_offset_is_accepted_only_as_plain_digits(text: str) -> None:
    if not (text.isascii() and text.isdigit()):
        with pytest.raises(InvalidRequest, match=r"^offset must be a whole number, 0 or more$"):
            page_bounds(1, whole_number(text))
    else:
        assert page_bounds(1, whole_number(text)) == (1, min(int(text), MAX_OFFSET))


@given(st.text(max_size=30))
@example("0100")
@example("1" * 40)
def test_a_limit_is_accepted_only_as_plain_digits_from_1_to_100(text: str) -> None:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 100):
        with pytest.raises(InvalidRequest, match=r"^limit must be a whole number from 1 to 100$"):
            page_bounds(whole_number(text), None)
    else:
        assert page_bounds(whole_number(text), None) == (int(text), 0)
