"""Loading the directory: values, errors that name file, line and field, Parquet."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from breachdesk.directory import load_directory, read_directory_rows
from breachdesk.errors import DirectoryError

SMALL = Path(__file__).parent / "data" / "small" / "directory"


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "dir"
    shutil.copytree(SMALL, dest)
    return dest


def test_values_are_normalised(tmp_path: Path) -> None:
    d = load_directory(_copy(tmp_path))
    users = {u.user_id: u for u in d.iter_users()}
    assert users["u2"].emails == ("bob.builder@example.org", "bob.old@example.org")
    assert users["u5"].locale == "pt-BR"
    assert users["u3"].mfa_enabled is None
    assert users["u4"].active is False
    assert any("read as member" in n for n in d.notes)


def test_columnar_reader_agrees_with_row_reader(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    users = folder / "users.csv"
    # non-ASCII and decomposed emails, a BOM, CRLF, a quoted newline in a name
    text = users.read_text().replace("u11,ken@example.com,Ken,", 'u11, KÉN@Example.com ,"Ken\nK",')
    users.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    fast = load_directory(folder)
    slow = read_directory_rows(folder)
    assert fast.users.equals(slow.users)
    assert fast.memberships.equals(slow.memberships)
    assert fast.org_ids == slow.org_ids
    assert fast.notes == slow.notes


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("u3,carol@example.net,Carol,ro,RO,,active", "u3,carol@example.net,Carol,ro,RO,maybe,active",
         "users.csv:4: field mfa_enabled"),
        ("u3,carol@example.net,Carol,ro,RO,,active", "u3,carol@example.net,Carol,ro,Romania,,active",
         "users.csv:4: field country"),
        ("u3,carol@example.net,Carol,ro,RO,,active", "u3,carol@example.net,Carol,ro,RO,,gone",
         "users.csv:4: field status"),
        ("u3,carol@example.net,Carol,ro,RO,,active", "u1,carol@example.net,Carol,ro,RO,,active",
         "users.csv:4: field user_id: duplicate of line 2"),
        ("u3,carol@example.net,Carol,ro,RO,,active", "u3,not-an-email,Carol,ro,RO,,active",
         "users.csv:4: field email"),
    ],
)  # fmt: skip
def test_bad_values_name_file_line_field(tmp_path: Path, old: str, new: str, expect: str) -> None:
    folder = _copy(tmp_path)
    users = folder / "users.csv"
    users.write_text(users.read_text().replace(old, new))
    with pytest.raises(DirectoryError) as info:
        load_directory(folder)
    assert expect in str(info.value)
    assert "carol@example.net" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "memberships.csv").unlink()
    with pytest.raises(DirectoryError, match=r"missing memberships\.csv"):
        load_directory(folder)


def test_parquet_gives_the_same_directory(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    for stem in ("users", "organizations", "memberships"):
        table = pacsv.read_csv(
            folder / f"{stem}.csv",
            convert_options=pacsv.ConvertOptions(
                column_types={"user_id": pa.string(), "mfa_enabled": pa.string()}
            ),
        )
        pq.write_table(table, folder / f"{stem}.parquet")
        (folder / f"{stem}.csv").unlink()
    from_parquet = load_directory(folder)
    from_csv = load_directory(_copy(tmp_path / "again"))
    assert from_parquet.users.equals(from_csv.users)
    assert from_parquet.memberships.equals(from_csv.memberships)


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ('org_id,name\no1,Acme\no2,"Globex, Inc."\n', {"o1": "Acme", "o2": "Globex, Inc."}),
        ("org_id,name\no1,  Acme  \n", {"o1": "Acme"}),
        ("name,org_id\nAcme,o1\n", {"o1": "Acme"}),  # columns in any order
        ("org_id,name\no1,Acme,extra\n", "organizations.csv:2: 3 fields, the header has 2"),
        ("org_id\no1\n", "organizations.csv:1: missing column name"),
    ],
)  # fmt: skip
def test_organization_names(tmp_path: Path, content: str, expect: object) -> None:
    from breachdesk.directory import read_organization_names

    (tmp_path / "organizations.csv").write_text(content)
    if isinstance(expect, str):
        with pytest.raises(DirectoryError, match=expect):
            read_organization_names(tmp_path)
        return
    assert read_organization_names(tmp_path) == expect
    (tmp_path / "organizations.csv").unlink()
    pq.write_table(pa.table({"org_id": list(expect), "name": list(expect.values())}),  # type: ignore[attr-defined]
                   tmp_path / "organizations.parquet")  # fmt: skip
    assert read_organization_names(tmp_path) == expect


def test_release_lets_go_of_the_tables_and_keeps_the_rest(tmp_path: Path) -> None:
    d = load_directory(_copy(tmp_path))
    notes, org_ids, schemas = list(d.notes), list(d.org_ids), (d.users.schema, d.memberships.schema)
    assert len(d) > 0 and d.memberships.num_rows > 0
    d.release()
    assert len(d) == 0 and d.memberships.num_rows == 0
    assert (d.users.schema, d.memberships.schema) == schemas
    assert (d.notes, d.org_ids) == (notes, org_ids)


def test_assess_says_the_directory_notes(small: tuple[Path, Path], tmp_path: Path) -> None:
    # assess lets go of the directory's tables before the scan: its notes stay
    from breachdesk import AssessRequest, assess

    export, directory = small
    notes = load_directory(directory).notes
    assert any("read as member" in n for n in notes)
    result = assess(AssessRequest([export], tmp_path / "ws", directory=directory, workers=1))
    assert result.notes == notes
