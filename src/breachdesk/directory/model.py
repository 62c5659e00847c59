"""The directory as the engine sees it: Arrow tables of users, organizations, memberships.

Columnar so a three-million-user directory stays small in memory and goes into DuckDB
without copying row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from breachdesk.domain.directory import DirectoryUser, Membership, Role

USERS_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("emails", pa.list_(pa.string())),  # normalised, primary first
        ("locale", pa.string()),
        ("country", pa.string()),
        ("region", pa.string()),
        ("mfa_enabled", pa.bool_()),  # null: unknown, never read as false
        ("active", pa.bool_()),
    ]
)
MEMBERSHIPS_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("org_id", pa.string()), ("role", pa.string())]
)


@dataclass
class Directory:
    path: Path
    users: pa.Table
    org_ids: list[str]
    memberships: pa.Table
    notes: list[str] = field(default_factory=list)

    def release(self) -> None:
        """Let go of the users' and memberships' tables once an engine holds its own copy
        (``Engine.hold_directory``): hundreds of MB for millions of users. The path, the
        organization ids and the notes stay; the tables are empty from here on."""
        self.users = self.users.schema.empty_table()
        self.memberships = self.memberships.schema.empty_table()
        pa.default_memory_pool().release_unused()

    def __len__(self) -> int:
        return int(self.users.num_rows)

    def iter_users(self) -> Iterator[DirectoryUser]:
        for row in self.users.to_pylist():
            yield DirectoryUser(
                user_id=row["user_id"],
                emails=tuple(row["emails"]),
                locale=row["locale"],
                country=row["country"],
                region=row["region"],
                mfa_enabled=row["mfa_enabled"],
                active=row["active"],
            )

    def iter_memberships(self) -> Iterator[Membership]:
        for row in self.memberships.to_pylist():
            yield Membership(row["user_id"], row["org_id"], Role(row["role"]))

    @classmethod
    def from_records(
        cls,
        users: Iterable[DirectoryUser],
        memberships: Iterable[Membership],
        org_ids: Iterable[str],
        path: Path = Path(),
        notes: list[str] | None = None,
    ) -> Directory:
        users = list(users)
        memberships = list(memberships)
        user_table = pa.table(
            {
                "user_id": [u.user_id for u in users],
                "emails": [list(u.emails) for u in users],
                "locale": [u.locale for u in users],
                "country": [u.country for u in users],
                "region": [u.region for u in users],
                "mfa_enabled": [u.mfa_enabled for u in users],
                "active": [u.active for u in users],
            },
            schema=USERS_SCHEMA,
        )
        member_table = pa.table(
            {
                "user_id": [m.user_id for m in memberships],
                "org_id": [m.org_id for m in memberships],
                "role": [m.role.value for m in memberships],
            },
            schema=MEMBERSHIPS_SCHEMA,
        )
        return cls(path, user_table, list(dict.fromkeys(org_ids)), member_table, notes or [])
