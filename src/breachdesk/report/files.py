"""CSV that a spreadsheet cannot turn into formulas, sorted so reruns are byte-identical."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from breachdesk.private import private_file, write_private

__all__ = ["csv_bytes", "safe_cell", "write_private", "write_private_csv"]

# DESIGN.md's four, plus tab and carriage return (OWASP's list): a spreadsheet strips a
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


def _sort_key(row: list[str]) -> tuple[object, ...]:
    return tuple(_natural(c) for c in row)


def _natural(cell: str) -> tuple[int, int, str]:
    # numbers sort as numbers (line 9 before line 10), text as text; the engine orders
    # affected users the same way (digits first, by value, then by text)
    if cell.isascii() and cell.isdigit():
        return (0, int(cell), cell)
    return (1, 0, cell)
