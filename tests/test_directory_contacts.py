"""``read_contacts`` reads the users file once and keeps only the wanted users' rows: the
address as written, the name, the locale and whether the user is active, as the row-by-row
reader reads them, on raw CSVs as exports write them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.directory import read_contacts, read_directory_rows
from breachdesk.directory.rows import user_rows
from breachdesk.errors import DirectoryError
from test_directory_raw_csv import _IDS, USERS, _table, _user


def _directory(folder: Path, users: bytes) -> None:
    (folder / "users.csv").write_bytes(users)
    (folder / "organizations.csv").write_text("org_id,name\no1,Acme\n")
    (folder / "memberships.csv").write_text("user_id,org_id,role\n")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_contacts_as_the_row_reader_reads_them(data: st.DataObject) -> None:
    optional = data.draw(st.sampled_from([[], ["region"], ["region", "other_emails"]]))
    users = data.draw(st.lists(_user(optional), min_size=1, max_size=6))
    users = list({row[0].strip(): row for row in users}.values())
    present = sorted({row[0].strip() for row in users})
    wanted = data.draw(st.sets(st.sampled_from([*present, *present, "nobody", _IDS[-1]])))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _directory(folder, data.draw(_table([*USERS, *optional], users)))
        try:
            read_directory_rows(folder, allow_duplicate_emails=True)
        except DirectoryError:
            return  # refused: see test_directory_raw_csv
        found = read_contacts(folder, wanted)
        directory = read_directory_rows(folder, allow_duplicate_emails=True)
        rows = {row["user_id"]: row for _, row in user_rows(folder / "users.csv")}
    by_id = {u.user_id: u for u in directory.iter_users()}
    assert found == {
        user_id: (
            row["email"] or next((o.strip() for o in row.get("other_emails", "").split(";") if o.strip()), ""),
            row["name"], by_id[user_id].locale, by_id[user_id].active,
        )
        for user_id, row in rows.items() if user_id in wanted
    }  # fmt: skip


HEAD = ",".join(USERS) + "\n"


@pytest.mark.parametrize("blank_first", [False, True])  # the columnar pass, the row reader's
def test_names_and_addresses_as_written(tmp_path: Path, blank_first: bool) -> None:
    _directory(
        tmp_path,
        (("\n" if blank_first else "") + HEAD.replace("status", "status,other_emails")
         + 'u1, Ann@Straße.de ,"Zoë, Z.",pt_BR,BR,,ACTIVE,\n'
         + 'u2,,"Bo\nB",,,,deactivated, ; bo@EX.com;x@ex.com\n'
         + "u3,c@ex.com,Cy,en,US,,active,\n").encode(),
    )  # fmt: skip
    assert read_contacts(tmp_path, {"u1", "u2", "nobody"}) == {
        "u1": ("Ann@Straße.de", "Zoë, Z.", "pt-BR", True),
        "u2": ("bo@EX.com", "Bo\nB", "", False),
    }


@pytest.mark.parametrize(
    ("rows", "expect"),
    [
        ("u1,a@ex.com,Ann,en,US,,active\nu1,b@ex.com,Bo,en,US,,active\n",
         "users.csv:3: field user_id: duplicate of line 2"),
        ("u0,a@ex.com,Ann,en,US,,active\nu1,not-an-email,Bo,en,US,,active\n",
         "users.csv:3: field email: not an email address"),
        ('u0,a@ex.com,Ann,en,US,,active\nu1,b@ex.com,"Bo,en,US,,active\nu2,c@ex.com,C,en,,,active\n',
         "users.csv:3: field name: a quote opened"),
    ],
)  # fmt: skip
def test_a_wanted_row_that_is_wrong_names_its_line(tmp_path: Path, rows: str, expect: str) -> None:
    _directory(tmp_path, (HEAD + rows).encode())
    with pytest.raises(DirectoryError, match=expect):
        read_contacts(tmp_path, {"u1"})


def test_parquet_users(tmp_path: Path) -> None:
    table = pa.table(
        {"USER_ID": [7, 8], "email": ["A@ex.com", None], "name": [" Ann ", "Bo"],
         "locale": ["en_GB", ""], "country": ["GB", "US"], "mfa_enabled": [True, None],
         "status": ["active", "Deactivated"], "other_emails": [None, "b@ex.com"]}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "users.parquet")
    assert read_contacts(tmp_path, {"7", "8"}) == {
        "7": ("A@ex.com", "Ann", "en-GB", True),
        "8": ("b@ex.com", "Bo", "", False),
    }
