"""CSV cells made safe for spreadsheets (§10): a cell that a spreadsheet would take for a formula
is prefixed with `'`, so it shows as text. Phone numbers are E.164 (`+` and digits, validated
on the way in) and are left as they are, so an export can be imported again."""

from __future__ import annotations

from typing import Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str, *, column: str = "") -> str:
    if column == "phone" or not value.startswith(FORMULA_STARTS):
        return value
    return "'" + value
