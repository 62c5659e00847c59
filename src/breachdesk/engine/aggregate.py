"""What one scan of records leaves behind: counts per field, value samples, identity
signatures with the fields they exposed, findings, rejects. Mergeable, in input order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from breachdesk.domain.identity import Token, TokenKind
from breachdesk.engine import PairSink
from breachdesk.sources.base import RejectReason
from breachdesk.taxonomy import FindingKind

SAMPLE_PER_FIELD = 200  # values kept per field for the classifier
# What a work unit contributes per field: as many as the run keeps, so the samples are the
# first values of each field in input order however the input is cut into units (the Spark
# engine cuts it elsewhere and must classify the same values).
SAMPLE_PER_UNIT = SAMPLE_PER_FIELD

# A record's identity tokens, encoded (sorted ``[kind, value]`` pairs as JSON text): cheap to
# hash, to send between processes and to compare, unambiguous whatever the values hold, and
# readable by DuckDB's ``from_json``.
Signature = str


def encode_signature(tokens: Iterable[Token]) -> Signature:
    return orjson.dumps(sorted({(t.kind.value, t.value) for t in tokens})).decode()


def decode_signature(signature: Signature) -> tuple[Token, ...]:
    return tuple(Token(TokenKind(kind), value) for kind, value in orjson.loads(signature))


def is_personal(signature: Signature) -> bool:
    return any(t.kind is not TokenKind.DEVICE_ID for t in decode_signature(signature))


@dataclass(slots=True)
class RawFinding:
    """One finding; ``record`` is relative to its work unit until the merge fixes it."""

    source: int
    line: int
    record: int
    field: str
    kind: FindingKind
    rule: str
    signature: Signature
    fingerprint: str
    masked: str
    detail: dict[str, Any]


@dataclass(slots=True)
class RejectRow:
    source: int
    line: int
    reason: RejectReason
    message: str


@dataclass(slots=True)
class UnitResult:
    """The aggregate of one work unit (or, after merging, of the whole run)."""

    source: int = -1
    size: int = 0  # bytes of raw input this unit covered (for progress)
    lines: int = 0
    blank: int = 0
    read: int = 0
    numbered: int = 0  # record numbers used by the unit (read + rejected non-blank lines)
    rejects: list[RejectRow] = field(default_factory=list)
    present: dict[str, int] = field(default_factory=dict)
    empty_paths: set[str] = field(default_factory=set)  # seen, but only ever empty so far
    samples: dict[str, list[Any]] = field(default_factory=dict)
    scanned_values: int = 0
    scanned_fields: set[str] = field(default_factory=set)
    shapes: list[tuple[str, ...]] = field(default_factory=list)
    # Arrow IPC: (signature, shape, records, country, personal), one row per distinct
    # (signature, shape, country) in order of first appearance, so the first country of a
    # signature is the same however the input is cut
    pairs: bytes = b""
    finding_kinds: dict[Signature, set[FindingKind]] = field(default_factory=dict)
    org_ids: set[str] = field(default_factory=set)
    anonymous: int = 0  # records with no user id or email (device ids at most)
    country_unmapped: int = 0  # records whose country name maps to no ISO code
    findings: list[RawFinding] = field(default_factory=list)
    time_first: float | None = None
    time_last: float | None = None


class RunAggregate:
    """Merges unit results in input order into run-wide figures; identity pairs go to the
    engine's tables."""

    def __init__(self, tables: PairSink) -> None:
        self.total = UnitResult()
        self.tables = tables
        self.per_source: dict[int, UnitResult] = {}
        self._shape_ids: dict[tuple[str, ...], int] = {}
        self._next_record: dict[int, int] = {}

    def merge(self, unit: UnitResult) -> None:
        total = self.total
        src = self.per_source.setdefault(unit.source, UnitResult(source=unit.source))
        base = self._next_record.get(unit.source, 0)
        self._next_record[unit.source] = base + unit.numbered
        for part in (total, src):
            part.lines += unit.lines
            part.blank += unit.blank
            part.read += unit.read
        total.rejects.extend(unit.rejects)
        src.rejects.extend(unit.rejects)
        for path, count in unit.present.items():
            total.present[path] = total.present.get(path, 0) + count
        for path, values in unit.samples.items():
            kept = total.samples.setdefault(path, [])
            if len(kept) < SAMPLE_PER_FIELD:
                kept.extend(values[: SAMPLE_PER_FIELD - len(kept)])
        total.empty_paths |= unit.empty_paths
        total.scanned_values += unit.scanned_values
        total.scanned_fields |= unit.scanned_fields
        remap = [self._shape_id(shape) for shape in unit.shapes]
        self.tables.add_pairs(unit.pairs, remap)
        for sig, kinds in unit.finding_kinds.items():
            total.finding_kinds.setdefault(sig, set()).update(kinds)
        total.org_ids |= unit.org_ids
        total.anonymous += unit.anonymous
        total.country_unmapped += unit.country_unmapped
        for finding in unit.findings:
            finding.record += base
            total.findings.append(finding)
        for stamp in (unit.time_first, unit.time_last):
            if stamp is None:
                continue
            if total.time_first is None or stamp < total.time_first:
                total.time_first = stamp
            if total.time_last is None or stamp > total.time_last:
                total.time_last = stamp

    def _shape_id(self, shape: tuple[str, ...]) -> int:
        found = self._shape_ids.get(shape)
        if found is None:
            found = self._shape_ids[shape] = len(self.total.shapes)
            self.total.shapes.append(shape)
        return found
