"""CSV text for spreadsheets: many rows at once are the same text as each row alone."""

from __future__ import annotations

from subgroups.services.csv_text import CsvLines

HEADER = ("external_id", "email", "phone", "count", "note")
ROWS: list[tuple[object, ...]] = [
    ("x1", "a@example.com", "+14155552671", 1, None),
    ("=SUM(A1)", "@home", "+14155552671", 2, "-minus"),
    ("+1", None, None, None, "\ttab"),
    ("plain", "b@example.com", None, 0, 'quote " and, comma\r\nnew line'),
    ("\rcarriage", "", "", -3, "'already"),
]


def test_many_rows_are_the_text_of_each_row_alone() -> None:
    one_by_one = CsvLines(HEADER)
    many = CsvLines(HEADER)

    expected = "".join(one_by_one.line(row) for row in ROWS)

    assert many.lines(ROWS) == expected
    assert many.lines([]) == ""


def test_formula_cells_are_neutralised_but_phones_are_not() -> None:
    text = CsvLines(HEADER).lines([("=1+1", "-x@example.com", "+14155552671", 1, "@note")])

    assert text == "'=1+1,'-x@example.com,+14155552671,1,'@note\r\n"
