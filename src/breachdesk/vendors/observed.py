"""The (vendor, field, category) triples the relay saw, fed back to ``vendors check``.

The relay keeps a count and a few sample values per field in memory (never on disk),
from every request at first, then from one request in eight (counts are scaled, so they
are estimates; any field present in more than a few requests is seen),
classifies each field with the assess classifier, and writes only the triples and counts
to ``observed.json`` beside its spool. Field names are bounded per vendor, so an SDK (or
an attacker) sending endless new names cannot grow the relay's memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from breachdesk.detect.classifier import classify_field
from breachdesk.errors import SchemaError
from breachdesk.private import write_private

OBSERVED_SCHEMA = "breachdesk.relay-observed/1"
SAMPLES = 20
MAX_FIELDS = 1000


@dataclass(frozen=True)
class ObservedField:
    vendor: str
    field: str
    category: str | None
    seen: int
    forwarded: int


@dataclass
class _Stats:
    seen: int = 0
    forwarded: int = 0
    samples: list[Any] = field(default_factory=list)


class FieldObserver:
    def __init__(self) -> None:
        self._fields: dict[str, dict[str, _Stats]] = {}
        self.overflow: dict[str, int] = {}
        self.changed = False

    def record(self, vendor: str, seen: Iterable[tuple[str, Any, bool]], weight: int = 1) -> None:
        """Fields of one request; ``weight``: how many requests this sampled one stands for."""
        fields = self._fields.setdefault(vendor, {})
        for name, value, forwarded in seen:
            stats = fields.get(name)
            if stats is None:
                if len(fields) >= MAX_FIELDS:
                    self.overflow[vendor] = self.overflow.get(vendor, 0) + 1
                    continue
                stats = fields[name] = _Stats()
            stats.seen += weight
            stats.forwarded += weight if forwarded else 0
            if len(stats.samples) < SAMPLES and value not in (None, "", [], {}):
                stats.samples.append(value[:256] if isinstance(value, str) else value)
        self.changed = True

    def snapshot(self) -> list[ObservedField]:
        found = []
        for vendor, fields in sorted(self._fields.items()):
            for name, stats in sorted(fields.items()):
                category = classify_field(name, stats.samples).category
                found.append(
                    ObservedField(
                        vendor, name, category.value if category else None, stats.seen,
                        stats.forwarded,
                    )
                )  # fmt: skip
        return found

    def write(self, path: Path) -> None:
        rows = [o.__dict__ for o in self.snapshot()]
        data = {
            "schema": OBSERVED_SCHEMA,
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
            "fields": rows,
            "overflow": self.overflow,
        }
        write_private(path, orjson.dumps(data, option=orjson.OPT_INDENT_2))
        self.changed = False


def read_observed(path: Path) -> list[ObservedField]:
    """The triples a relay wrote; an unknown schema is refused, naming both."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SchemaError(f"{path}: not a readable relay file: {type(exc).__name__}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != OBSERVED_SCHEMA:
        raise SchemaError(f"{path}: schema {schema!r} is not the known {OBSERVED_SCHEMA!r}")
    return [
        ObservedField(r["vendor"], r["field"], r["category"], r["seen"], r["forwarded"])
        for r in data["fields"]
    ]
