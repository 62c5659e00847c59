"""What a reader is: how it recognises a file, frames it into records, and which of a
record's fields identify a person or an organization."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


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
class IdentityKeys:
    """Field names (at the top of a record's property bag) that carry identities."""

    user_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()
    org_keys: tuple[str, ...] = ()

    def extended(self, other: IdentityKeys) -> IdentityKeys:
        def merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return a + tuple(k for k in b if k not in a)

        return IdentityKeys(
            merge(self.user_ids, other.user_ids),
            merge(self.emails, other.emails),
            merge(self.device_ids, other.device_ids),
            merge(self.org_keys, other.org_keys),
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


@dataclass(slots=True)
class SourceStats:
    """Counts per input file, filled while it is read."""

    lines: int = 0
    blank: int = 0
    read: int = 0
    rejected: int = 0
    extra: dict[str, int] = field(default_factory=dict)
