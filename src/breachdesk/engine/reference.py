"""The reference scan: the plain-Python statement of what the scan computes, one record at
a time, every value of every record through every rule and the URL analysis.

It is not used by assess. The tests run it beside :mod:`breachdesk.engine.scan` on the same
units and require the same results (counts, fields, samples, identity pairs, findings).
"""

from __future__ import annotations

from itertools import compress
from operator import not_
from typing import Any

import orjson
import pyarrow as pa

from breachdesk.detect.scanner import mask_secret
from breachdesk.domain.identity import normalize_id
from breachdesk.engine.aggregate import (
    SAMPLE_PER_UNIT,
    RawFinding,
    RejectRow,
    Signature,
    UnitResult,
)
from breachdesk.engine.scan import (
    _DEVICE,
    _DEVICE_ROLE,
    _EMPTY,
    _ID_TYPES,
    _MAIL,
    _NO_IDENTITY,
    _SCALARS,
    _USER,
    SENTINELS,
    Worker,
    _json_error,
    _token_pair,
    _type_name,
    leaves,
)
from breachdesk.engine.tables import PAIRS_SCHEMA, pairs_to_ipc
from breachdesk.sources.base import RejectReason
from breachdesk.sources.countries import country_code
from breachdesk.sources.framing import (
    BlankLines,
    LineBlock,
    LineRange,
    RecordBatch,
    Reject,
    WorkUnit,
)
from breachdesk.sources.paths import path_getter
from breachdesk.sources.times import bounds
from breachdesk.taxonomy import FindingKind


def reference_scan(worker: Worker, unit: WorkUnit) -> UnitResult:
    """One unit's result, the plain way."""
    if isinstance(unit, Reject):
        row = RejectRow(unit.source, unit.line, unit.reason, unit.message)
        return UnitResult(source=unit.source, lines=1, numbered=int(unit.numbered), rejects=[row])
    if isinstance(unit, BlankLines):
        return UnitResult(unit.source, size=unit.size, lines=unit.count, blank=unit.count)
    if isinstance(unit, LineRange):
        unit = unit.read()
    return ReferenceScan(worker, unit).run()


class ReferenceScan:
    """The scan of one unit, one record at a time, every value through every rule."""

    def __init__(self, worker: Worker, unit: LineBlock | RecordBatch) -> None:
        self.worker = worker
        self.unit = unit
        keys = worker.config.keys[unit.reader]
        self.keys = keys
        self.user_keys = keys.user_ids
        self.email_keys = keys.emails
        self.device_keys = keys.device_ids
        self.org_keys = keys.org_keys
        self.result = UnitResult(source=unit.source)
        self.shape_ids: dict[tuple[str, ...], int] = {}
        self.shape_counts: list[int] = []
        self.full: set[str] = set()
        self.sampled_shapes: set[int] = set()  # shapes whose every field has its sample
        self.identity_keys = (*self.user_keys, *self.email_keys, *self.device_keys)
        self.no_identity = (None,) * len(self.identity_keys)
        self.no_orgs = (None,) * len(self.org_keys)
        self.identity_get = [path_getter(p) for p in self.identity_keys]
        self.org_get = [path_getter(p) for p in self.org_keys]
        self.country_get = [path_getter(p) for p in keys.countries]
        # (signature, shape id, country) -> [records, personal], in order of first appearance
        self.stats: dict[tuple[Signature, int, str], list[Any]] = {}
        self.identity_roles = (
            *(_USER for _ in self.user_keys),
            *(_MAIL for _ in self.email_keys),
            *(_DEVICE_ROLE for _ in self.device_keys),
        )
        self.kinds: dict[Signature, set[str]] = {}
        self.raw_orgs: set[str | int | float] = set()

    def run(self) -> UnitResult:
        if isinstance(self.unit, LineBlock):
            self._lines(self.unit)
        else:
            self._batch(self.unit)
        res = self.result
        for shape, count in zip(res.shapes, self.shape_counts, strict=True):
            for path in shape:
                res.present[path] = res.present.get(path, 0) + count
        for value in self.raw_orgs:
            org = normalize_id(value)
            if org is not None:
                res.org_ids.add(org)
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        sigs, shapes, counts, countries, personal = columns
        for (signature, shape_id, country), (count, is_personal) in self.stats.items():
            sigs.append(signature)
            shapes.append(shape_id)
            counts.append(count)
            countries.append(country)
            personal.append(is_personal)
        res.pairs = pairs_to_ipc(pa.table(list(columns), schema=PAIRS_SCHEMA))
        res.finding_kinds = {
            sig: {FindingKind(k) for k in kinds} for sig, kinds in self.kinds.items()
        }
        return res

    def _lines(self, unit: LineBlock) -> None:
        res = self.result
        data = unit.data
        res.size = len(data)
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        res.lines = len(lines)
        max_record = self.worker.config.max_record
        source = unit.source
        loads = orjson.loads
        to_record = self.worker.record_maker(unit.reader)
        number = 0
        for i, line in enumerate(lines):
            if not line or line.isspace():
                res.blank += 1
                continue
            number += 1
            line_no = unit.first_line + i
            if len(line) > max_record:
                self._reject(line_no, RejectReason.TOO_LARGE, f"over {max_record} bytes")
                continue
            try:
                obj = loads(line)
            except orjson.JSONDecodeError as exc:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    self._reject(line_no, RejectReason.INVALID_UTF8, "line is not valid UTF-8")
                    continue
                self._reject(line_no, RejectReason.INVALID_JSON, _json_error(exc))
                continue
            if type(obj) is not dict:
                self._reject(line_no, RejectReason.NOT_AN_OBJECT, f"a JSON {_type_name(obj)}")
                continue
            bag = to_record(obj)
            if bag is None:
                self._reject(line_no, RejectReason.UNKNOWN_SHAPE, "lacks the reader's fields")
                continue
            res.read += 1
            self._record(source, line_no, number, bag, True)
        res.numbered = number

    def _batch(self, unit: RecordBatch) -> None:
        res = self.result
        res.blank = unit.blank
        res.lines = len(unit.records) + unit.blank
        for line_no, number, bag in unit.records:
            res.read += 1
            self._record(unit.source, line_no, number, bag, True)

    def _reject(self, line: int, reason: RejectReason, message: str) -> None:
        self.result.rejects.append(RejectRow(self.unit.source, line, reason, message))

    def _identify(self, raw: tuple[Any, ...]) -> tuple[Signature, bool]:
        keys = self.keys
        return reference_identify(self.identity_roles, raw, keys.namespace, keys.device_when_equal)

    def _country(self, bag: dict[str, Any]) -> tuple[str, bool]:
        unmapped = False
        for get in self.country_get:
            value = get(bag)
            if type(value) is str:
                code = country_code(value)
                if code:
                    return code, False
                if code is None:
                    unmapped = True
        return "", unmapped

    def _record(
        self, source: int, line: int, number: int, bag: dict[str, Any], candidate: bool
    ) -> None:
        res = self.result
        raw = tuple(get(bag) for get in self.identity_get)
        if raw == self.no_identity:
            signature: Signature = _NO_IDENTITY
            personal = False
        else:  # each record on its own: no cache whose keys could confuse True with 1
            signature, personal = self._identify(raw)
        if not personal:
            res.anonymous += 1
        orgs = tuple(get(bag) for get in self.org_get)
        if orgs != self.no_orgs:
            raw_orgs = self.raw_orgs
            for value in orgs:
                if type(value) is list:
                    raw_orgs.update(item for item in value if type(item) in _ID_TYPES)
                elif value is not None and type(value) in _ID_TYPES:
                    raw_orgs.add(value)
        time = self.keys.time
        found = bounds([path_getter(time.path)(bag)], time.unit) if time is not None else None
        if found is not None:
            seconds = found[0]
            if res.time_first is None or seconds < res.time_first:
                res.time_first = seconds
            if res.time_last is None or seconds > res.time_last:
                res.time_last = seconds
        country, unmapped = self._country(bag)
        if unmapped:
            res.country_unmapped += 1

        values = bag.values()
        if set(map(type, values)) <= _SCALARS:
            if _EMPTY.isdisjoint(values):
                shape = tuple(bag)
            else:
                empty = list(map(_EMPTY.__contains__, values))
                shape = tuple(compress(bag, map(not_, empty)))
                res.empty_paths.update(compress(bag, empty))
        else:
            # nested objects or lists: walk the record
            paths: list[str] = []
            self._has_lists = False
            self._walk(bag, "", paths)
            shape = tuple(dict.fromkeys(paths)) if self._has_lists else tuple(paths)
        shape_id = self.shape_ids.get(shape)
        if shape_id is None:
            shape_id = self.shape_ids[shape] = len(res.shapes)
            res.shapes.append(shape)
            self.shape_counts.append(0)
        self.shape_counts[shape_id] += 1
        res.scanned_values += len(shape)
        if shape_id not in self.sampled_shapes:
            self._sample_record(bag, shape, shape_id)
        key = (signature, shape_id, country)
        stats = self.stats.get(key)
        if stats is None:
            self.stats[key] = [1, personal]
        else:
            stats[0] += 1
        if candidate:
            self._scan_record(source, line, number, bag, signature)

    def _sample_record(self, bag: dict[str, Any], shape: tuple[str, ...], shape_id: int) -> None:
        """Keep the first values of each field, for the classifier."""
        samples = self.result.samples
        full = self.full
        scanned = self.result.scanned_fields
        for path, value in leaves(bag, ""):
            if path in full:
                continue
            kept = samples.get(path)
            if kept is None:
                kept = samples[path] = []
                scanned.add(path)
            kept.append(value)
            if len(kept) >= SAMPLE_PER_UNIT:
                full.add(path)
        if all(path in full for path in shape):
            self.sampled_shapes.add(shape_id)

    def _scan_record(
        self,
        source: int,
        line: int,
        number: int,
        bag: dict[str, Any],
        signature: Signature,
    ) -> None:
        scanner = self.worker.scanner
        findings = self.result.findings
        for path, hit in scanner.scan_record(leaves(bag, "")):
            self.kinds.setdefault(signature, set()).add(hit.kind.value)
            findings.append(
                RawFinding(
                    source=source,
                    line=line,
                    record=number,
                    field=path,
                    kind=hit.kind,
                    rule=hit.rule,
                    signature=signature,
                    fingerprint=scanner.fingerprint(hit.kind, hit.secret),
                    masked=mask_secret(hit.kind, hit.secret),
                    detail=hit.detail,
                )
            )

    _has_lists = False

    def _walk(self, obj: dict[str, Any], prefix: str, paths: list[str]) -> None:
        """Non-empty leaf paths of a record with nesting, falsy or sentinel values."""
        empty = self.result.empty_paths
        for key, value in obj.items():
            path = prefix + key if prefix else key
            kind = type(value)
            if kind is str:
                if not value or value in SENTINELS:
                    empty.add(path)
                    continue
            elif kind is dict:
                if value:
                    self._walk(value, path + ".", paths)
                else:
                    empty.add(path)
                continue
            elif kind is list:
                if value:
                    self._has_lists = True
                    self._walk_list(value, path + "[]", paths)
                else:
                    empty.add(path)
                continue
            elif value is None:
                empty.add(path)
                continue
            paths.append(path)

    def _walk_list(self, items: list[Any], path: str, paths: list[str]) -> None:
        for item in items:
            if isinstance(item, dict):
                if item:
                    self._walk(item, path + ".", paths)
            elif isinstance(item, list):
                if item:
                    self._walk_list(item, path + "[]", paths)
            elif item is not None and item != "" and item not in SENTINELS:
                paths.append(path)


def reference_identify(
    roles: tuple[str, ...],
    raw: tuple[Any, ...],
    namespace: str = "",
    device_when_equal: bool = False,
) -> tuple[Signature, bool]:
    """The signature of one combination of identity values, and whether it is personal:
    every value through the token functions, as :func:`breachdesk.engine.scan.identify`
    states it with fast paths."""
    pairs: list[tuple[str, str]] = []
    prefix = f"{namespace}:" if namespace else ""
    for role, value in zip(roles, raw, strict=True):
        items = value if type(value) is list else [value]
        for item in items:
            if item is not None and (pair := _token_pair(role, item, prefix)) is not None:
                pairs.append(pair)
    devices = [v for k, v in pairs if k == _DEVICE]
    if device_when_equal:
        for i, (kind, value) in enumerate(pairs):
            named = f"{namespace}:{value}" if namespace else value
            if kind in ("user_id", "hashed_email") and named in devices:
                pairs[i] = (_DEVICE, named)
    personal = any(kind != _DEVICE for kind, _ in pairs)
    if len(pairs) > 1:
        pairs = sorted(set(pairs))
    return orjson.dumps(pairs).decode(), personal
