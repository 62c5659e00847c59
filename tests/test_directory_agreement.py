"""The fast columnar directory reader and the row-by-row reference agree on messy
directories: the same tables, organizations and notes, or the same error."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.directory import load_directory, read_directory_rows
from helpers import directory_outcome

# Python's str.strip and isspace see all of these as whitespace; RE2's \s sees only some
_PAD = st.sampled_from(["", "", " ", "  ", "\t", "\xa0", "\u3000", "\x1f", "\v"])
_LOCAL = st.sampled_from(["ann", "Bob.B", "ké", "Ke\u0301n", "STRASSE", "straße", "a b", "İx"])
_DOMAIN = st.sampled_from(["ex.com", "EX.org", "bücher.de", "x\u2003y.com", ""])


@st.composite
def _email(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["address", "address", "address", "empty", "junk"]))
    if kind == "empty":
        return ""
    if kind == "junk":
        return draw(st.sampled_from(["not-an-email", "@", "a@b\nc", "x;y"]))
    return draw(_PAD) + f"{draw(_LOCAL)}@{draw(_DOMAIN)}" + draw(_PAD)


@st.composite
def _user(draw: st.DrawFn, ids: list[str]) -> list[str]:
    others = ";".join(draw(st.lists(_email(), max_size=3)))
    return [
        draw(_PAD) + draw(st.sampled_from(ids)) + draw(_PAD),
        draw(_email()),
        draw(st.sampled_from(["Ann", "Zoë, Z.", 'Q "q"', "multi\nline", ""])),
        draw(_PAD) + draw(st.sampled_from(["en", "en_US", "pt-BR", "", "e1", "de-"])),
        draw(st.sampled_from(["us", "DE", "", " ro ", "Romania", "ß"])),
        draw(st.sampled_from(["true", "NO", "1", "", " Y ", "maybe"])),
        draw(st.sampled_from(["active", "Deactivated", " ACTIVE", "gone"])),
        draw(st.sampled_from(["", "us-ca", "DE-BY", "X"])),
        draw(st.sampled_from([others, others, ""])),
    ]


def _csv(rows: list[list[str]], crlf: bool) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    return out.getvalue().encode()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_columnar_and_row_readers_agree(data: st.DataObject) -> None:
    ids = data.draw(st.lists(st.sampled_from(["u1", "u2", "u3", "u4", "u5", "7", "ü"]),
                             min_size=1, max_size=7, unique=True))  # fmt: skip
    users = data.draw(st.lists(_user(ids), max_size=8))
    if data.draw(st.booleans()):  # unique ids, so the check goes further than user_id
        users = list({row[0].strip(): row for row in users}.values())
    columns = ["user_id", "email", "name", "locale", "country", "mfa_enabled", "status"]
    optional = data.draw(st.sampled_from([[], ["region"], ["region", "other_emails"]]))
    header = [*columns, *optional]
    users = [row[: len(header)] for row in users]
    orgs = data.draw(st.lists(st.sampled_from(["o1", "o2", "o3", " o1"]), max_size=3))
    members = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from([*ids, "nobody", ""]),
                st.sampled_from(["o1", "o2", "o4", "o5", ""]),
                st.sampled_from(["owner", "ADMIN", " member", "viewer", ""]),
            ),
            max_size=8,
        )
    )
    crlf, bom, allow = data.draw(st.booleans()), data.draw(st.booleans()), data.draw(st.booleans())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "users.csv").write_bytes(
            (b"\xef\xbb\xbf" if bom else b"") + _csv([header, *users], crlf)
        )
        (folder / "organizations.csv").write_bytes(
            _csv([["org_id", "name"], *[[o, "Org"] for o in orgs]], crlf)
        )
        (folder / "memberships.csv").write_bytes(
            _csv([["user_id", "org_id", "role"], *map(list, members)], crlf)
        )
        fast = directory_outcome(load_directory, folder, allow)
        slow = directory_outcome(read_directory_rows, folder, allow)
    assert fast == slow


def test_the_space_class_is_pythons_whitespace() -> None:
    import sys

    import pyarrow as pa
    import pyarrow.compute as pc

    from breachdesk.directory.loader import SPACE_CLASS

    every = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    found = pc.match_substring_regex(pa.array(every), f"^[{SPACE_CLASS}]$").to_pylist()
    assert [c for c, hit in zip(every, found, strict=True) if hit] == [
        c for c in every if c.isspace()
    ]


def _small(tmp: Path, users: bytes) -> Path:
    (tmp / "users.csv").write_bytes(users)
    (tmp / "organizations.csv").write_text("org_id,name\no1,Acme\n")
    (tmp / "memberships.csv").write_text("user_id,org_id,role\nu0,o1,owner\n")
    return tmp


def test_a_character_cut_by_the_utf8_checks_block_is_still_valid(tmp_path: Path) -> None:
    from breachdesk.directory.loader import _load_columnar

    header = b"user_id,email,name,locale,country,mfa_enabled,status\n"
    rows = [
        b"u%d,u%d@ex.com,Zo\xc3\xab \xe2\x82\xac,en,US,,active\n" % (i, i) for i in range(60000)
    ]
    for pad in range(40):  # shift the rows until a character straddles the first 1 MiB block
        data = header + b"u,x@ex.com," + b" " * pad + b",en,US,,active\n" + b"".join(rows)
        if data[1 << 20] & 0xC0 == 0x80:
            break
    assert data[1 << 20] & 0xC0 == 0x80
    folder = _small(tmp_path, data)
    direct = _load_columnar(folder, False)  # raises _RowCheck if the check refused it
    assert len(direct) == 60001


def test_a_bad_byte_in_a_column_the_loader_does_not_use(tmp_path: Path) -> None:
    header = b"user_id,email,name,locale,country,mfa_enabled,status,note\n"
    folder = _small(tmp_path, header + b"u0,a@ex.com,Ann,en,US,,active,caf\xe9\n")
    fast = directory_outcome(load_directory, folder, False)
    assert fast == directory_outcome(read_directory_rows, folder, False)
    assert isinstance(fast, str) and "users.csv:2: not valid UTF-8" in fast
