"""A byte that is not UTF-8 in a directory CSV is reported where it is: the physical line,
the column and the field (issue 10: it was reported on line 1, where the text reader
happened to be when it decoded ahead)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.directory import load_directory
from breachdesk.directory.rows import bad_utf8
from breachdesk.errors import DirectoryError

SMALL = Path(__file__).parent / "data" / "small" / "directory"
HEADER = b"user_id,email,name,locale,country,mfa_enabled,status\n"


def _directory(tmp_path: Path, users: bytes) -> Path:
    folder = tmp_path / "dir"
    shutil.copytree(SMALL, folder)
    (folder / "users.csv").write_bytes(users)
    return folder


def _error(folder: Path) -> str:
    with pytest.raises(DirectoryError) as caught:
        load_directory(folder)
    return str(caught.value)


def test_a_bad_byte_in_a_small_file(tmp_path: Path) -> None:
    users = HEADER + (
        b"u1,alice@example.com,Alice,en,US,true,active\n"
        b"u2,bob@example.com,Bob,en,US,true,active\n"
        b"u3,carol@example.com,Car\xffol,en,US,true,active\n"
    )
    folder = _directory(tmp_path, users)
    assert _error(folder).endswith("users.csv:4: not valid UTF-8 (column 25, field name)")


def test_after_a_quoted_newline_and_far_down_the_file(tmp_path: Path) -> None:
    rows = [b"u%d,user%d@example.com,Person,en,US,true,active\n" % (i, i) for i in range(5000)]
    rows[10] = b'u10,user10@example.com,"Two\nLines",en,US,true,active\n'  # lines 12-13
    rows[4000] = b"u4000,user4000@example.com,Person,e\xe9n,US,true,active\n"  # line 4003
    folder = _directory(tmp_path, HEADER + b"".join(rows))
    assert _error(folder).endswith("users.csv:4003: not valid UTF-8 (column 36, field locale)")


def test_inside_a_quoted_field_that_spans_lines(tmp_path: Path) -> None:
    users = HEADER + b'u1,a@example.com,"First\nSec\xc3ond",en,US,true,active\n'
    folder = _directory(tmp_path, users)
    assert _error(folder).endswith("users.csv:3: not valid UTF-8 (column 4, field name)")


def test_in_the_header_and_after_a_bom(tmp_path: Path) -> None:
    folder = _directory(tmp_path, b"\xef\xbb\xbfuser_id,em\x80ail,name\n")
    assert _error(folder).endswith("users.csv:1: not valid UTF-8 (column 11, in the header row)")
    folder = _directory(
        tmp_path / "2", b"\xef\xbb\xbf" + HEADER + b"u1,\xfe@x.org,A,en,US,,active\n"
    )
    assert _error(folder).endswith("users.csv:2: not valid UTF-8 (column 4, field email)")


def test_in_memberships_too(tmp_path: Path) -> None:
    folder = _directory(tmp_path, (SMALL / "users.csv").read_bytes())
    members = folder / "memberships.csv"
    members.write_bytes(members.read_bytes() + b"u1,o1,own\xe2er\n")
    lines = members.read_bytes().count(b"\n")
    assert _error(folder).endswith(
        f"memberships.csv:{lines}: not valid UTF-8 (column 10, field role)"
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                     max_size=12), min_size=1, max_size=60),
    st.data(),
)  # fmt: skip
def test_the_line_and_column_are_those_of_the_byte(cells: list[str], data: st.DataObject) -> None:
    import csv
    import io
    import tempfile

    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["a", "b", "c"])
    for i in range(0, len(cells), 3):
        writer.writerow(cells[i : i + 3])
    raw = text.getvalue().encode()
    starts = [i for i in range(len(raw) + 1) if i == len(raw) or raw[i] & 0xC0 != 0x80]
    at = data.draw(st.sampled_from(starts))  # at a character boundary
    broken = raw[:at] + b"\xff" + raw[at:]
    breaks = list(re.finditer(rb"\r\n|\r|\n", raw[:at]))  # where the CSV reader splits lines
    line = len(breaks) + 1
    column = len(raw[breaks[-1].end() if breaks else 0 : at].decode()) + 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.csv"
        path.write_bytes(broken)
        message = bad_utf8(path)
    found = re.search(r":(\d+): not valid UTF-8 \(column (\d+),", message)
    assert found and (int(found[1]), int(found[2])) == (line, column), message
