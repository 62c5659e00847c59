"""CSV that a spreadsheet cannot turn into formulas, sorted so reruns are byte-identical."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc

from breachdesk.private import private_file, write_private

__all__ = ["csv_bytes", "safe_cell", "write_private", "write_private_csv", "write_private_table"]

# = + - @, plus tab and carriage return (OWASP's list): a spreadsheet strips a
# leading tab or CR and may then read the rest ("\t=cmd()") as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell as text, with ``'`` before anything a spreadsheet would read as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


_QUOTED = re.compile(r'[",\r\n]')


def csv_line(cells: Sequence[str]) -> str:
    """One CSV record with LF line end. Unlike the csv module with ``lineterminator="\\n"``,
    it also quotes a cell holding a lone CR, which a reader would otherwise take for the
    end of the record."""
    if len(cells) == 1 and not cells[0]:
        return '""\n'  # one empty cell, not an empty line
    return (
        ",".join('"' + c.replace('"', '""') + '"' if _QUOTED.search(c) else c for c in cells) + "\n"
    )


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV text sorted by its first column (then the rest), formula-safe, LF line ends."""
    cells = sorted(([safe_cell(v) for v in row] for row in rows), key=_sort_key)
    return "".join(csv_line(row) for row in [list(header), *cells]).encode("utf-8")


def write_private_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Stream already-sorted rows to ``path`` (formula-safe, 0600, atomic); its SHA-256."""
    digest = hashlib.sha256()

    class _Hashing(io.TextIOBase):
        def __init__(self, raw: IO[bytes]) -> None:
            self.raw = raw

        def write(self, text: str) -> int:
            data = text.encode("utf-8")
            digest.update(data)
            self.raw.write(data)
            return len(text)

    with private_file(path) as raw:
        out = _Hashing(raw)
        out.write(csv_line(list(header)))
        for row in rows:
            out.write(csv_line([safe_cell(v) for v in row]))
    return digest.hexdigest()


def write_private_table(path: Path, table: pa.Table, batch: int = 65_536) -> str:
    """Write an already-sorted Arrow table as CSV to ``path`` (0600, atomic); its SHA-256.

    The same bytes as :func:`write_private_csv` gives for the table's rows (each cell as
    :func:`safe_cell` writes it, quoted as :func:`csv_line` quotes it), built by Arrow's
    string kernels a batch at a time: a table of millions of rows never becomes Python
    objects."""
    digest = hashlib.sha256()
    with private_file(path) as raw:
        head = csv_line(list(table.column_names)).encode("utf-8")
        digest.update(head)
        raw.write(head)
        for chunk in table.to_batches(max_chunksize=batch):
            if chunk.num_rows == 0:
                continue
            data = _csv_text(chunk)
            digest.update(data)
            raw.write(data)
    return digest.hexdigest()


_FORMULA_STARTS = pa.array(list(_FORMULA_START), pa.large_string())
_QUOTED_RE = '[",\r\n]'


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _holds_any(text: pa.Array, chars: bytes) -> bool:
    """Whether any value of a string array holds one of ``chars``: a memchr over its bytes."""
    if len(text) == 0:
        return False
    _, offsets, data = text.buffers()
    if data is None:
        return False
    bounds = memoryview(offsets).cast("q")  # a large string array's 64-bit offsets
    start, end = bounds[text.offset], bounds[text.offset + len(text)]
    raw = memoryview(data)[start:end].tobytes()
    return any(raw.find(bytes([c])) >= 0 for c in chars)


def _csv_cells(column: pa.Array) -> pa.Array:
    """One column's cells as :func:`safe_cell` then :func:`csv_line` write them."""
    text = column if pa.types.is_large_string(column.type) else column.cast(pa.large_string())
    text = pc.fill_null(text, _text(""))
    formula = pc.is_in(pc.utf8_slice_codeunits(text, 0, 1), _FORMULA_STARTS)
    if pc.any(formula).as_py():
        text = pc.if_else(formula, pc.binary_join_element_wise(_text("'"), text, _text("")), text)
    if _holds_any(text, b'",\r\n'):
        quoted = pc.match_substring_regex(text, _QUOTED_RE)
        doubled = pc.replace_substring(text, '"', '""')
        wrapped = pc.binary_join_element_wise(_text('"'), doubled, _text('"'), _text(""))
        text = pc.if_else(quoted, wrapped, text)
    return text


def _csv_text(chunk: pa.RecordBatch) -> bytes:
    """The CSV lines of one batch (LF ends), as one UTF-8 buffer."""
    cells = [_csv_cells(column) for column in chunk.columns]
    if len(cells) == 1:  # one empty cell is written "", never as an empty line
        cells[0] = pc.if_else(pc.equal(cells[0], ""), _text('""'), cells[0])
    lines = pc.binary_join_element_wise(*cells, _text(",")) if len(cells) > 1 else cells[0]
    lines = pc.binary_join_element_wise(lines, _text(""), _text("\n"))
    joined = pc.binary_join(pa.LargeListArray.from_arrays([0, len(lines)], lines), _text(""))
    return bytes(joined[0].as_buffer())


def _sort_key(row: list[str]) -> tuple[object, ...]:
    return tuple(_natural(c) for c in row)


def _natural(cell: str) -> tuple[int, int, str]:
    # numbers sort as numbers (line 9 before line 10), text as text; the engine orders
    # affected users the same way (digits first, by value, then by text)
    if cell.isascii() and cell.isdigit():
        return (0, int(cell), cell)
    return (1, 0, cell)
