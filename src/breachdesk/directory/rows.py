"""The row-by-row directory reader: every value checked in Python, every error naming the
file, line and field (never a personal value).

It is the reference the fast columnar reader (``loader``) must agree with, and the path that
reports the exact line when the fast reader finds something wrong.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from breachdesk.directory.model import Directory
from breachdesk.domain.directory import DirectoryUser, Membership, Role
from breachdesk.domain.identity import normalize_email, normalize_id
from breachdesk.errors import DirectoryError

USERS_COLUMNS = ("user_id", "email", "name", "locale", "country", "mfa_enabled", "status")
USERS_OPTIONAL = ("region", "other_emails")
ORGS_COLUMNS = ("org_id", "name")
MEMBERSHIP_COLUMNS = ("user_id", "org_id", "role")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_REGION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def table_path(folder: Path, stem: str) -> Path:
    for suffix in (".csv", ".parquet"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DirectoryError(f"{folder}: missing {stem}.csv (or {stem}.parquet)")


# the directory's tables, in name order
DIRECTORY_STEMS = ("memberships", "organizations", "users")


def directory_digest(folder: Path) -> str:
    """SHA-256 over the three files: ``name NUL sha256 LF`` for each, in name order."""
    outer = hashlib.sha256()
    for stem in DIRECTORY_STEMS:
        path = table_path(folder, stem)
        inner = hashlib.sha256()
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                inner.update(block)
        outer.update(f"{path.name}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def _rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) with every required column present; values as stripped strings. Blank
    lines are skipped (before the header too); a line is ended by LF, CRLF or a lone CR, as
    both readers read it. A quote opened and never closed is refused where its row starts:
    Python's csv would read the rest of the file into that one field."""
    if path.suffix == ".parquet":
        yield from _parquet_rows(path, required, optional)
        return
    csv.field_size_limit(sys.maxsize)
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DirectoryError(f"{path}: cannot be read: {exc.strerror}") from None
    with fh:
        reader = csv.reader(itertools.chain(fh, (_END,)))
        last = 0
        try:
            for header in reader:
                if _blank(header):
                    last = reader.line_num
                    continue
                break
            if not header or header == [_END]:
                raise DirectoryError(f"{path}: empty file, expected a header row")
            _check_closed(path, last + 1, header, [])  # named by number: no row text
            header = [h.strip().lower() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                raise DirectoryError(f"{path}:{last + 1}: missing column {missing[0]}")
            wanted = [(c, header.index(c)) for c in (*required, *optional) if c in header]
            last = reader.line_num
            for row in reader:
                line = last + 1
                last = reader.line_num
                if _blank(row) or row == [_END]:
                    continue
                _check_closed(path, line, row, header)
                if len(row) != len(header):
                    raise DirectoryError(
                        f"{path}:{line}: {len(row)} fields, the header has {len(header)}"
                        + _space_before_quote(row)
                    )
                yield line, {c: row[i].strip() for c, i in wanted}
        except UnicodeDecodeError:
            raise DirectoryError(bad_utf8(path)) from None
        except csv.Error as exc:
            raise DirectoryError(f"{path}:{last + 1}: unreadable CSV: {exc}") from None


# Read after the file's last line: no text decoded from UTF-8 holds a lone surrogate, so a
# field ending with it is a quoted field the file never closed.
_END = "\ud800"


def _blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _check_closed(path: Path, line: int, row: list[str], header: list[str]) -> None:
    """A quote opened in the file's last record and never closed: its field runs to the
    end of the file. Read as Arrow reads it when it took in only line ends; refused when it
    took in further lines, which would otherwise vanish into one value."""
    if not row or not row[-1].endswith(_END):
        return
    value = row[-1] = row[-1][: -len(_END)]
    if takes_lines(value):
        index = len(row) - 1
        name = header[index].strip().lower() if index < len(header) else ""
        raise DirectoryError(
            f"{path}:{line}: field {name or index + 1}: a quote opened in this row is never "
            "closed, so every later line would be read into this field"
        )


def takes_lines(value: str) -> bool:
    """Whether a value holds a line break with text after it."""
    body = value.rstrip("\r\n")
    return "\n" in body or "\r" in body


def _space_before_quote(row: list[str]) -> str:
    """A hint for the commonest cause of a row with too many fields: ``a, "b, c"``."""
    for i, value in enumerate(row):
        if value[:1].isspace() and value.lstrip().startswith('"'):
            return (
                f"; field {i + 1} has a space before its quote, so the quote does not "
                "start a quoted value and a comma inside it splits the field"
            )
    return ""


def organization_rows(path: Path) -> Iterator[tuple[str, str]]:
    """(org_id, name) of each row of the organizations file, errors naming file and line."""
    for _, row in _rows(path, ORGS_COLUMNS):
        yield row["org_id"], row["name"]


class _BadByte(Exception):
    def __init__(self, line: int, before: str) -> None:
        self.line, self.before = line, before


_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


def bad_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 sits: ``path:line: not valid UTF-8 (column C,
    field F)``. The text reader decodes ahead in blocks, so its position when the error
    surfaces is not the byte's: this reads the file again a physical line at a time (split
    where the CSV reader splits: LF, CRLF or CR; UTF-8 never holds those bytes inside a
    character), through the CSV parser, so that a quoted field spanning lines still names
    the right line and field. The field is left out if the CSV cannot be parsed that far."""
    consumed: list[str] = []  # the lines of the record being parsed
    header: list[str] = []

    def lines(fh: IO[bytes]) -> Iterator[str]:
        number = 0
        for block in fh:
            for raw in _LONE_CR.split(block):
                if not raw:
                    continue
                number += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _BadByte(number, raw[: exc.start].decode("utf-8")) from None
                consumed.append(text.removeprefix("\ufeff") if number == 1 else text)
                yield consumed[-1]

    parsed = True
    try:
        with path.open("rb") as fh:
            source = lines(fh)
            try:
                for record in csv.reader(source):
                    header = header or [h.strip().lower() for h in record]
                    consumed.clear()
            except csv.Error:
                parsed = False
                for _ in source:  # find the byte without the parser
                    pass
    except _BadByte as bad:
        before = bad.before.removeprefix("\ufeff") if bad.line == 1 else bad.before
        where = ""
        if bad.line == 1:
            where = ", in the header row"
        elif parsed:
            # the record up to the bad byte, parsed: its last field is the one holding it
            partial = list(csv.reader(io.StringIO("".join(consumed) + before + "x", newline="")))
            index = len(partial[-1]) - 1 if partial else 0
            name = header[index] if index < len(header) and header[index] else str(index + 1)
            where = f", field {name}"
        return f"{path}:{bad.line}: not valid UTF-8 (column {len(before) + 1}{where})"
    except OSError as exc:
        return f"{path}: cannot be read: {exc.strerror}"
    return f"{path}: not valid UTF-8"


def _parquet_rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise DirectoryError(f"{path}: not a readable Parquet file: {type(exc).__name__}") from None
    names = [n.lower() for n in table.column_names]
    missing = [c for c in required if c not in names]
    if missing:
        raise DirectoryError(f"{path}: missing column {missing[0]}")
    wanted = [c for c in (*required, *optional) if c in names]
    columns = {c: table.column(names.index(c)).to_pylist() for c in wanted}
    for i in range(table.num_rows):
        yield i + 1, {c: _cell(columns[c][i]) for c in wanted}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return normalize_id(value) or "" if not isinstance(value, str) else value.strip()


def user_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a users table, values as written (trimmed)."""
    return _rows(path, USERS_COLUMNS, USERS_OPTIONAL)


def normalize_locale(value: str) -> str:
    return value.replace("_", "-")


def ascii_lower(value: str) -> str:
    """Lower case for a code or keyword, which is ASCII: Unicode case mapping turns text
    that is neither into one (``actİve`` lowers to ``active``). Text with a non-ASCII
    character is left as it is: no code either way, as for Arrow's ``ascii_lower``."""
    return value.lower() if value.isascii() else value


def ascii_upper(value: str) -> str:
    """Upper case for a code (``ıt`` would upper to ``IT``), as :func:`ascii_lower`."""
    return value.upper() if value.isascii() else value


def check_user(
    where: str, row: dict[str, str], intern: dict[str, str] | None = None
) -> DirectoryUser:
    """One users row, checked and normalised; errors name ``where`` (file and line) and
    the field, never the value. ``intern`` shares the strings that repeat (codes) across
    many users."""
    user_id = row["user_id"]
    if not user_id:
        raise DirectoryError(f"{where}: field user_id: empty")
    emails = [normalize_email(row["email"])] if row["email"] else []
    for other in row.get("other_emails", "").split(";"):
        if other.strip():
            emails.append(normalize_email(other))
    for email in emails:
        if "@" not in email or any(ch.isspace() for ch in email):
            fld = "email" if email == emails[0] and row["email"] else "other_emails"
            raise DirectoryError(f"{where}: field {fld}: not an email address")
    locale = normalize_locale(row["locale"])
    if locale and not _LOCALE.match(locale):
        raise DirectoryError(f"{where}: field locale: not a BCP 47 tag")
    country = ascii_upper(row["country"])
    if country and not _COUNTRY.match(country):
        raise DirectoryError(f"{where}: field country: not an ISO 3166-1 alpha-2 code")
    region = ascii_upper(row.get("region", ""))
    if region and not _REGION.match(region):
        raise DirectoryError(f"{where}: field region: not an ISO 3166-2 code such as US-CA")
    mfa_text = ascii_lower(row["mfa_enabled"])
    mfa: bool | None
    if mfa_text in _TRUE:
        mfa = True
    elif mfa_text in _FALSE:
        mfa = False
    elif mfa_text == "":
        mfa = None
    else:
        raise DirectoryError(f"{where}: field mfa_enabled: expected true, false or empty")
    status = ascii_lower(row["status"])
    if status not in ("active", "deactivated"):
        raise DirectoryError(f"{where}: field status: expected active or deactivated")
    if intern is not None:
        locale = intern.setdefault(locale, locale)
        country = intern.setdefault(country, country)
        region = intern.setdefault(region, region)
    return DirectoryUser(
        user_id=user_id,
        emails=tuple(dict.fromkeys(emails)),
        locale=locale,
        country=country,
        region=region,
        mfa_enabled=mfa,
        active=status == "active",
    )


def read_directory_rows(folder: Path, allow_duplicate_emails: bool = False) -> Directory:
    """Load and validate the directory in ``folder``, row by row."""
    if not folder.is_dir():
        raise DirectoryError(f"{folder}: not a folder (expected users, organizations, memberships)")
    users_path = table_path(folder, "users")
    orgs_path = table_path(folder, "organizations")
    members_path = table_path(folder, "memberships")
    users: list[DirectoryUser] = []
    memberships: list[Membership] = []
    org_ids: list[str] = []
    notes: list[str] = []
    seen_ids: dict[str, int] = {}
    intern: dict[str, str] = {}
    for line, row in _rows(users_path, USERS_COLUMNS, USERS_OPTIONAL):
        where = f"{users_path}:{line}"
        user_id = row["user_id"]
        if user_id in seen_ids:
            raise DirectoryError(f"{where}: field user_id: duplicate of line {seen_ids[user_id]}")
        seen_ids[user_id] = line
        users.append(check_user(where, row, intern))
    check_duplicate_emails(
        [u.user_id for u in users], [u.emails for u in users], users_path, allow_duplicate_emails
    )
    orgs_seen: set[str] = set()
    for line, row in _rows(orgs_path, ORGS_COLUMNS):
        if not row["org_id"]:
            raise DirectoryError(f"{orgs_path}:{line}: field org_id: empty")
        if row["org_id"] in orgs_seen:
            raise DirectoryError(f"{orgs_path}:{line}: field org_id: duplicate")
        orgs_seen.add(row["org_id"])
        org_ids.append(row["org_id"])
    orgs_listed = frozenset(orgs_seen)
    odd_roles = unknown_users = unknown_orgs = 0
    for line, row in _rows(members_path, MEMBERSHIP_COLUMNS):
        if not row["user_id"] or not row["org_id"]:
            fld = "user_id" if not row["user_id"] else "org_id"
            raise DirectoryError(f"{members_path}:{line}: field {fld}: empty")
        try:
            role = Role(ascii_lower(row["role"]))
        except ValueError:
            role = Role.MEMBER
            odd_roles += 1
        unknown_users += row["user_id"] not in seen_ids
        if row["org_id"] not in orgs_listed:
            unknown_orgs += 1  # memberships, as the note says, not distinct orgs
            if row["org_id"] not in orgs_seen:
                orgs_seen.add(row["org_id"])
                org_ids.append(row["org_id"])
        memberships.append(Membership(row["user_id"], row["org_id"], role))
    if odd_roles:
        notes.append(
            f"{members_path.name}: {odd_roles} memberships with another role read as member"
        )
    if unknown_users:
        notes.append(f"{members_path.name}: {unknown_users} memberships name no directory user")
    if unknown_orgs:
        notes.append(
            f"{members_path.name}: {unknown_orgs} memberships name an org missing from "
            f"{orgs_path.name}"
        )
    return Directory.from_records(users, memberships, org_ids, folder, notes)


def check_duplicate_emails(
    user_ids: Sequence[str], emails: Sequence[Sequence[str]], path: Path, allow: bool
) -> None:
    """Refuse two users sharing a normalised email (unless allowed), naming their ids."""
    owner: dict[str, int] = {}
    clashes: dict[str, set[str]] = {}
    for i, own in enumerate(emails):
        for email in own:
            first = owner.setdefault(email, i)
            if first != i:
                clashes.setdefault(email, {user_ids[first]}).add(user_ids[i])
    if clashes and not allow:
        groups = sorted(sorted(ids) for ids in clashes.values())
        shown = "; ".join(", ".join(g) for g in groups[:5])
        more = f" and {len(groups) - 5} more" if len(groups) > 5 else ""
        raise DirectoryError(
            f"{path}: {len(groups)} normalised emails shared by several users "
            f"(user ids {shown}{more});"
            " pass --allow-duplicate-emails to match such an email to all of them"
        )
