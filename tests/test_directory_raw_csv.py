"""The directory's two readers agree on CSVs as real exports write them, byte by byte: a
quote inside an unquoted field, a quoted field followed by more text, a space before an
opening quote, CRLF and lone CR line ends, line breaks inside quotes, a BOM, trailing
delimiters, blank lines, a last line without its line end, Unicode in every form, ids with
leading zeros. Both give the same users, emails, memberships and organizations, or both
refuse with an error naming the file and the line."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.directory import (
    load_directory,
    read_contacts,
    read_directory_rows,
    read_organization_names,
)
from breachdesk.directory.rows import organization_rows
from breachdesk.errors import DirectoryError
from helpers import directory_outcome

USERS = ["user_id", "email", "name", "locale", "country", "mfa_enabled", "status"]
_PAD = st.sampled_from(["", "", "", " ", "\t", "\xa0", "\u3000"])
_IDS = ["u1", "u2", "007", "7", "0x1F", "ü", "u\u0308", "１"]  # ü as NFC and NFD, fullwidth 1
_LOCAL = ["ann", "Bob.B", "ké", "ke\u0301", "STRASSE", "straße", 'a"b', "a,b", "İx", "zoë"]
_DOMAIN = ["ex.com", "EX.org", "bücher.de", "bu\u0308cher.de"]


@st.composite
def _email(draw: st.DrawFn) -> str:
    kind = draw(_mostly(["address"] * 12 + ["empty", "empty"], ["fullwidth", "junk"]))
    if kind == "empty":
        return ""
    if kind == "fullwidth":
        return draw(st.sampled_from(["ann＠ex.com", "ＡＮＮ@ex.com"]))
    if kind == "junk":
        return draw(st.sampled_from(["not-an-email", "a@b\nc", "a@b\rc"]))
    return (
        draw(_PAD)
        + f"{draw(st.sampled_from(_LOCAL))}@{draw(st.sampled_from(_DOMAIN))}"
        + (draw(_PAD))
    )


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@st.composite
def _field(draw: st.DrawFn, value: str, odd: int) -> str:
    """One field as an export may write it: quoted where it must be, else plain or quoted;
    or, one time in ``odd``, in one of the odd forms."""
    if odd and draw(_rarely(odd)):
        form = draw(st.sampled_from(["plain", "space-quoted", "quoted-then-text", "mid-quote"]))
    elif any(c in value for c in ',"\r\n') or draw(_rarely(5)):
        form = "quoted"
    else:
        form = "plain"
    if form == "plain":
        return value  # a comma, quote or line break in it is an oddity of its own
    if form == "quoted":
        return _quoted(value)
    if form == "space-quoted":  # ` "a,b"`: not a quoted field, to Python's csv nor Arrow's
        return " " + _quoted(value)
    if form == "quoted-then-text":  # `"a"b` reads as `ab`
        return _quoted(value) + draw(st.sampled_from(["", "x", " "]))
    if not value:
        return value
    return value[:1] + '"' + value[1:]  # `a"b`: a quote inside an unquoted field is text


def _rarely(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` (Hypothesis draws small integers far more often)."""
    return st.sampled_from([False] * (n - 1) + [True])


def _mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """A bad value one time in forty, so that most files get past their first rows."""
    return st.sampled_from(good * (39 * len(bad) // len(good) + 1) + bad)


@st.composite
def _user(draw: st.DrawFn, optional: list[str]) -> list[str]:
    row = [
        draw(_PAD) + draw(st.sampled_from(_IDS)) + draw(_PAD),
        draw(_email()),
        draw(
            st.sampled_from(["Ann", "Zoë, Z.", 'Q "q"', "multi\nline", "cr\rin", "Zoe\u0308", ""])
        ),
        draw(_PAD) + draw(_mostly(["en", "en_US", "pt-BR", ""], ["e1"])),
        draw(_mostly(["us", "DE", "", " ro "], ["ß", "ıt", "ſe"])),
        draw(_mostly(["true", "NO", "1", "", " Y "], ["maybe"])),
        draw(_mostly(["active", "Deactivated", " ACTIVE"], ["actİve", "ACTİVE"])),
        draw(_mostly(["", "us-ca", "DE-BY"], ["X"])),
        ";".join(draw(st.lists(_email(), max_size=2))),
    ]
    return row[: len(USERS) + len(optional)]


@st.composite
def _table(draw: st.DrawFn, header: list[str], rows: list[list[str]]) -> bytes:
    """The raw bytes of a CSV file, with the line ends, blank lines and trailing delimiters
    real exports have."""
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    trailing = draw(st.sampled_from(["", "", ","]))  # on the header and every row
    odd = draw(st.sampled_from([0, 0, 0, 40, 12]))  # how rare the odd forms are
    lines = [",".join(header) + trailing]
    for row in rows:
        if draw(_rarely(10)):
            lines.append(draw(st.sampled_from(["", " ", "\t"])))  # a blank line
        fields = [draw(_field(v, odd)) for v in row]
        extra = "," if draw(_rarely(40)) else ""  # a row with one field too many
        lines.append(",".join(fields) + trailing + extra)
    text = end.join(lines)
    if draw(_rarely(15)):  # a quote opened and never closed, maybe swallowing
        text = draw(st.sampled_from([text + ',"unclosed', text.replace(",", ',"', 1)]))
    if draw(st.booleans()):
        text += draw(st.sampled_from([end, end, end + end]))  # else: no line end at the end
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + text.encode()


def _names(read: object, path: Path) -> object:
    try:
        return read(path)  # type: ignore[operator]
    except DirectoryError as exc:
        return str(exc)


def _assert_clear(error: str, folder: Path) -> None:
    """A refusal names the file and a line the file has (the shared-email error names the
    users instead: it is about two rows, not one)."""
    found = re.match(rf"^{re.escape(str(folder))}/(\w+)\.csv(?::(\d+))?: ", error)
    assert found, error
    if "normalised emails shared by several users" in error:
        return
    assert found[2], error
    lines = re.split(r"\r\n|\r|\n", (folder / f"{found[1]}.csv").read_text("utf-8-sig"))
    assert 1 <= int(found[2]) <= len(lines), error


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_both_readers_agree_on_raw_exports(data: st.DataObject) -> None:
    optional = data.draw(st.sampled_from([[], ["region"], ["region", "other_emails"]]))
    users = data.draw(st.lists(_user(optional), min_size=1, max_size=6))
    if not data.draw(_rarely(4)):  # unique ids, so the checks go further than user_id
        users = list({row[0].strip(): row for row in users}.values())
    orgs = data.draw(
        st.lists(st.sampled_from(["o1", "o2", "007", " o3", "o\u0308"]), max_size=3, unique=True)
    )
    members = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from([*_IDS, "nobody", " 007 "]),
                st.sampled_from(["o1", "o2", "007", "7", "o5"]),
                st.sampled_from(["owner", "ADMIN", " member", "viewer", "ADMİN", ""]),
            ).map(list),
            max_size=6,
        )
    )
    allow = data.draw(st.booleans())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {
            "users.csv": data.draw(_table([*USERS, *optional], users)),
            "organizations.csv": data.draw(
                _table(
                    ["org_id", "name"],
                    [[o, data.draw(st.sampled_from(["Acme", "A, B", ""]))] for o in orgs],
                )
            ),
            "memberships.csv": data.draw(_table(["user_id", "org_id", "role"], members)),
        }
        for name, content in files.items():
            (folder / name).write_bytes(content)
        fast = directory_outcome(load_directory, folder, allow)
        slow = directory_outcome(read_directory_rows, folder, allow)
        assert fast == slow
        if isinstance(slow, str):
            _assert_clear(slow, folder)
        names = _names(read_organization_names, folder)
        rows = _names(lambda p: dict(organization_rows(p / "organizations.csv")), folder)
        assert names == rows
        if isinstance(rows, str):
            _assert_clear(rows, folder)


def _folder(tmp_path: Path, users: str, members: str = "user_id,org_id,role\n") -> Path:
    (tmp_path / "users.csv").write_bytes(users.encode())
    (tmp_path / "organizations.csv").write_text("org_id,name\no1,Acme\n")
    (tmp_path / "memberships.csv").write_bytes(members.encode())
    return tmp_path


HEAD = ",".join(USERS) + "\n"


@pytest.mark.parametrize(
    ("users", "members", "expect"),
    [
        # a space before the quote: the comma inside is a delimiter to every CSV reader
        (HEAD + 'u1,a@ex.com, "Zoë, Z.",en,US,,active\n', "",
         "users.csv:2: 8 fields, the header has 7"),
        # a quote opened and never closed swallows every later row: refused where it opens
        (HEAD + 'u1,a@ex.com,Ann,en,US,,active\nu2,b@ex.com,"Bob,en,US,,active\n'
         "u3,c@ex.com,Cy,en,US,,active\n", "", "users.csv:3: field name: a quote opened"),
        ("", 'user_id,org_id,role\nu1,o1,"owner\nu2,o1,admin\n',
         "memberships.csv:2: field role: a quote opened"),
        # a status or role that only Unicode case mapping turns into a keyword
        (HEAD + "u1,a@ex.com,Ann,en,US,,actİve\n", "", "users.csv:2: field status"),
        (HEAD + "u1,a@ex.com,Ann,en,ıt,,active\n", "", "users.csv:2: field country"),
        (HEAD + "u1,a@ex.com,Ann,en,ß,,active\n", "", "users.csv:2: field country"),
        # a lone CR ends a line, as it does for both readers
        (HEAD.replace("\n", "\r") + "u1,a@ex.com,Ann,en,US,,active\ru2,x,Bo,en,US,,active\r", "",
         "users.csv:3: field email"),
        # blank lines before the header
        ("\n\n" + HEAD + "u1,a@ex.com,Ann,en,US,,active\nu2,x,Bo,en,US,,active\n", "",
         "users.csv:5: field email"),
    ],
)  # fmt: skip
def test_refusals_name_the_file_and_line(
    tmp_path: Path, users: str, members: str, expect: str
) -> None:
    folder = _folder(
        tmp_path,
        users or HEAD + "u1,a@ex.com,Ann,en,US,,active\n",
        members or "user_id,org_id,role\n",
    )
    for load in (load_directory, read_directory_rows):
        with pytest.raises(DirectoryError) as info:
            load(folder)
        assert expect in str(info.value)


def test_odd_quotes_and_leading_zeros_are_read_as_written(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "\ufeff" + HEAD.replace("\n", ",\r\n")
        + ' 007 ,"ANN@Ex.com" ,"A ""Q"" b"c,en_US,us,Y,"ACTIVE" ,\r\n'
        + '\r\n'
        + 'o"k,zoe\u0308@ex.com,x"y,,,,deactivated,',  # no line end at the end
        'user_id,org_id,role\r007,o1,"ADMİN"\r007,o1,owner\r',
    )  # fmt: skip
    for load in (load_directory, read_directory_rows):
        d = load(folder)
        assert d.users.to_pylist() == [
            {"user_id": "007", "emails": ["ann@ex.com"], "locale": "en-US", "country": "US",
             "region": "", "mfa_enabled": True, "active": True},
            {"user_id": 'o"k', "emails": ["zoë@ex.com"], "locale": "", "country": "",
             "region": "", "mfa_enabled": None, "active": False},
        ]  # fmt: skip
        assert d.memberships.to_pylist() == [
            {"user_id": "007", "org_id": "o1", "role": "member"},
            {"user_id": "007", "org_id": "o1", "role": "owner"},
        ]
        assert d.notes == ["memberships.csv: 1 memberships with another role read as member"]


def test_a_quote_never_closed_in_the_header_does_not_print_the_rows(tmp_path: Path) -> None:
    # _check_closed names the field from the header row itself, whose last field then holds
    # every later line: the error message carried the whole file (emails, names)
    (tmp_path / "users.csv").write_text(
        'user_id,email,name,locale,country,mfa_enabled,"status\n'
        "u1,ann.secret@example.com,Ann Secret,en,US,,active\n"
    )
    (tmp_path / "organizations.csv").write_text("org_id,name\no1,Acme\n")
    (tmp_path / "memberships.csv").write_text("user_id,org_id,role\n")
    for read in (lambda: load_directory(tmp_path), lambda: read_contacts(tmp_path, {"u1"})):
        with pytest.raises(DirectoryError) as caught:
            read()
        message = str(caught.value)
        assert "users.csv:1:" in message
        assert "ann.secret" not in message and "secret@example.com" not in message, message
        assert "\n" not in message, message
