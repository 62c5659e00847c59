"""The ground truth of a demo export, kept by the generator as it writes each record and
never computed by running breachdesk.

Each record is reported with the directory user it was written for (or None), the categories
of its non-empty fields (from the generator's own field table), its organization ids, the
identities an unmatched record carries, and its device ids (namespaced by vendor). Stitching
is resolved at the end, as the matching semantics state it: a device id written in a record
for a user ties that user to it; a record with nothing but device ids counts for every user
tied to any of them, or is anonymous.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What "empty" means for the generator (null, "", [], {} and vendor sentinels).
EMPTY_TEXT = frozenset({"", "$direct", "(not set)"})


def is_empty(value: Any) -> bool:
    if value is None or value in ([], {}):
        return True
    return isinstance(value, str) and value in EMPTY_TEXT


def leaf_categories(bag: Mapping[str, Any], table: Mapping[str, str]) -> set[str]:
    """The categories, from ``table`` (path → category), of the non-empty leaves of ``bag``;
    paths are dotted, list items marked ``[]`` (``groups.company[]``)."""
    found: set[str] = set()
    stack: list[tuple[str, Any]] = [(k, v) for k, v in bag.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[]", v) for v in value)
        elif not is_empty(value):
            category = table.get(path)
            if category is None:
                raise KeyError(f"the demo's field table has no category for {path!r}")
            if category:
                found.add(category)
    return found


@dataclass
class _DeviceOnly:
    devices: frozenset[str]
    categories: set[str]


@dataclass
class Truth:
    """What breachdesk must find, from what was written."""

    users: dict[str, set[str]] = field(default_factory=dict)  # user id -> exposed categories
    orgs_seen: set[str] = field(default_factory=set)
    unmatched: set[tuple[str, str]] = field(default_factory=set)
    unmatched_records: int = 0
    anonymous: int = 0
    stitched: int = 0
    read: int = 0
    rejected: int = 0
    country_unmapped: int = 0
    planted: list[dict[str, Any]] = field(default_factory=list)
    ties: dict[str, set[str]] = field(default_factory=dict)  # device -> user ids
    device_only: list[_DeviceOnly] = field(default_factory=list)
    finished: bool = False

    def record(
        self,
        user_id: str | None,
        categories: set[str],
        orgs: Iterable[Any] = (),
        identities: Iterable[tuple[str, str]] = (),
        devices: Iterable[str] = (),
    ) -> None:
        """One record read: written for ``user_id`` (a directory user), or not."""
        self.read += 1
        for org in orgs:
            if org is not None and org != "":
                self.orgs_seen.add(str(org))
        devices = frozenset(devices)
        identities = list(identities)
        if user_id is not None:
            self.users.setdefault(user_id, set()).update(categories)
            for device in devices:
                self.ties.setdefault(device, set()).add(user_id)
        elif identities:
            self.unmatched_records += 1
            self.unmatched.update(identities)
        elif devices:
            self.device_only.append(_DeviceOnly(devices, set(categories)))
        else:
            self.anonymous += 1

    def finish(self) -> None:
        """Resolve the records with nothing but device ids (once every tie is known)."""
        if self.finished:
            return
        self.finished = True
        for record in self.device_only:
            tied = {u for d in record.devices for u in self.ties.get(d, ())}
            if not tied:
                self.anonymous += 1
                continue
            self.stitched += 1
            for user in tied:
                self.users[user].update(record.categories)
