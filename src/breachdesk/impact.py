"""The impact model of one run: affected users (columnar, for millions), organizations with
their admins to notify, and unmatched identities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from breachdesk.domain.impact import AffectedOrganization, AffectedUser, UnmatchedIdentity
from breachdesk.errors import SchemaError

IMPACT_SCHEMA = "breachdesk.impact/1"

# The columns of affected_users.csv, in order (docs/ARCHITECTURE.md).
USER_COLUMNS = ("user_id", "exposed", "organizations", "mfa_enabled", "locale", "country",
                "region", "status")  # fmt: skip


@dataclass(frozen=True)
class Impact:
    users: pa.Table  # USER_COLUMNS + country_source + mask, sorted by user id
    organizations: tuple[AffectedOrganization, ...]
    unmatched: tuple[UnmatchedIdentity, ...]
    unmatched_records: int
    users_by_signature: dict[int, tuple[str, ...]]  # engine signature id -> matched user ids
    stitched_records: int = 0  # records identified only through a device id tied to a user
    anonymous_records: int = 0  # records without a user id or email, tied to no user

    @property
    def user_count(self) -> int:
        return int(self.users.num_rows)

    @property
    def admins_to_notify(self) -> int:
        return len({a for org in self.organizations for a in org.admins_to_notify})

    @property
    def admin_notices(self) -> int:
        """Notices to admins: one per admin and organization (an admin of two affected
        organizations is told about each)."""
        return sum(len(org.admins_to_notify) for org in self.organizations)

    @property
    def users_without_mfa(self) -> int:
        return int(pc.sum(pc.equal(self.users.column("mfa_enabled"), "false")).as_py() or 0)

    @property
    def users_mfa_unknown(self) -> int:
        return int(pc.sum(pc.equal(self.users.column("mfa_enabled"), "")).as_py() or 0)

    def exposure_counts(self) -> Counter[str]:
        """Affected users per exposed category."""
        counts: Counter[str] = Counter()
        for row in pc.value_counts(self.users.column("exposed")).to_pylist():
            for category in row["values"].split(";") if row["values"] else ():
                counts[category] += row["counts"]
        return counts

    def country_counts(self) -> dict[str, tuple[int, str]]:
        """Users per country, and whether the directory or the export gave it."""
        table = self.users.group_by(["country", "country_source"]).aggregate([("user_id", "count")])
        found: dict[str, tuple[int, str]] = {}
        for row in table.to_pylist():
            country, source, n = row["country"], row["country_source"], row["user_id_count"]
            if not country:
                continue
            users, seen = found.get(country, (0, source))
            found[country] = (users + n, "directory" if "directory" in (seen, source) else seen)
        return dict(sorted(found.items()))

    def user_ids_without_mfa(self, limit: int) -> list[str]:
        mask = pc.equal(self.users.column("mfa_enabled"), "false")
        return [str(u) for u in self.users.column("user_id").filter(mask)[:limit].to_pylist()]

    def iter_users(self) -> Iterator[AffectedUser]:
        for row in self.users.to_pylist():
            yield AffectedUser(
                user_id=row["user_id"],
                exposed=tuple(row["exposed"].split(";")) if row["exposed"] else (),
                organizations=tuple(row["organizations"].split(";"))
                if row["organizations"]
                else (),
                mfa_enabled=None if row["mfa_enabled"] == "" else row["mfa_enabled"] == "true",
                locale=row["locale"],
                country=row["country"],
                country_source=row["country_source"],
                region=row["region"],
                active=row["status"] == "active",
            )


def read_impact(path: Path) -> dict[str, Any]:
    """A workspace's impact.json, refused (naming both schemas) unless this version knows it."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not a readable impact file: {type(exc).__name__}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != IMPACT_SCHEMA:
        raise SchemaError(f"{path}: schema {schema!r} is not the known {IMPACT_SCHEMA!r}")
    return data  # type: ignore[no-any-return]
