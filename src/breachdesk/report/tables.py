"""The workspace's typed tables: what later steps (plan, obligations, the report for the
authority, the dashboard) read back, as Parquet with real types — lists as lists, counts as
integers, MFA as a nullable boolean, ids exactly as the directory wrote them.

The CSV files beside them are for people (sorted, formula-escaped for spreadsheets: ``-7``
is written ``'-7``) and are never read back as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from breachdesk.domain.impact import AffectedOrganization, AffectedUser
from breachdesk.errors import InputError
from breachdesk.private import private_file

TABLES = "tables"
USERS = "affected_users.parquet"
ORGANIZATIONS = "affected_organizations.parquet"
FINDINGS = "findings.parquet"

_TEXTS = pa.list_(pa.string())
USERS_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()), ("exposed", _TEXTS), ("organizations", _TEXTS),
        ("mfa_enabled", pa.bool_()), ("locale", pa.string()), ("country", pa.string()),
        ("country_source", pa.string()), ("region", pa.string()), ("status", pa.string()),
    ]
)  # fmt: skip
ORGANIZATIONS_SCHEMA = pa.schema(
    [("org_id", pa.string()), ("affected_members", pa.int64()), ("admins_to_notify", _TEXTS)]
)
FINDINGS_SCHEMA = pa.schema(
    [
        ("source", pa.string()), ("line", pa.int64()), ("record", pa.int64()),
        ("field", pa.string()), ("kind", pa.string()), ("rule", pa.string()),
        ("user_ids", _TEXTS), ("fingerprint", pa.string()), ("masked_value", pa.string()),
        ("detail", pa.string()),
    ]
)  # fmt: skip


@dataclass(frozen=True, slots=True, order=True)
class FindingRow:
    source: str
    line: int
    record: int
    field: str
    kind: str
    rule: str
    user_ids: tuple[str, ...]
    fingerprint: str
    masked_value: str
    detail: str


def _split(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``a;b`` → ``["a", "b"]`` and ``""`` → ``[]``: each distinct text split once (a
    column of millions holds few distinct category or organization lists)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    texts = encoded.dictionary
    parts = pc.if_else(
        pc.equal(texts, ""), pa.scalar([], type=_TEXTS), pc.split_pattern(texts, ";")
    )
    return pc.take(parts, encoded.indices)


def users_table(users: pa.Table) -> pa.Table:
    """The engine's affected users (``;``-joined text columns) as the typed table."""
    mfa = users.column("mfa_enabled")
    typed_mfa = pc.if_else(pc.equal(mfa, ""), pa.scalar(None, pa.bool_()), pc.equal(mfa, "true"))
    columns = {
        "user_id": users.column("user_id"),
        "exposed": _split(users.column("exposed")),
        "organizations": _split(users.column("organizations")),
        "mfa_enabled": typed_mfa,
        **{c: users.column(c) for c in ("locale", "country", "country_source", "region",
                                        "status")},
    }  # fmt: skip
    return pa.table(columns, schema=USERS_SCHEMA)


def write_users_table(path: Path, users: pa.Table, batch: int = 131_072) -> str:
    """Write the engine's affected users as the typed table, ``batch`` rows (one row group)
    at a time: the typed lists of millions of users never sit in memory at once."""
    import hashlib

    with (
        private_file(path) as fh,
        pq.ParquetWriter(fh, USERS_SCHEMA, compression="zstd") as writer,
    ):
        for chunk in users.to_batches(max_chunksize=batch):
            writer.write_table(users_table(pa.Table.from_batches([chunk])))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_table(path: Path, table: pa.Table) -> str:
    """Write ``table`` to ``path`` (0600, atomically); its SHA-256."""
    import hashlib

    with private_file(path) as fh:
        pq.write_table(table, fh, compression="zstd")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def organizations_table(rows: Iterable[AffectedOrganization]) -> pa.Table:
    items = list(rows)
    return pa.table(
        {
            "org_id": [o.org_id for o in items],
            "affected_members": [o.affected_members for o in items],
            "admins_to_notify": [list(o.admins_to_notify) for o in items],
        },
        schema=ORGANIZATIONS_SCHEMA,
    )


def findings_table(rows: Sequence[FindingRow]) -> pa.Table:
    columns: dict[str, list[object]] = {name: [] for name in FINDINGS_SCHEMA.names}
    for row in rows:
        for name in FINDINGS_SCHEMA.names:
            value = getattr(row, name)
            columns[name].append(list(value) if name == "user_ids" else value)
    return pa.table(columns, schema=FINDINGS_SCHEMA)


def _read(workspace: Path, name: str, schema: pa.Schema) -> pa.Table:
    path = workspace / TABLES / name
    if not path.exists():
        raise InputError(f"{path}: missing from the workspace; run assess again")
    table = pq.read_table(path)
    if not table.schema.equals(schema, check_metadata=False):
        raise InputError(f"{path}: not the table this version writes; run assess again")
    return table


def _rows(table: pa.Table, batch: int = 50_000) -> Iterator[dict[str, object]]:
    for chunk in table.to_batches(max_chunksize=batch):
        yield from chunk.to_pylist()


def affected_users(workspace: Path) -> Iterator[AffectedUser]:
    """Every affected user, in user-id order."""
    for r in _rows(_read(workspace, USERS, USERS_SCHEMA)):
        yield AffectedUser(
            user_id=str(r["user_id"]),
            exposed=tuple(r["exposed"]),  # type: ignore[arg-type]
            organizations=tuple(r["organizations"]),  # type: ignore[arg-type]
            mfa_enabled=r["mfa_enabled"],  # type: ignore[arg-type]
            locale=str(r["locale"]),
            country=str(r["country"]),
            country_source=str(r["country_source"]),
            region=str(r["region"]),
            active=r["status"] == "active",
        )


def affected_organizations(workspace: Path) -> list[AffectedOrganization]:
    return [
        AffectedOrganization(
            str(r["org_id"]), int(r["affected_members"]),  # type: ignore[call-overload]
            tuple(r["admins_to_notify"]),  # type: ignore[arg-type]
        )
        for r in _rows(_read(workspace, ORGANIZATIONS, ORGANIZATIONS_SCHEMA))
    ]  # fmt: skip


def findings(workspace: Path) -> list[FindingRow]:
    return [
        FindingRow(**{**r, "user_ids": tuple(r["user_ids"])})  # type: ignore[arg-type]
        for r in _rows(_read(workspace, FINDINGS, FINDINGS_SCHEMA))
    ]
