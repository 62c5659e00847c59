"""Mixpanel exports: the raw event export, the people (Engage) export as JSON Lines or as
paged API responses, and the UI's CSV export (raw or display column names).

Each record becomes one flat property bag: an event's ``event`` name beside its
``properties``; a profile's ``$distinct_id`` beside its ``$properties``; a CSV row's cells
under canonical (raw Mixpanel) names, so the CSV's ``Email`` is the same field as ``$email``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from breachdesk.sources.base import Framing, IdentityKeys, TimeKey
from breachdesk.sources.registry import register_reader
from breachdesk.sources.times import TimeUnit

# ``distinct_id`` is a device id when ``$device:``-prefixed (the identity's rule for every
# user-id key); events and profiles share one device namespace.
MIXPANEL_KEYS = IdentityKeys(
    user_ids=("distinct_id", "$distinct_id", "$user_id"),
    emails=("$email",),
    device_ids=("$device_id",),
    org_keys=("org_id", "organization_id", "company_id", "group_id"),
    countries=("mp_country_code", "$country_code"),
    namespace="mixpanel",
)
EVENT_KEYS = replace(MIXPANEL_KEYS, time=TimeKey("time", TimeUnit.EPOCH))

# The UI export's display names, lower-cased, and the raw property each one shows.
DISPLAY_NAMES = {
    "distinct id": "$distinct_id",
    "email": "$email",
    "name": "$name",
    "first name": "$first_name",
    "last name": "$last_name",
    "phone": "$phone",
    "city": "$city",
    "region": "$region",
    "country code": "$country_code",
    "country": "$country_code",
    "timezone": "$timezone",
    "operating system": "$os",
    "browser": "$browser",
    "browser version": "$browser_version",
    "device": "$device",
    "device id": "$device_id",
    "user id": "$user_id",
    "initial referrer": "$initial_referrer",
    "initial referring domain": "$initial_referring_domain",
    "last seen": "$last_seen",
    "created": "$created",
    "updated at": "$last_seen",
    "avatar": "$avatar",
    "org id": "org_id",
    "organization id": "organization_id",
    "company id": "company_id",
    "group id": "group_id",
}
# Identity keys, lower-cased: a CSV header that spells one in another case is that key.
_KNOWN_KEYS = {
    k.lower(): k
    for k in (
        *MIXPANEL_KEYS.user_ids,
        *MIXPANEL_KEYS.emails,
        *MIXPANEL_KEYS.device_ids,
        *MIXPANEL_KEYS.org_keys,
    )
}


# Top-level keys of other vendors' events, which also hold ``event`` and ``properties``
# (a Segment ``track`` message, a PostHog event): a line with one of them is not Mixpanel's.
_OTHER_VENDORS = frozenset({"messageId", "type", "uuid", "distinct_id", "event_type"})


@dataclass(frozen=True)
class EventsReader:
    name: str = "mixpanel.events"
    framing: Framing = Framing.LINES
    keys: IdentityKeys = field(default=EVENT_KEYS)

    def sniff(self, head: list[Any]) -> bool:
        return any(
            self.to_record(obj) is not None and not _OTHER_VENDORS.intersection(obj) for obj in head
        )

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict):
            return None
        props = obj.get("properties")
        if "event" not in obj or not isinstance(props, dict):
            return None
        if len(obj) == 2 and "event" not in props:
            props["event"] = obj["event"]  # the common shape: reuse the parsed dict
            return props
        bag = {k: v for k, v in obj.items() if k != "properties"}
        bag.update(props)
        return bag


@dataclass(frozen=True)
class PeopleReader:
    name: str = "mixpanel.people"
    framing: Framing = Framing.LINES
    keys: IdentityKeys = field(default=MIXPANEL_KEYS)

    def sniff(self, head: list[Any]) -> bool:
        return any(self.to_record(obj) is not None for obj in head)

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict) or "$distinct_id" not in obj:
            return None
        props = obj.get("$properties", {})
        if not isinstance(props, dict):
            return None
        if len(obj) == 2 and "$properties" in obj:  # the common shape
            return {"$distinct_id": obj["$distinct_id"], **props}
        bag = {k: v for k, v in obj.items() if k != "$properties"}
        bag.update(props)
        return bag


@dataclass(frozen=True)
class PagedPeopleReader(PeopleReader):
    """``{"page": …, "page_size": …, "results": [profile, …]}``, one page per file."""

    name: str = "mixpanel.people_paged"
    framing: Framing = Framing.DOCUMENT
    document_key: str | None = "results"

    def sniff(self, head: list[Any]) -> bool:
        return bool(head) and isinstance(head[0], dict) and "results" in head[0]


@dataclass(frozen=True)
class EventsArrayReader(EventsReader):
    """Events as one JSON array (``[{"event": …, "properties": {…}}, …]``)."""

    name: str = "mixpanel.events_array"
    framing: Framing = Framing.DOCUMENT
    document_key: str | None = None


@dataclass(frozen=True)
class PeopleArrayReader(PeopleReader):
    """Profiles as one JSON array (``[{"$distinct_id": …, "$properties": {…}}, …]``)."""

    name: str = "mixpanel.people_array"
    framing: Framing = Framing.DOCUMENT
    document_key: str | None = None


def canonical_column(header: str) -> str:
    """The raw Mixpanel name for a CSV column header (display or raw, any case)."""
    text = header.strip()
    lowered = text.casefold()
    if lowered in DISPLAY_NAMES:
        return DISPLAY_NAMES[lowered]
    if lowered in _KNOWN_KEYS:
        return _KNOWN_KEYS[lowered]
    if lowered.startswith("$") or lowered.startswith("mp_"):
        return lowered
    return text


@dataclass(frozen=True)
class CsvReader:
    name: str = "mixpanel.csv"
    framing: Framing = Framing.CSV
    keys: IdentityKeys = field(default=MIXPANEL_KEYS)

    def canonical_column(self, header: str) -> str:
        return canonical_column(header)

    def sniff(self, head: list[Any]) -> bool:
        if not head or not isinstance(head[0], list):
            return False
        columns = {canonical_column(str(h)) for h in head[0]}
        return bool(columns & {"$distinct_id", "$email", "distinct_id", "$user_id"})

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        return obj if isinstance(obj, dict) else None


register_reader(EventsReader())
register_reader(PeopleReader())
register_reader(PagedPeopleReader())
register_reader(EventsArrayReader())
register_reader(PeopleArrayReader())
register_reader(CsvReader())
