"""The Arrow CSV writer against the row writer: the same bytes for any text, as the contract
files must not depend on which writer made them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.report.files import write_private_csv, write_private_table

# texts rich in what a CSV writer must handle: quotes, commas, CR, LF, formula starts
_ALPHABET = st.sampled_from(list('ab,"\r\n\t=+-@ é\u202e;'))
_CELL = st.one_of(st.none(), st.text(_ALPHABET, max_size=8), st.text(max_size=6))


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 4),
    data=st.data(),
    batch=st.integers(1, 5),
)
def test_arrow_writer_writes_the_row_writers_bytes(
    tmp_path_factory: object, width: int, data: st.DataObject, batch: int
) -> None:
    rows = data.draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=12))
    header = [f"c{i}" for i in range(width)]
    table = pa.table({h: pa.array([r[i] for r in rows], pa.string()) for i, h in enumerate(header)})
    folder = Path(str(tmp_path_factory.mktemp("csv")))  # type: ignore[attr-defined]
    by_rows = write_private_csv(folder / "rows.csv", header, rows)
    by_arrow = write_private_table(folder / "arrow.csv", table, batch=batch)
    assert (folder / "arrow.csv").read_bytes() == (folder / "rows.csv").read_bytes()
    assert by_arrow == by_rows
    assert (folder / "arrow.csv").stat().st_mode & 0o777 == 0o600
