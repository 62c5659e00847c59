"""The vendor inventory as typed records (schema ``breachdesk.vendors/1``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

SCHEMA = "breachdesk.vendors/1"


class FieldOp(StrEnum):
    """What the relay does to one field before it reaches the vendor."""

    KEEP = "keep"
    DROP = "drop"
    PSEUDONYMISE = "pseudonymise"
    STRIP_QUERY = "strip_query"
    TRUNCATE_IP = "truncate_ip"
    COARSEN_UA = "coarsen_ua"


@dataclass(frozen=True)
class Flow:
    """Data that goes from one surface to the vendor: which events, which fields, how."""

    surface: str  # browser | server | relay
    events: tuple[str, ...]  # ("*",) for every event
    fields: tuple[tuple[str, FieldOp], ...]
    keep_query: tuple[str, ...] = ()
    line: int = 0

    @property
    def all_events(self) -> bool:
        return "*" in self.events

    def accepts(self, event: str) -> bool:
        return self.all_events or event in self.events


@dataclass(frozen=True)
class Vendor:
    id: str
    name: str
    purpose: str
    owner: str
    tier: int
    dpa: str  # signed | missing | not_needed
    locations: tuple[str, ...]
    breach_contact: str
    last_review: date | None
    hosts: tuple[str, ...]
    upstream: str | None
    protocol: str | None  # mixpanel | segment
    status: str  # active | cut
    flows: tuple[Flow, ...] = ()
    line: int = 0

    @property
    def cut(self) -> bool:
        return self.status == "cut"

    def declared_fields(self) -> dict[str, FieldOp]:
        """Every field a flow names, with the first flow's operation."""
        found: dict[str, FieldOp] = {}
        for flow in self.flows:
            for name, op in flow.fields:
                found.setdefault(name, op)
        return found


@dataclass(frozen=True)
class Inventory:
    path: Path
    company: str
    vendors: tuple[Vendor, ...] = field(default=())

    def vendor(self, vendor_id: str) -> Vendor | None:
        return next((v for v in self.vendors if v.id == vendor_id), None)
