"""Loading the directory fast: Arrow's CSV reader and vectorised checks.

Whenever a check fails, or a file is not plain enough for the columnar reader (invalid
UTF-8, a row with the wrong number of fields), the row-by-row reader in ``rows`` reads the
folder instead: it names the exact file, line and field, and it is the reference this
reader agrees with (a test holds them together).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from breachdesk.directory.model import MEMBERSHIPS_SCHEMA, USERS_SCHEMA, Directory
from breachdesk.directory.rows import (
    MEMBERSHIP_COLUMNS,
    ORGS_COLUMNS,
    USERS_COLUMNS,
    USERS_OPTIONAL,
    check_duplicate_emails,
    check_user,
    organization_rows,
    read_directory_rows,
    table_path,
    takes_lines,
    user_rows,
)
from breachdesk.domain.directory import Role
from breachdesk.domain.identity import normalize_email
from breachdesk.errors import DirectoryError

_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]
_ROLES = [r.value for r in Role]
# what Python's str.isspace (the row reader's test) calls whitespace; RE2's \s is narrower
SPACE_CLASS = (
    r"\t\n\x0b\f\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}"
)


class _RowCheck(Exception):
    """The columnar reader defers to the row-by-row reader."""


def load_directory(folder: Path, allow_duplicate_emails: bool = False) -> Directory:
    """Load and validate the directory in ``folder`` (users, organizations, memberships)."""
    if not folder.is_dir():
        raise DirectoryError(f"{folder}: not a folder (expected users, organizations, memberships)")
    try:
        return _load_columnar(folder, allow_duplicate_emails)
    except _RowCheck:
        return read_directory_rows(folder, allow_duplicate_emails)
    finally:
        # the load's intermediates were several times the result: give their memory back
        # to the system rather than keep it in the allocator's free lists
        pa.default_memory_pool().release_unused()


def _columns(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    unread: tuple[str, ...] = (),
) -> dict[str, pa.Array]:
    """The wanted columns of a CSV or Parquet table, as trimmed strings; the ``unread``
    ones (required but unused, such as names) are checked for presence only."""
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except Exception:
            raise _RowCheck from None
        names = [n.lower() for n in table.column_names]
        arrays = {}
        for name in (*required, *optional):
            if name not in names:
                continue
            arrays[name] = _as_text(table.column(names.index(name)).combine_chunks())
        if any(name not in arrays for name in required):
            raise _RowCheck
        return arrays
    header = _header(path)
    if any(c not in header for c in required):
        raise _RowCheck
    names = [f"c{i}" for i in range(len(header))]
    wanted = {
        c: names[header.index(c)] for c in (*required, *optional) if c in header and c not in unread
    }
    quoted = _check_utf8(path)
    # a quote never closed runs to the end of the file, in the last column of the last row
    # (any other column would leave the row short of fields, which Arrow refuses)
    read = [*wanted.values(), *([names[-1]] if quoted and names[-1] not in wanted.values() else [])]
    try:
        # a value can hold a line break only inside quotes; without any quote the reader may
        # split the file at any line break, which is twice as fast. UTF-8 is not checked
        # again: the whole file was, every column (as the row reader)
        table = pacsv.read_csv(path, **_text_options(names, quoted, False, read))
    except (pa.ArrowInvalid, OSError):
        raise _RowCheck from None
    if quoted and table.num_rows and takes_lines(table.column(names[-1])[-1].as_py()):
        raise _RowCheck  # maybe a quote never closed: the row reader tells
    chunked = {c: table.column(n) for c, n in wanted.items()}
    del table
    # one column at a time, each raw column released once trimmed: a lower peak
    return {c: pc.utf8_trim_whitespace(chunked.pop(c)).combine_chunks() for c in list(chunked)}


def _check_utf8(path: Path) -> bool:
    """Whether the file holds a double quote; ``_RowCheck`` if any byte of it is not UTF-8
    (Arrow's validator, a block at a time; a character cut by a block's end is carried
    over to the next block)."""
    quoted = False
    carry = b""
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                data = carry + block if carry else block
                quoted = quoted or b'"' in block
                cut = len(data)
                if data[-1] >= 0x80:  # back to the last character's first byte
                    cut = max(cut - 4, 0)
                    for i in range(len(data) - 1, cut - 1, -1):
                        if data[i] & 0xC0 != 0x80:
                            cut = i
                            break
                _utf8(data[:cut] if cut < len(data) else data)
                carry = data[cut:]
        _utf8(carry)
    except OSError:
        raise _RowCheck from None
    return quoted


def _utf8(data: bytes) -> None:
    if not data or data.isascii():
        return
    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]
    one = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        one.cast(pa.string())
    except pa.ArrowInvalid:
        raise _RowCheck from None


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def _all_distinct(values: pa.Array) -> bool:
    """Whether no value repeats. Exports usually list ids in order, as text or as numbers
    (shorter first): strictly increasing in either order needs no hash table."""
    if len(values) < 2:
        return True
    before, after = values[:-1], values[1:]
    if _all(pc.less(before, after)):
        return True
    size = pc.binary_length(values)
    shorter, longer = size[:-1], size[1:]
    by_size = pc.or_(
        pc.less(shorter, longer), pc.and_(pc.equal(shorter, longer), pc.less(before, after))
    )
    return _all(by_size) or len(pc.unique(values)) == len(values)


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py())


def _normalise_emails(values: pa.Array) -> pa.Array:
    """Trim, NFC, casefold: vectorised for ASCII, in Python for the rest."""
    ascii_ = pc.string_is_ascii(values)
    lowered = pc.ascii_lower(values)
    other = pc.invert(ascii_)
    if not _any(other):
        return lowered
    fixed = [normalize_email(v) for v in values.filter(other).to_pylist()]
    return pc.replace_with_mask(lowered, other, pa.array(fixed, pa.string()))


def _load_columnar(folder: Path, allow_duplicate_emails: bool) -> Directory:
    users_path = table_path(folder, "users")
    orgs_path = table_path(folder, "organizations")
    members_path = table_path(folder, "memberships")
    users = _users(users_path, allow_duplicate_emails)
    org_ids = _columns(orgs_path, ORGS_COLUMNS, unread=("name",))["org_id"]
    if _any(pc.equal(org_ids, "")) or not _all_distinct(org_ids):
        raise _RowCheck
    m = _columns(members_path, MEMBERSHIP_COLUMNS)
    if _any(pc.or_(pc.equal(m["user_id"], ""), pc.equal(m["org_id"], ""))):
        raise _RowCheck
    role = pc.ascii_lower(m.pop("role"))
    known_role = pc.is_in(role, pa.array(_ROLES))
    odd_roles = len(role) - pc.sum(known_role).as_py() if len(role) else 0
    role = pc.if_else(known_role, role, Role.MEMBER.value)
    memberships = pa.table([m["user_id"], m["org_id"], role], schema=MEMBERSHIPS_SCHEMA)
    del role, known_role
    notes = []
    if odd_roles:
        notes.append(
            f"{members_path.name}: {odd_roles} memberships with another role read as member"
        )
    user_ids = users.column("user_id").combine_chunks()
    unknown_users = pc.sum(pc.invert(pc.is_in(m["user_id"], user_ids))).as_py() or 0
    del user_ids
    if unknown_users:
        notes.append(f"{members_path.name}: {unknown_users} memberships name no directory user")
    listed = org_ids.to_pylist()
    listed_set = set(listed)
    member_orgs = pc.unique(m["org_id"]).to_pylist()  # in order of first appearance
    extra = [x for x in member_orgs if x not in listed_set]
    unknown_orgs = pc.sum(pc.invert(pc.is_in(m["org_id"], org_ids))).as_py() or 0
    if unknown_orgs:
        notes.append(
            f"{members_path.name}: {unknown_orgs} memberships name an org missing from "
            f"{orgs_path.name}"
        )
    return Directory(folder, users, [*listed, *extra], memberships, notes)


def _users(path: Path, allow_duplicate_emails: bool) -> pa.Table:
    """The users table; each raw column is released once read (a lower peak)."""
    u = _columns(path, USERS_COLUMNS, USERS_OPTIONAL, unread=("name",))
    n = len(u["user_id"])
    user_id = u.pop("user_id")
    if _any(pc.equal(user_id, "")) or not _all_distinct(user_id):
        raise _RowCheck
    email = _normalise_emails(u.pop("email"))
    nonempty = pc.not_equal(email, "")
    if _any(
        pc.and_(
            nonempty,
            pc.invert(pc.match_substring_regex(email, f"^[^{SPACE_CLASS}]*@[^{SPACE_CLASS}]*$")),
        )
    ):
        raise _RowCheck
    locale = pc.replace_substring(u.pop("locale"), "_", "-")
    if _any(
        pc.invert(pc.match_substring_regex(locale, r"^(?:[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)?$"))
    ):
        raise _RowCheck
    country = pc.ascii_upper(u.pop("country"))
    if _any(pc.invert(pc.match_substring_regex(country, r"^(?:[A-Z]{2})?$"))):
        raise _RowCheck
    region = pc.ascii_upper(u.pop("region")) if "region" in u else pa.array([""] * n, pa.string())
    if _any(pc.invert(pc.match_substring_regex(region, r"^(?:[A-Z]{2}-[A-Z0-9]{1,3})?$"))):
        raise _RowCheck
    mfa_text = pc.ascii_lower(u.pop("mfa_enabled"))
    is_true = pc.is_in(mfa_text, pa.array(_TRUE))
    is_false = pc.is_in(mfa_text, pa.array(_FALSE))
    if _any(pc.invert(pc.or_(pc.or_(is_true, is_false), pc.equal(mfa_text, "")))):
        raise _RowCheck
    del mfa_text
    mfa = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
    status = pc.ascii_lower(u.pop("status"))
    if _any(pc.invert(pc.is_in(status, pa.array(["active", "deactivated"])))):
        raise _RowCheck
    active = pc.equal(status, "active")
    del status
    emails = _email_lists(email, nonempty, u.pop("other_emails", None))
    del email
    users = pa.table([user_id, emails, locale, country, region, mfa, active], schema=USERS_SCHEMA)
    _check_shared_emails(users, path, allow_duplicate_emails)
    return users


def _email_lists(email: pa.Array, nonempty: pa.Array, others: pa.Array | None) -> pa.Array:
    """Each user's emails: the primary (if any), then ``other_emails``, without repeats."""
    lengths = pc.cast(nonempty, pa.int32())
    has_others = pc.not_equal(others, "") if others is not None else None
    if has_others is None or not _any(has_others):
        offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
        every = bool(pc.all(nonempty).as_py()) if len(email) else True
        return pa.ListArray.from_arrays(offsets, email if every else email.filter(nonempty))
    # The few rows with other emails get their whole list in Python; every other row holds
    # its primary email alone. One take from [primary emails, the lists' values] puts each
    # value where its row's list starts, and the list's rank on from there.
    assert others is not None
    rows = pc.indices_nonzero(has_others)
    lists: list[list[str]] = []
    for primary, extra in zip(
        email.take(rows).to_pylist(), others.take(rows).to_pylist(), strict=True
    ):
        found = [primary] if primary else []
        for part in extra.split(";"):
            if part.strip():
                normalised = normalize_email(part)
                if "@" not in normalised or any(ch.isspace() for ch in normalised):
                    raise _RowCheck
                found.append(normalised)
        lists.append(list(dict.fromkeys(found)))
    n = len(email)
    lengths = pc.replace_with_mask(lengths, has_others, pa.array(map(len, lists), pa.int32()))
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
    total = offsets[-1].as_py()
    in_lists = bytearray(total)  # the output positions the lists' values fill
    for start, found in zip(offsets.take(rows).to_pylist(), lists, strict=True):
        in_lists[start : start + len(found)] = b"\x01" * len(found)
    mask = pc.cast(
        pa.Array.from_buffers(pa.uint8(), total, [None, pa.py_buffer(in_lists)]), pa.bool_()
    )
    alone = pc.and_(nonempty, pc.invert(has_others))
    source = pc.replace_with_mask(
        pa.nulls(total, pa.int64()), pc.invert(mask), pc.indices_nonzero(alone).cast(pa.int64())
    )
    values = [v for found in lists for v in found]
    source = pc.replace_with_mask(source, mask, pa.array(range(n, n + len(values)), pa.int64()))
    pool = pa.concat_arrays([email, pa.array(values, pa.string())])
    return pa.ListArray.from_arrays(offsets, pool.take(source))


def _check_shared_emails(users: pa.Table, path: Path, allow: bool) -> None:
    flat = pc.list_flatten(users.column("emails"))
    if len(pc.unique(flat)) == len(flat):
        return
    # rare: find the clashing users row by row, for the message
    check_duplicate_emails(
        users.column("user_id").to_pylist(), users.column("emails").to_pylist(), path, allow
    )


def read_contacts(folder: Path, user_ids: set[str]) -> dict[str, tuple[str, str, str, bool]]:
    """(primary email as written, name, locale, active) of the given users, from one pass
    over ``users``, keeping only their rows (memory grows with ``user_ids``, not with the
    directory). Their rows are checked as the row reader checks them, errors naming file,
    line and field; the rest of the directory was checked when assess loaded it (notify
    plan refuses a directory whose digest has changed since). The email is the directory's
    own text (trimmed), not its normalised form: normalising (casefold) is for matching,
    and ``straße.de`` casefolded is ``strasse.de``, another domain."""
    path = table_path(folder, "users")
    try:
        return _contacts(path, ((0, row) for row in _wanted_rows(path, user_ids)))
    except _RowCheck:  # not plain enough for Arrow: the row reader names the line
        wanted = ((line, row) for line, row in user_rows(path) if row["user_id"] in user_ids)
        return _contacts(path, wanted)


def _contacts(
    path: Path, rows: Iterable[tuple[int, dict[str, str]]]
) -> dict[str, tuple[str, str, str, bool]]:
    """The contacts of checked rows; ``_RowCheck`` for a problem in a row whose line is
    unknown (0)."""
    found: dict[str, tuple[str, str, str, bool]] = {}
    lines: dict[str, int] = {}
    for line, row in rows:
        user_id = row["user_id"]
        if user_id in lines:
            if not line:
                raise _RowCheck
            raise DirectoryError(
                f"{path}:{line}: field user_id: duplicate of line {lines[user_id]}"
            )
        lines[user_id] = line
        try:
            user = check_user(f"{path}:{line}", row)
        except DirectoryError:
            if not line:
                raise _RowCheck from None
            raise
        email = _primary(row["email"], row.get("other_emails", ""))
        found[user_id] = (email, row["name"], user.locale, user.active)
    return found


def _wanted_rows(path: Path, user_ids: set[str]) -> Iterator[dict[str, str]]:
    """The rows of ``user_ids`` in a users table, values trimmed, read a batch at a time;
    ``_RowCheck`` when the file is not plain enough for Arrow."""
    ids = pa.array(sorted(user_ids), pa.string())
    columns = (*USERS_COLUMNS, *USERS_OPTIONAL)
    if path.suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except Exception:
            raise _RowCheck from None
        names = [n.lower() for n in parquet.schema_arrow.names]
        if any(c not in names for c in USERS_COLUMNS) or len(set(names)) != len(names):
            raise _RowCheck
        found = {c: parquet.schema_arrow.names[names.index(c)] for c in columns if c in names}
        batches = parquet.iter_batches(columns=list(found.values()))
    else:
        header = _header(path)
        if any(c not in header for c in USERS_COLUMNS):
            raise _RowCheck
        names = [f"c{i}" for i in range(len(header))]
        found = {c: names[header.index(c)] for c in columns if c in header}
        # UTF-8 checked in every column, as the row reader decodes every byte
        batches = _open_csv(path, **_text_options(names, True, True))
    last = ""
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            if path.suffix == ".csv":
                last = batch.column(len(names) - 1)[-1].as_py()
            text = {c: _as_text(batch.column(n)) for c, n in found.items()}
            mask = pc.is_in(text["user_id"], ids)
            if not _any(mask):
                continue
            kept = {c: values.filter(mask).to_pylist() for c, values in text.items()}
            for i in range(len(kept["user_id"])):
                yield {c: values[i] for c, values in kept.items()}
    except (pa.ArrowInvalid, OSError):
        raise _RowCheck from None
    if takes_lines(last):
        raise _RowCheck  # maybe a quote never closed: the row reader tells


def _text_options(
    names: list[str], newlines: bool, check_utf8: bool, include: list[str] | None = None
) -> dict[str, Any]:
    """Arrow's options for a directory CSV read as text: the header line skipped (its names
    given as ``names``), every column a string, an empty value empty (never null)."""
    return {
        "read_options": pacsv.ReadOptions(skip_rows=1, column_names=names),
        "parse_options": pacsv.ParseOptions(newlines_in_values=newlines),
        "convert_options": pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=include or [],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=check_utf8,
        ),
    }


def _open_csv(path: Path, **options: Any) -> pacsv.CSVStreamingReader:
    try:
        return pacsv.open_csv(path, **options)
    except (pa.ArrowInvalid, OSError):  # an empty table among others
        raise _RowCheck from None


def _header(path: Path) -> list[str]:
    """The header row of a CSV table, names trimmed and lower case; ``_RowCheck`` unless
    it is the file's first line and names each column once."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader)]
            # Arrow skips one line, not one record: a header on several lines, or after
            # blank lines, is the row reader's
            if reader.line_num != 1:
                raise _RowCheck
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error):
        raise _RowCheck from None
    if len(set(header)) != len(header):
        raise _RowCheck
    return header


def _as_text(column: pa.Array) -> pa.Array:
    """A column as trimmed strings: booleans as ``true``/``false``, integers in decimal;
    ``_RowCheck`` for any other type."""
    if pa.types.is_boolean(column.type):
        column = pc.if_else(column, "true", "false")
    elif not pa.types.is_string(column.type) and not pa.types.is_integer(column.type):
        raise _RowCheck
    return pc.utf8_trim_whitespace(pc.fill_null(column.cast(pa.string()), ""))


def _primary(email: str, others: str) -> str:
    """The address notices go to, as written: ``email``, else the first of ``other_emails``
    (the order of the normalised list the match used)."""
    return email or next((o.strip() for o in others.split(";") if o.strip()), "")


def read_organization_names(folder: Path) -> dict[str, str]:
    """Each organization's name as the directory writes it (trimmed), by org id. A name is
    text someone typed: whoever shows it checks it first (notices echo only what reads as a
    name; pages escape it)."""
    path = table_path(folder, "organizations")
    try:
        columns = _columns(path, ORGS_COLUMNS)
        return dict(zip(columns["org_id"].to_pylist(), columns["name"].to_pylist(), strict=True))
    except _RowCheck:
        return dict(organization_rows(path))
