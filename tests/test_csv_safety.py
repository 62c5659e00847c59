"""Formula injection: every cell a spreadsheet could read as a formula is written with a
leading ``'`` — ``= + - @`` and tab and carriage return (OWASP's list)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from breachdesk.report.files import csv_bytes, safe_cell

STARTS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("start", STARTS)
def test_each_formula_start_is_guarded(start: str) -> None:
    value = f'{start}HYPERLINK("https://evil.example")'
    assert safe_cell(value) == "'" + value
    rows = list(csv.reader(io.StringIO(csv_bytes(["id"], [[value]]).decode())))
    assert rows[1] == ["'" + value]


@pytest.mark.parametrize("value", ["", "7", "a=b", " =1", "'=1", "x\t=1", "\n=1"])
def test_other_cells_are_left_alone(value: str) -> None:
    assert safe_cell(value) == value


@given(st.text())
@example("\r")  # the csv module leaves a lone CR unquoted: a reader would split the row
@example("a\rb")
@example("\t=1+2\r\n")
def test_no_cell_read_back_starts_a_formula(value: str) -> None:
    text = csv_bytes(["id"], [[value]]).decode()
    (cell,) = list(csv.reader(io.StringIO(text, newline="")))[1]
    assert not cell.startswith(tuple(STARTS))
    assert cell in (value, "'" + value)
