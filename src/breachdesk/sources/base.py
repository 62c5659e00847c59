"""What a reader is: how it recognises a file, frames it into records, and which of a
record's fields identify a person or an organization."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from breachdesk.sources.times import TimeUnit


class Framing(StrEnum):
    LINES = "lines"  # one JSON object per line
    DOCUMENT = "document"  # one JSON document holding many records (paged API response)
    CSV = "csv"  # a header row, then one record per row


class RejectReason(StrEnum):
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_UTF8 = "invalid_utf8"
    TOO_LARGE = "too_large"
    WRONG_FIELD_COUNT = "wrong_field_count"
    UNKNOWN_SHAPE = "unknown_shape"


@dataclass(frozen=True, slots=True)
class TimeKey:
    """The field holding a record's event time, and how the time is written."""

    path: str
    unit: TimeUnit = TimeUnit.EPOCH


@dataclass(frozen=True, slots=True)
class IdentityKeys:
    """What a reader declares about its records' fields; the scan reads nothing else.

    Paths are dotted (``context.traits.email``), a ``*`` segment standing for every value of
    an object (``groups.*``); a key holding a list contributes each item. ``countries`` hold
    ISO alpha-2 codes or English names. Device ids are compared within ``namespace`` (the
    vendor's: Mixpanel's events and people share one). ``device_when_equal``: a user id equal
    to one of the record's device ids is that device id (PostHog's anonymous ``distinct_id``).
    A user id prefixed ``$device:`` is always a device id, the prefix removed (Mixpanel).
    """

    user_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()
    org_keys: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    time: TimeKey | None = None
    namespace: str = ""
    device_when_equal: bool = False

    def extended(self, other: IdentityKeys) -> IdentityKeys:
        def merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return a + tuple(k for k in b if k not in a)

        return replace(
            self,
            user_ids=merge(self.user_ids, other.user_ids),
            emails=merge(self.emails, other.emails),
            device_ids=merge(self.device_ids, other.device_ids),
            org_keys=merge(self.org_keys, other.org_keys),
            countries=merge(self.countries, other.countries),
        )


@dataclass(frozen=True, slots=True)
class Sniff:
    """What a look at the start of a file concluded."""

    reader: str | None
    reason: str = ""


class Reader(Protocol):
    """A vendor export format. Built-ins register through the same registry as plug-ins."""

    @property
    def name(self) -> str: ...

    @property
    def framing(self) -> Framing: ...

    @property
    def keys(self) -> IdentityKeys: ...

    def sniff(self, head: list[Any]) -> bool:
        """True when the first parsed values (objects or a CSV header) have this shape."""

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        """The record's property bag, or None when ``obj`` does not have this shape."""


# What a reader may also declare (read with :func:`declared`, so a plug-in may leave it out):
#   kv_arrays: tuple[str, ...]            top-level key/value arrays to present as objects
#   field_categories: Mapping[str, str]   the category of a vendor field whose name misleads
#   canonical_column: Callable[[str], str]  a CSV header as the field it is
_DEFAULTS: dict[str, Any] = {
    "kv_arrays": (),
    "field_categories": {},
    "canonical_column": None,
}


def declared(reader: Reader, name: str) -> Any:
    """An optional declaration of ``reader`` (see above), or its default."""
    return getattr(reader, name, _DEFAULTS[name])


def record_maker(reader: Reader) -> Callable[[Any], dict[str, Any] | None]:
    """``reader.to_record`` followed by the generic steps its declarations ask for."""
    to_record = reader.to_record
    arrays: tuple[str, ...] = tuple(declared(reader, "kv_arrays"))
    if not arrays:
        return to_record
    from breachdesk.sources.paths import flatten_kv

    def make(obj: Any) -> dict[str, Any] | None:
        bag = to_record(obj)
        return flatten_kv(bag, arrays) if bag is not None else None

    return make


@dataclass(slots=True)
class SourceStats:
    """Counts per input file, filled while it is read."""

    lines: int = 0
    blank: int = 0
    read: int = 0
    rejected: int = 0
    extra: dict[str, int] = field(default_factory=dict)
