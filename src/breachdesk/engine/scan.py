"""The scan: parse every record of a work unit, inventory its fields, extract identities,
and confirm findings in candidate records. Runs in worker processes, one unit at a time,
with a bounded number of units in flight so memory stays flat however large the export.
"""

from __future__ import annotations

import multiprocessing
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson

from breachdesk.detect.rules import default_rules
from breachdesk.detect.scanner import Scanner, mask_secret
from breachdesk.domain.identity import (
    Token,
    TokenKind,
    device_token,
    email_token,
    normalize_id,
    user_id_token,
)
from breachdesk.engine.aggregate import (
    SAMPLE_PER_FIELD,
    RawFinding,
    RejectRow,
    SignatureStats,
    UnitResult,
)
from breachdesk.sources.base import IdentityKeys, RejectReason
from breachdesk.sources.framing import LineBlock, RecordBatch, Reject, WorkUnit

# Values that mean "nothing here" (besides null, "", [] and {}): vendor sentinels.
SENTINELS = frozenset({"$direct"})


@dataclass(frozen=True)
class ScanConfig:
    keys: dict[str, IdentityKeys]  # per reader, already extended by settings
    time_keys: dict[str, str]  # per reader: the field holding the event time
    country_keys: tuple[str, ...]  # fields holding an ISO country code
    hmac_key: bytes
    max_record: int
    rule_files: tuple[Path, ...] = ()


@dataclass
class _Worker:
    config: ScanConfig
    scanner: Scanner = field(init=False)

    def __post_init__(self) -> None:
        self.scanner = Scanner(default_rules(self.config.rule_files), self.config.hmac_key)


_STATE: _Worker | None = None


def init_worker(config: ScanConfig) -> None:
    global _STATE
    _STATE = _Worker(config)


def scan_unit(unit: WorkUnit) -> UnitResult:
    assert _STATE is not None, "init_worker was not called"
    if isinstance(unit, Reject):
        row = RejectRow(unit.source, unit.line, unit.reason, unit.message)
        return UnitResult(source=unit.source, lines=1, numbered=int(unit.numbered), rejects=[row])
    return _UnitScan(_STATE, unit).run()


class _UnitScan:
    """The scan of one unit; its state lives here so the hot loop reads locals."""

    def __init__(self, worker: _Worker, unit: LineBlock | RecordBatch) -> None:
        self.worker = worker
        self.unit = unit
        self.keys = worker.config.keys[unit.reader]
        self.time_key = worker.config.time_keys.get(unit.reader)
        self.result = UnitResult(source=unit.source)
        self.shape_ids: dict[tuple[str, ...], int] = {}
        self.shape_counts: list[int] = []
        self.full: set[str] = set()

    def run(self) -> UnitResult:
        if isinstance(self.unit, LineBlock):
            self._lines(self.unit)
        else:
            self._batch(self.unit)
        res = self.result
        for shape, count in zip(res.shapes, self.shape_counts, strict=True):
            for path in shape:
                res.present[path] = res.present.get(path, 0) + count
        return res

    def _lines(self, unit: LineBlock) -> None:
        res = self.result
        data = unit.data
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        res.lines = len(lines)
        starts = [0, *accumulate(len(line) + 1 for line in lines)]
        candidates = {
            bisect_right(starts, m.start()) - 1
            for m in self.worker.scanner.prefilter.finditer(data)
        }
        max_record = self.worker.config.max_record
        source = unit.source
        loads = orjson.loads
        to_record = _reader_to_record(unit.reader)
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
            if not isinstance(obj, dict):
                self._reject(line_no, RejectReason.NOT_AN_OBJECT, f"a JSON {_type_name(obj)}")
                continue
            bag = to_record(obj)
            if bag is None:
                self._reject(
                    line_no, RejectReason.UNKNOWN_SHAPE, "object lacks the reader's fields"
                )
                continue
            res.read += 1
            self._record(source, line_no, number, bag, i in candidates)
        res.numbered = number

    def _batch(self, unit: RecordBatch) -> None:
        res = self.result
        res.blank = unit.blank
        res.lines = len(unit.records) + unit.blank
        is_candidate = self.worker.scanner.is_candidate
        for line_no, number, bag in unit.records:
            res.read += 1
            raw = orjson.dumps(bag, default=str)
            self._record(unit.source, line_no, number, bag, is_candidate(raw))

    def _reject(self, line: int, reason: RejectReason, message: str) -> None:
        self.result.rejects.append(RejectRow(self.unit.source, line, reason, message))

    def _record(
        self, source: int, line: int, number: int, bag: dict[str, Any], candidate: bool
    ) -> None:
        res = self.result
        keys = self.keys
        tokens: set[Token] = set()
        for key in keys.user_ids:
            value = bag.get(key)
            if value is not None:
                token = user_id_token(value)
                if token is not None:
                    tokens.add(token)
        for key in keys.emails:
            value = bag.get(key)
            if value is not None:
                token = email_token(value)
                if token is not None:
                    tokens.add(token)
        for key in keys.device_ids:
            value = bag.get(key)
            if value is not None:
                token = device_token(value)
                if token is not None:
                    tokens.add(token)
        for key in keys.org_keys:
            value = bag.get(key)
            if value is None:
                continue
            for item in value if isinstance(value, list) else (value,):
                org = normalize_id(item)
                if org is not None:
                    res.org_ids.add(org)
        signature = tuple(sorted(tokens))
        if not any(t.kind is not TokenKind.DEVICE_ID for t in signature):
            res.anonymous += 1
        if self.time_key is not None:
            stamp = bag.get(self.time_key)
            if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
                seconds = stamp / 1000 if stamp > 1e11 else float(stamp)
                if res.time_first is None or seconds < res.time_first:
                    res.time_first = seconds
                if res.time_last is None or seconds > res.time_last:
                    res.time_last = seconds
        paths: list[str] = []
        hits: list[tuple[str, Any]] | None = [] if candidate else None
        self._walk(bag, "", paths, hits)
        shape = tuple(dict.fromkeys(paths)) if self._has_lists else tuple(paths)
        self._has_lists = False
        shape_id = self.shape_ids.get(shape)
        if shape_id is None:
            shape_id = self.shape_ids[shape] = len(res.shapes)
            res.shapes.append(shape)
            self.shape_counts.append(0)
        self.shape_counts[shape_id] += 1
        stats = res.signatures.get(signature)
        if stats is None:
            stats = res.signatures[signature] = SignatureStats()
        stats.records += 1
        stats.shapes.add(shape_id)
        if not stats.country:
            for key in self.worker.config.country_keys:
                code = bag.get(key)
                if isinstance(code, str) and len(code) == 2 and code.isalpha():
                    stats.country = code.upper()
                    break
        if hits:
            scanner = self.worker.scanner
            for path, value in hits:
                for hit in scanner.scan_value(path, value):
                    stats.kinds.add(hit.kind)
                    res.findings.append(
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

    def _walk(
        self, obj: dict[str, Any], prefix: str, paths: list[str], hits: list[tuple[str, Any]] | None
    ) -> None:
        res = self.result
        full = self.full
        samples = res.samples
        scanned = res.scanned_fields
        for key, value in obj.items():
            path = prefix + key if prefix else key
            kind = type(value)
            if kind is str:
                if not value or value in SENTINELS:
                    res.empty_paths.add(path)
                    continue
            elif kind is int or kind is float:
                pass
            elif kind is bool:
                paths.append(path)
                if path not in full:
                    self._sample(samples, full, path, value)
                continue
            elif kind is dict:
                if value:
                    self._walk(value, path + ".", paths, hits)
                else:
                    res.empty_paths.add(path)
                continue
            elif kind is list:
                if value:
                    self._has_lists = True
                    self._walk_list(value, path + "[]", paths, hits)
                else:
                    res.empty_paths.add(path)
                continue
            else:
                res.empty_paths.add(path)
                continue
            paths.append(path)
            res.scanned_values += 1
            if path not in full:
                self._sample(samples, full, path, value)
                scanned.add(path)
            if hits is not None:
                hits.append((path, value))

    def _walk_list(
        self, items: list[Any], path: str, paths: list[str], hits: list[tuple[str, Any]] | None
    ) -> None:
        wrapper: dict[str, Any] = {}
        for item in items:
            if isinstance(item, dict):
                if item:
                    self._walk(item, path + ".", paths, hits)
            elif isinstance(item, list):
                if item:
                    self._walk_list(item, path + "[]", paths, hits)
            else:
                wrapper[""] = item
                self._walk(wrapper, path, paths, hits)

    @staticmethod
    def _sample(samples: dict[str, list[Any]], full: set[str], path: str, value: Any) -> None:
        kept = samples.get(path)
        if kept is None:
            kept = samples[path] = []
        kept.append(value)
        if len(kept) >= SAMPLE_PER_FIELD:
            full.add(path)


def _reader_to_record(name: str) -> Any:
    from breachdesk.sources.registry import get_reader

    return get_reader(name).to_record


def _type_name(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null"
    )


def _json_error(exc: orjson.JSONDecodeError) -> str:
    return f"invalid JSON at column {exc.colno}: {exc.msg}"


def scan_units(units: Iterable[WorkUnit], config: ScanConfig, workers: int) -> Iterator[UnitResult]:
    """Scan ``units`` in order; with several workers, keep a bounded number in flight."""
    if workers <= 1:
        init_worker(config)
        yield from map(scan_unit, units)
        return
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(workers, initializer=init_worker, initargs=(config,)) as pool:
        pending: deque[Any] = deque()
        for unit in units:
            pending.append(pool.apply_async(scan_unit, (unit,)))
            if len(pending) >= workers * 3:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
