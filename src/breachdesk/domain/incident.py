"""The incident record: who knew what when, what happened, what is to be done and what was
decided, with the reason. Pure: times are parsed and checked here, stored elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from breachdesk.domain.company import CompanyIdentity
from breachdesk.errors import InputError


def parse_instant(
    text: str, what: str, now: datetime | None = None, past: bool = False
) -> datetime:
    """An ISO 8601 time with its zone (``Z`` or an offset), in UTC.

    A time without a zone is refused: "09:00" means nothing across the desks of an incident.
    With ``past``, a time after ``now`` is refused too (nobody became aware tomorrow).
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what}: {text!r} has no time zone (add Z or an offset such as +02:00)")
    value = value.astimezone(UTC)
    if past and value > (now or datetime.now(UTC)):
        raise InputError(f"{what}: {text!r} is in the future")
    return value


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"time zone {name!r} is not an IANA zone such as Europe/Bucharest"
        ) from None
    return name


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Awareness:
    party: str  # e.g. "company", "vendor", "dpo"
    aware_at: datetime


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    title: str
    owner: str
    due_at: datetime | None
    status: str  # open | done
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    id: int
    subject: str
    decision: str
    rationale: str
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # event | measure (an event recorded as a measure taken) | decision | task | …
    summary: str
    actor: str
    language: str = ""  # a measure's notice language; "" = stated in every other language


@dataclass(frozen=True, slots=True)
class VendorCut:
    """A vendor cut off during the incident, and how long after the company knew."""

    vendor: str
    cut_at: datetime
    by: str
    why: str
    after_awareness: timedelta | None  # None until the company's awareness is recorded


@dataclass(frozen=True)
class IncidentView:
    id: int
    title: str
    vendor: str
    timezone: str
    dataset_arrived_at: datetime | None
    official_domains: tuple[str, ...]
    sender: str
    awareness: tuple[Awareness, ...]
    open_tasks: tuple[Task, ...]
    decisions: int
    vendor_cuts: tuple[VendorCut, ...] = ()
    company: str = ""
    controller: str = ""
    dpo: str = ""
    contact_email: str = ""
    verify_url: str = ""
    vendor_incident_start: datetime | None = None
    vendor_incident_end: datetime | None = None
    own_systems_breached: bool | None = None  # None: not recorded
    measures: tuple[TimelineEntry, ...] = ()  # the measures taken, oldest first

    def identity(self) -> CompanyIdentity:
        return CompanyIdentity(
            company=self.company,
            controller=self.controller,
            dpo=self.dpo,
            contact_email=self.contact_email,
            official_domains=self.official_domains,
            sender=self.sender,
            verify_url=self.verify_url,
        )

    def aware_at(self, party: str) -> datetime | None:
        return next((a.aware_at for a in self.awareness if a.party == party), None)
