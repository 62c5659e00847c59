"""The scan: parse every record of a work unit, inventory its fields, extract identities,
and confirm findings where the fast pass fired. Runs in worker processes, one unit at a
time, with a bounded number of units in flight so memory stays flat however large the
export. :mod:`breachdesk.engine.reference` states the same computation one record at a
time; the tests hold the two to the same results.
"""

from __future__ import annotations

import gc
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import chain, compress
from operator import itemgetter, not_
from pathlib import Path
from typing import Any
from unicodedata import normalize

import orjson
import pyarrow as pa

from breachdesk.detect.rules import default_rules
from breachdesk.detect.scanner import Scanner, mask_secret
from breachdesk.domain.identity import (
    DEVICE_PREFIX,
    TokenKind,
    device_token,
    email_token,
    normalize_id,
    user_id_token,
)
from breachdesk.engine.aggregate import (
    SAMPLE_PER_UNIT,
    RawFinding,
    RejectRow,
    Signature,
    UnitResult,
    encode_signature,
)
from breachdesk.engine.tables import PAIRS_SCHEMA, pairs_to_ipc
from breachdesk.sources.base import IdentityKeys, Reader, RejectReason, record_maker
from breachdesk.sources.countries import country_code
from breachdesk.sources.framing import (
    BlankLines,
    LineBlock,
    LineRange,
    RecordBatch,
    Reject,
    WorkUnit,
)
from breachdesk.sources.paths import path_getter, values_getter
from breachdesk.sources.times import bounds
from breachdesk.taxonomy import FindingKind
from breachdesk.workers import process_pool, stop_forkserver

# Values that mean "nothing here" (besides null, "", [] and {}): vendor sentinels
# (Mixpanel's "$direct" referrer, GA4's "(not set)").
SENTINELS = frozenset({"$direct", "(not set)"})


@dataclass(frozen=True)
class ScanConfig:
    keys: dict[str, IdentityKeys]  # per reader, as declared and extended by settings
    hmac_key: bytes
    max_record: int
    rule_files: tuple[Path, ...] = ()
    readers: tuple[Reader, ...] = ()  # readers the registry does not hold (a --mapping)


@dataclass
class Worker:
    """What a scanning process keeps between units: its scanner and the signatures of the
    identity values it has seen (a person's events are spread over the whole export)."""

    config: ScanConfig
    scanner: Scanner = field(init=False)
    identities: dict[tuple[Any, ...], tuple[Signature, bool]] = field(default_factory=dict)
    reader: str = ""

    def __post_init__(self) -> None:
        self.scanner = Scanner(default_rules(self.config.rule_files), self.config.hmac_key)

    def record_maker(self, reader: str) -> Any:
        """The function turning one parsed object into ``reader``'s record."""
        for extra in self.config.readers:
            if extra.name == reader:
                return record_maker(extra)
        return _reader_to_record(reader)

    def identify(self, roles: tuple[str, ...], raw: tuple[Any, ...]) -> tuple[Signature, bool]:
        """The signature of one combination of identity values (hashable), cached."""
        found = self.identities.get(raw)
        if found is None:
            found = self.identities[raw] = self.identify_uncached(roles, raw)
        return found

    def identify_uncached(
        self, roles: tuple[str, ...], raw: tuple[Any, ...]
    ) -> tuple[Signature, bool]:
        keys = self.config.keys[self.reader]
        return identify(roles, raw, keys.namespace, keys.device_when_equal)

    def for_reader(self, reader: str) -> None:
        """Cached signatures hold for one reader's identity keys: start afresh on another."""
        if reader != self.reader:
            self.identities.clear()
            self.reader = reader


_STATE: Worker | None = None


def init_worker(config: ScanConfig) -> None:
    global _STATE
    _STATE = Worker(config)


def scan_unit(unit: WorkUnit) -> UnitResult:
    assert _STATE is not None, "init_worker was not called"
    return scan_with(_STATE, unit)


def scan_with(worker: Worker, unit: WorkUnit) -> UnitResult:
    """One unit's result, scanned with ``worker``'s rules and caches."""
    if isinstance(unit, Reject):
        row = RejectRow(unit.source, unit.line, unit.reason, unit.message)
        return UnitResult(source=unit.source, lines=1, numbered=int(unit.numbered), rejects=[row])
    if isinstance(unit, BlankLines):
        return UnitResult(unit.source, size=unit.size, lines=unit.count, blank=unit.count)
    if isinstance(unit, LineRange):
        unit = unit.read()
    # The scan allocates millions of small, acyclic objects; the cyclic collector would
    # walk every live container again and again for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _UnitScan(worker, unit).run()
    finally:
        if enabled:
            gc.enable()


class _UnitScan:
    """The scan of one unit; its state lives here so the hot loop reads locals.

    A record costs one ``orjson`` parse and a handful of C-level calls (its identity values,
    its non-empty field names, one counter); everything per distinct identity or field shape
    is done once per unit, and only the lines the fast pass reports are confirmed."""

    def __init__(self, worker: Worker, unit: LineBlock | RecordBatch) -> None:
        self.worker = worker
        self.unit = unit
        worker.for_reader(unit.reader)
        config = worker.config
        keys = config.keys[unit.reader]
        # the reader's declared paths, read by getters compiled once per unit
        identity_paths = (*keys.user_ids, *keys.emails, *keys.device_ids)
        self.identity_lookup = values_getter(identity_paths)
        self.lookup = values_getter((*identity_paths, *keys.countries))
        self.org_lookup = values_getter(keys.org_keys)
        plain_orgs = all("." not in p and p != "*" for p in keys.org_keys)
        self.org_keys = frozenset(keys.org_keys) if plain_orgs else None
        self.n_identity = len(identity_paths)
        self.no_identity = (None,) * self.n_identity
        self.no_orgs = (None,) * len(keys.org_keys)
        self.time_get = path_getter(keys.time.path) if keys.time is not None else None
        self.time_unit = keys.time.unit if keys.time is not None else None
        self.identity_roles = (
            *(_USER for _ in keys.user_ids),
            *(_MAIL for _ in keys.emails),
            *(_DEVICE_ROLE for _ in keys.device_ids),
        )
        self.result = UnitResult(source=unit.source)
        self.shape_ids: dict[tuple[str, ...], int] = {}
        self.full: set[str] = set()
        self.sampled_shapes: set[int] = set()  # shapes whose every field has its sample
        # (identity and country values, shape id) -> records, in first-seen order
        self.groups: dict[tuple[Any, int], int] = {}
        self.times: list[Any] = []
        self.raw_orgs: set[str | int | float] = set()
        self.kinds: dict[Signature, set[str]] = {}
        self.hit_records: list[tuple[int, int, dict[str, Any], set[int]]] = []
        # whether a JSON true or false may be among the values: without those bytes in the
        # unit, the check for them (~0.4 µs a record) is skipped
        self.flags_possible = True

    def run(self) -> UnitResult:
        if isinstance(self.unit, LineBlock):
            self._lines(self.unit)
        else:
            self._batch(self.unit)
        res = self.result
        shape_counts = [0] * len(res.shapes)
        # (signature, shape, country) -> its row in the columns below, which hold
        # (signature, shape, records, country, personal) in order of first appearance
        stats: dict[tuple[Signature, int, str], int] = {}
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        sigs, shapes, counts, countries, personal_col = columns
        cache = self.worker.identities
        roles = self.identity_roles
        keys = self.worker.config.keys[self.unit.reader]
        namespace, device_when_equal = keys.namespace, keys.device_when_equal
        n = self.n_identity
        no_identity = self.no_identity
        country_of: dict[tuple[Any, ...], tuple[str, bool]] = {}
        anonymous = unmapped = 0
        for (raw, shape_id), count in self.groups.items():
            shape_counts[shape_id] += count
            if raw.__class__ is _Resolved:
                signature, personal = raw.signature, raw.personal
                country, unknown = raw.country, raw.unmapped
            else:
                ident = raw[:n]
                if ident == no_identity:
                    signature, personal = _NO_IDENTITY, False
                else:
                    found = cache.get(ident)
                    if found is None:
                        found = cache[ident] = identify(roles, ident, namespace, device_when_equal)
                    signature, personal = found
                place = raw[n:]
                known = country_of.get(place)
                if known is None:
                    known = country_of[place] = _country_of(place)
                country, unknown = known
            if unknown:
                unmapped += count
            if not personal:
                anonymous += count
            key = (signature, shape_id, country)
            row = stats.get(key)
            if row is None:
                stats[key] = len(counts)
                sigs.append(signature)
                shapes.append(shape_id)
                counts.append(count)
                countries.append(country)
                personal_col.append(personal)
            else:
                counts[row] += count
        if len(cache) > 65_536:  # bounded: a worker's memory stays flat (~30 MB of keys)
            cache.clear()
        res.anonymous = anonymous
        res.country_unmapped = unmapped
        for shape, count in zip(res.shapes, shape_counts, strict=True):
            res.scanned_values += len(shape) * count
            for path in shape:
                res.present[path] = res.present.get(path, 0) + count
        self._times()
        for value in self.raw_orgs:
            org = normalize_id(value)
            if org is not None:
                res.org_ids.add(org)
        # findings, after the identities: each needs its record's signature
        for line, number, bag, fired in self.hit_records:
            self._confirm(line, number, bag, fired)
        res.pairs = pairs_to_ipc(pa.table(list(columns), schema=PAIRS_SCHEMA))
        res.finding_kinds = {
            sig: {FindingKind(k) for k in kinds} for sig, kinds in self.kinds.items()
        }
        return res

    def _times(self) -> None:
        if self.time_unit is None:
            return
        found = bounds(self.times, self.time_unit)
        if found is not None:
            self.result.time_first, self.result.time_last = found

    def _lines(self, unit: LineBlock) -> None:
        res = self.result
        data = unit.data
        res.size = len(data)
        newlines = data.count(b"\n")
        res.lines = newlines + (0 if data.endswith(b"\n") else 1)
        if data.isspace() or not data:
            res.blank = res.lines  # a block of blank lines costs no line-by-line work
            return
        fired = self.worker.scanner.triggers(data)
        self.flags_possible = b"true" in data or b"false" in data
        # a "\n\n" holds two newlines: with few newlines there is no need to count them
        if newlines > len(data) >> 8 and data.count(b"\n\n") > len(data) >> 8:
            numbered = _non_blank_lines(data)  # mostly blank: skip them without a loop
        else:
            lines = data.split(b"\n")
            if data.endswith(b"\n"):
                lines.pop()
            numbered = enumerate(lines)
        self._records(unit, numbered, fired)

    def _records(
        self, unit: LineBlock, numbered: Iterable[tuple[int, bytes]], fired: dict[int, set[int]]
    ) -> None:
        res = self.result
        self._take(self._parsed(unit, numbered), fired)
        res.read = self._number - len(res.rejects)
        res.numbered = self._number
        res.blank = res.lines - self._number

    _number = 0  # non-blank lines parsed so far (record numbers used)

    def _parsed(
        self, unit: LineBlock, numbered: Iterable[tuple[int, bytes]]
    ) -> Iterator[tuple[int, int, int, dict[str, Any]]]:
        """(line index, line, record number, record) of each line that makes a record; the
        others are rejected on the way."""
        max_record = self.worker.config.max_record
        loads = orjson.loads
        to_record = self.worker.record_maker(unit.reader)
        first = unit.first_line
        number = 0
        try:
            for i, line in numbered:
                if not line or line.isspace():
                    continue
                number += 1
                if len(line) > max_record:
                    self._reject(first + i, RejectReason.TOO_LARGE, f"over {max_record} bytes")
                    continue
                try:
                    obj = loads(line)
                except orjson.JSONDecodeError as exc:
                    try:
                        line.decode("utf-8")
                    except UnicodeDecodeError:
                        self._reject(
                            first + i, RejectReason.INVALID_UTF8, "line is not valid UTF-8"
                        )
                        continue
                    self._reject(first + i, RejectReason.INVALID_JSON, _json_error(exc))
                    continue
                if obj.__class__ is not dict:
                    self._reject(first + i, RejectReason.NOT_AN_OBJECT, f"a JSON {_type_name(obj)}")
                    continue
                bag = to_record(obj)
                if bag is None:
                    self._reject(first + i, RejectReason.UNKNOWN_SHAPE, "lacks the reader's fields")
                    continue
                yield i, first + i, number, bag
        finally:
            self._number = number

    def _batch(self, unit: RecordBatch) -> None:
        res = self.result
        res.blank = unit.blank
        res.lines = len(unit.records) + unit.blank
        res.read = len(unit.records)
        dumped = b"\n".join(orjson.dumps(bag, default=str) for _, _, bag in unit.records)
        fired = self.worker.scanner.triggers(dumped)
        self.flags_possible = b"true" in dumped or b"false" in dumped
        self._take(
            ((i, line_no, number, bag) for i, (line_no, number, bag) in enumerate(unit.records)),
            fired,
        )

    def _reject(self, line: int, reason: RejectReason, message: str) -> None:
        self.result.rejects.append(RejectRow(self.unit.source, line, reason, message))

    def _take(
        self, records: Iterable[tuple[int, int, int, dict[str, Any]]], fired: dict[int, set[int]]
    ) -> None:
        """Inventory ``records`` ((index in the fast pass, line, record number, record)):
        each one's identity and country values and field shape become a key of
        ``self.groups``; the ones the fast pass fired on are kept for confirmation.

        The hot loop of the scan, so everything it reads is a local."""
        lookup = self.lookup
        org_lookup = self.org_lookup
        # plain org keys absent from a record (most events) cost one C-level check
        org_keys = self.org_keys
        no_orgs = self.no_orgs
        raw_orgs = self.raw_orgs
        time_get = self.time_get
        times_append = self.times.append
        shape_ids = self.shape_ids
        shapes = self.result.shapes
        sampled = self.sampled_shapes
        empty_paths = self.result.empty_paths
        hits = self.hit_records
        keys: list[tuple[Any, int]] = []
        keep = keys.append
        isdisjoint = _EMPTY.isdisjoint
        is_empty = _EMPTY.__contains__
        for i, line, number, bag in records:
            raw: Any = lookup(bag)
            if org_keys is None or not bag.keys().isdisjoint(org_keys):
                orgs = org_lookup(bag)
                if orgs != no_orgs:
                    for value in orgs:
                        if value.__class__ is list:
                            raw_orgs.update(item for item in value if type(item) in _ID_TYPES)
                        elif value is not None and type(value) in _ID_TYPES:
                            raw_orgs.add(value)
            if time_get is not None:
                times_append(time_get(bag))
            values = bag.values()
            try:  # an unhashable (nested) value raises: those records are walked
                if isdisjoint(values):
                    shape = tuple(bag)
                else:
                    empty = list(map(is_empty, values))
                    shape = tuple(compress(bag, map(not_, empty)))
                    empty_paths.update(compress(bag, empty))
            except TypeError:
                paths: list[str] = []
                self._has_lists = False
                self._walk(bag, "", paths)
                shape = tuple(dict.fromkeys(paths)) if self._has_lists else tuple(paths)
            shape_id = shape_ids.get(shape)
            if shape_id is None:
                shape_id = shape_ids[shape] = len(shapes)
                shapes.append(shape)
            if shape_id not in sampled:
                self._sample_record(bag, shape, shape_id)
            keep((raw, shape_id))
            hit = fired.get(i)
            if hit is not None:
                hits.append((line, number, bag, hit))
        self._group(keys)

    def _group(self, keys: list[tuple[Any, int]]) -> None:
        """Count the records of each (identity and country values, shape), in first-seen
        order; values that cannot be a dict key (a list or object under an identity or
        country key) are resolved on the spot."""
        if self.flags_possible and bool in set(
            map(type, chain.from_iterable(map(itemgetter(0), keys)))
        ):
            # True == 1 and False == 0 as dict keys: a record with ``distinct_id: true``
            # after one with ``distinct_id: 1`` would count as user "1". A flag is no id (the
            # token functions give none), so it is read as absent, which compares apart.
            keys = [(_without_flags(raw), shape) for raw, shape in keys]
        try:
            self.groups = Counter(keys)
            return
        except TypeError:
            pass
        groups: dict[tuple[Any, int], int] = {}
        for key in keys:
            try:
                groups[key] = groups.get(key, 0) + 1
            except TypeError:
                resolved = (self._resolve(key[0]), key[1])
                groups[resolved] = groups.get(resolved, 0) + 1
        self.groups = groups

    def _resolve(self, raw: tuple[Any, ...]) -> _Resolved:
        n = self.n_identity
        ident = raw[:n]
        if ident == self.no_identity:
            signature, personal = _NO_IDENTITY, False
        else:
            signature, personal = self.worker.identify_uncached(self.identity_roles, ident)
        return _Resolved(signature, personal, *_country_of(raw[n:]))

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

    def _signature(self, bag: dict[str, Any]) -> Signature:
        raw = self.identity_lookup(bag)
        if bool in map(type, raw):
            raw = _without_flags(raw)
        if raw == self.no_identity:
            return _NO_IDENTITY
        try:
            return self.worker.identify(self.identity_roles, raw)[0]
        except TypeError:
            return self.worker.identify_uncached(self.identity_roles, raw)[0]

    def _confirm(self, line: int, number: int, bag: dict[str, Any], fired: set[int]) -> None:
        scanner = self.worker.scanner
        wanted = scanner.wanted(fired, _strings(bag))
        if not wanted:
            return
        signature: Signature | None = None
        findings = self.result.findings
        for path, hit in scanner.scan_record(leaves(bag, ""), wanted):
            if signature is None:
                signature = self._signature(bag)
            self.kinds.setdefault(signature, set()).add(hit.kind.value)
            findings.append(
                RawFinding(
                    source=self.unit.source,
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


_SCALARS = frozenset({str, int, float, bool, type(None)})
_ID_TYPES = frozenset({str, int, float})
# Scalar values that mean "nothing here"; [] and {} are handled by the walk.
_EMPTY = frozenset({None, "", *SENTINELS})
_NO_IDENTITY = encode_signature(())
_DEVICE = TokenKind.DEVICE_ID.value
_USER_ID = TokenKind.USER_ID.value
_EMAIL = TokenKind.EMAIL.value
_DEVICE_PREFIX_LENGTH = len(DEVICE_PREFIX)


_USER, _MAIL, _DEVICE_ROLE = "user", "mail", "device"


def identify(
    roles: tuple[str, ...],
    raw: tuple[Any, ...],
    namespace: str = "",
    device_when_equal: bool = False,
) -> tuple[Signature, bool]:
    """The signature of one combination of identity values, and whether it is personal.

    A list contributes each item. Device ids carry their reader's ``namespace``
    (``"mixpanel:…"``), so devices of different vendors never tie; ``device_when_equal``: a
    user id equal to one of the record's device ids is that device id (PostHog).

    Nearly every record of an export has a combination of its own, so this runs about once
    per record: a string or integer value takes a path that gives what the token
    functions of :mod:`breachdesk.domain.identity` give without calling them (the rest,
    and a string that may be an email or a hashed one under a user-id key, go through
    them); :func:`breachdesk.engine.reference.reference_identify` is the
    plain statement the tests hold this to."""
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    personal = False
    prefix = f"{namespace}:" if namespace else ""
    for role, value in zip(roles, raw, strict=True):
        if value is None:
            continue
        kind = value.__class__
        if kind is str:  # what normalize_id / normalize_email and the token functions do
            text = value.strip()
            if not text:
                continue
            if role is _DEVICE_ROLE:
                append((_DEVICE, prefix + text))
                continue
            if role is _MAIL:
                if text.isascii():  # NFC changes no ASCII text; casefold is lower() there
                    append((_EMAIL, text.lower()))
                else:
                    append((_EMAIL, normalize("NFC", text).casefold()))
                personal = True
                continue
            if text.startswith(DEVICE_PREFIX):
                device = text[_DEVICE_PREFIX_LENGTH:].strip()
                if device:
                    append((_DEVICE, prefix + device))
                continue
            if "@" not in text and len(text) not in (32, 64):  # no email, no hashed email
                append((_USER_ID, text))
                personal = True
                continue
        elif kind is int and role is _USER:
            text = str(value)
            if len(text) not in (32, 64):  # not hexadecimal-shaped
                append((_USER_ID, text))
                personal = True
                continue
        for item in value if kind is list else (value,):
            pair = _token_pair(role, item, prefix)
            if pair is not None:
                append(pair)
                personal = personal or pair[0] != _DEVICE
    if device_when_equal:
        devices = {v for k, v in pairs if k == _DEVICE}
        if devices:
            pairs = [
                (_DEVICE, prefix + v) if k in _ID_KINDS and prefix + v in devices else (k, v)
                for k, v in pairs
            ]
            personal = any(k != _DEVICE for k, _ in pairs)
    count = len(pairs)
    if count == 3:  # a user id given twice (distinct_id and $user_id) and a device id
        first, second, third = pairs
        if first in (second, third):
            pairs, count = [second, third], 2
        elif second == third:
            pairs, count = [first, second], 2
    if count == 2:  # sorted(set(pairs)), without building either
        first, second = pairs
        if first == second:
            pairs = [first]
        elif second < first:
            pairs = [second, first]
    elif count > 2:
        pairs = sorted(set(pairs))
    return orjson.dumps(pairs).decode(), personal


def _token_pair(role: str, item: Any, prefix: str) -> tuple[str, str] | None:
    """One identity value as (kind, value) through the token functions; None if no id."""
    if role is _USER:
        token = user_id_token(item)
    elif role is _MAIL:
        token = email_token(item)
    else:
        token = device_token(item)
    if token is None:
        return None
    if token.kind is TokenKind.DEVICE_ID:
        return (_DEVICE, prefix + token.value)
    return (token.kind.value, token.value)


_ID_KINDS = frozenset({TokenKind.USER_ID.value, TokenKind.HASHED_EMAIL.value})


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A record's identity resolved on the spot (its raw values could not be a dict key)."""

    signature: Signature
    personal: bool
    country: str
    unmapped: bool


def _without_flags(raw: tuple[Any, ...]) -> tuple[Any, ...]:
    """``raw`` with its booleans as None (neither is an id or a country)."""
    return tuple(None if value.__class__ is bool else value for value in raw)


def _country_of(values: tuple[Any, ...]) -> tuple[str, bool]:
    """The first country the values give, as an ISO code, and whether a name was seen that
    maps to none (counted, never guessed)."""
    unmapped = False
    for value in values:
        if type(value) is str:
            code = country_code(value)
            if code:
                return code, False
            unmapped = unmapped or code is None
    return "", unmapped


_NON_BLANK = re.compile(rb"[^\n]+")


def _non_blank_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line index, line) of the lines that are not empty: a block of mostly blank lines
    costs one C-level search per line that holds something."""
    count = data.count
    line = 0
    pos = 0
    for match in _NON_BLANK.finditer(data):
        start = match.start()
        line += count(b"\n", pos, start)
        pos = start
        yield line, match.group()


def _strings(bag: dict[str, Any]) -> Iterator[str]:
    """A record's keys (as ``"key":``) and string values, for the decoding triggers."""
    stack: list[Any] = [bag]
    while stack:
        item = stack.pop()
        if item.__class__ is dict:
            for key, value in item.items():
                yield f'"{key}":'
                stack.append(value)
        elif item.__class__ is list:
            stack.extend(item)
        elif item.__class__ is str:
            yield item


def leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of every non-empty scalar under ``value``, list items included."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif kind is list:
        for item in value:
            yield from leaves(item, path + "[]")
    elif value is not None and value != "" and not (kind is str and value in SENTINELS):
        yield path, value


def _reader_to_record(name: str) -> Any:
    from breachdesk.sources.registry import get_reader

    return record_maker(get_reader(name))


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
    # Workers start from a small, clean process (not a copy of this one, which may already
    # hold a directory of millions of users). A worker that dies breaks the pool with an
    # error instead of leaving its unit unanswered.
    try:
        with process_pool(workers, init_worker, (config,), ["breachdesk.engine.scan"]) as pool:
            pending: deque[Future[UnitResult]] = deque()
            for unit in units:
                pending.append(pool.submit(scan_unit, unit))
                if len(pending) >= workers * 3:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        stop_forkserver()  # what follows (the match) has the memory it held
