"""Recognising an input's shape from its content and cutting it into work units.

JSON Lines files are cut into blocks of whole lines (scanned in parallel); paged JSON and
CSV are framed here into records that keep their physical line and record number. A
malformed record becomes a :class:`Reject` with its line and reason; nothing is dropped
silently.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO, Any

import orjson

from breachdesk.sources.base import Framing, Reader, RejectReason, declared, record_maker
from breachdesk.sources.files import InputFile
from breachdesk.sources.registry import readers

BOM = codecs.BOM_UTF8
HEAD_BYTES = 256 * 1024
BLOCK_BYTES = 4 * 1024 * 1024
_PAGED = re.compile(rb'\A\s*\{\s*"(page|page_size|session_id|status|total|results|computed_at)"')


@dataclass(frozen=True, slots=True)
class Reject:
    source: int
    line: int
    reason: RejectReason
    message: str
    numbered: bool = False  # takes a record number (a JSON line does; a CSV row has its own)


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Whole JSON lines of one file; the worker parses and numbers them."""

    source: int
    reader: str
    first_line: int
    data: bytes


@dataclass(frozen=True, slots=True)
class LineRange:
    """Whole JSON lines of a plain file, as a byte range the worker reads itself."""

    source: int
    reader: str
    path: str
    start: int
    length: int
    first_line: int

    def read(self) -> LineBlock:
        with open(self.path, "rb") as fh:
            data = os.pread(fh.fileno(), self.length, self.start)
        return LineBlock(self.source, self.reader, self.first_line, data)


@dataclass(frozen=True, slots=True)
class BlankLines:
    """Lines holding only whitespace, counted where they were read: a stream of blank lines
    (a tiny gzip can hold gigabytes of them) is never shipped or split line by line."""

    source: int
    first_line: int
    count: int
    size: int


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Records already framed: (physical line, record number, property bag)."""

    source: int
    reader: str
    records: list[tuple[int, int, dict[str, Any]]]
    blank: int = 0


WorkUnit = LineBlock | LineRange | RecordBatch | Reject | BlankLines


@dataclass(frozen=True, slots=True)
class Recognised:
    reader: Reader | None
    empty: bool
    reason: str


def recognise(item: InputFile, extra: Sequence[Reader] = ()) -> Recognised:
    """Which reader fits this input, judged from its first bytes; ``extra`` readers (a
    ``--mapping``) are tried first."""
    with item.open() as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith(BOM):
        head = head[len(BOM) :]
    if not head.strip():
        return Recognised(None, True, "empty")
    if b"\x00" in head[:4096]:
        return Recognised(None, False, "binary content, not a known export")
    candidates = [*extra, *readers()]
    if _PAGED.match(head):
        for reader in candidates:
            if reader.framing is Framing.DOCUMENT and document_key(reader) == "results":
                return Recognised(reader, False, "")
    stripped = head.lstrip()
    if stripped.startswith((b"{", b"[")):
        # JSON Lines first: a file whose first line is a malformed "[1, 2]" is still lines
        objects: list[Any] = []
        for line in head.split(b"\n")[:50]:
            try:
                objects.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        for reader in candidates:
            if reader.framing is Framing.LINES and reader.sniff(objects):
                return Recognised(reader, False, "")
    if stripped.startswith(b"["):
        try:
            first, _ = json.JSONDecoder().raw_decode(
                stripped[1:].decode("utf-8", errors="replace").lstrip()
            )
        except ValueError:
            first = None
        for reader in candidates:
            if (
                reader.framing is Framing.DOCUMENT
                and document_key(reader) is None
                and reader.to_record(first) is not None
            ):
                return Recognised(reader, False, "")
        return Recognised(None, False, "JSON array of no known shape")
    if stripped.startswith(b"{"):
        return Recognised(None, False, f"JSON of no known shape (not {_known(candidates)})")
    first_line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    header = next(csv.reader([first_line], delimiter=csv_delimiter(first_line)), [])
    for reader in candidates:
        if reader.framing is Framing.CSV and reader.sniff([header]):
            return Recognised(reader, False, "")
    return Recognised(None, False, "no known shape (not JSON Lines, paged JSON or an export CSV)")


def _known(candidates: Sequence[Reader]) -> str:
    vendors = dict.fromkeys(r.name.split(".")[0] for r in candidates)
    return ", ".join(vendors) + " export lines"


def frame(item: InputFile, source: int, reader: Reader, max_record: int) -> Iterator[WorkUnit]:
    """Cut one input into work units for the scan."""
    with item.open() as fh:
        if reader.framing is Framing.LINES:
            path = item.path if item.compression == "none" else None
            yield from _line_units(fh, source, reader.name, max_record, path)
        elif reader.framing is Framing.DOCUMENT:
            yield from _document(fh, source, reader, max_record)
        else:
            yield from _csv_rows(fh, source, reader, max_record)


def _line_units(
    fh: IO[bytes], source: int, reader: str, max_record: int, path: Path | None
) -> Iterator[WorkUnit]:
    """Cut JSON Lines into units of whole lines.

    With ``path`` (a plain file) a unit is only a byte range the scanning process reads
    itself, so the data never travels between processes; otherwise it carries the lines.
    """
    pos = 0  # offset of the next byte read
    start = 0  # offset where the lines not yet cut begin
    pending = 0  # bytes read since ``start`` (no newline among them)
    pieces: list[bytes] = []  # those bytes, when the unit must carry its data
    line_no = 1
    skipping = False  # inside a line already rejected as too large
    first = True
    while buf := fh.read(BLOCK_BYTES):
        base = pos
        pos += len(buf)
        if first:
            first = False
            if buf.startswith(BOM):
                buf, base = buf[len(BOM) :], base + len(BOM)
                start = base
        if skipping:
            cut = buf.find(b"\n")
            if cut < 0:
                continue
            buf, base = buf[cut + 1 :], base + cut + 1
            start, pending, pieces, line_no, skipping = base, 0, [], line_no + 1, False
        cut = buf.rfind(b"\n")
        if cut < 0:
            pending += len(buf)
            if path is None:
                pieces.append(buf)
            if pending > max_record:
                yield Reject(
                    source, line_no, RejectReason.TOO_LARGE, f"over {max_record} bytes", True
                )
                pending, pieces, skipping = 0, [], True
            continue
        newlines = buf.count(b"\n", 0, cut + 1)
        if path is None:
            chunk = b"".join([*pieces, buf[: cut + 1]])
            if chunk.isspace():
                yield BlankLines(source, line_no, newlines, len(chunk))
            else:
                yield LineBlock(source, reader, line_no, chunk)
        else:
            yield LineRange(source, reader, str(path), start, pending + cut + 1, line_no)
        line_no += newlines
        start = base + cut + 1
        pending = len(buf) - cut - 1
        pieces = [buf[cut + 1 :]] if path is None and pending else []
    if skipping or not pending:
        return
    if pending > max_record:
        yield Reject(source, line_no, RejectReason.TOO_LARGE, f"over {max_record} bytes", True)
    elif path is None:
        yield LineBlock(source, reader, line_no, b"".join(pieces))
    else:
        yield LineRange(source, reader, str(path), start, pending, line_no)


MAX_DOCUMENT_BYTES = 1 << 30


def _document(fh: IO[bytes], source: int, reader: Reader, max_record: int) -> Iterator[WorkUnit]:
    raw = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        # one JSON document is parsed whole; past this size it is refused, not half-read
        message = "one JSON document over 1 GiB: split it or convert it to JSON Lines"
        yield Reject(source, 1, RejectReason.TOO_LARGE, message)
        return
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        yield Reject(source, line, RejectReason.INVALID_UTF8, "the page is not valid UTF-8")
        return
    records: list[tuple[int, int, dict[str, Any]]] = []
    to_record = record_maker(reader)
    try:
        for line, number, obj in _items(text, document_key(reader)):
            if not isinstance(obj, dict):
                yield Reject(source, line, RejectReason.NOT_AN_OBJECT, "element is not an object")
                continue
            bag = to_record(obj)
            if bag is None:
                yield Reject(source, line, RejectReason.UNKNOWN_SHAPE, "lacks the reader's fields")
                continue
            records.append((line, number, bag))
            if len(records) >= 5000:
                yield RecordBatch(source, reader.name, records)
                records = []
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        yield Reject(source, line, RejectReason.INVALID_JSON, f"page is not valid JSON: {exc}")
    if records:
        yield RecordBatch(source, reader.name, records)


_WS = re.compile(r"\s*")


def document_key(reader: Reader) -> str | None:
    """Where a document reader's records are: a top-level key, or None for a bare array."""
    return getattr(reader, "document_key", "results")


def _items(text: str, key: str | None) -> Iterator[tuple[int, int, Any]]:
    """(line, record number, value) of each element of the document's record array: the
    top-level array itself, or the array under ``key`` of the top-level object."""
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    counter = _LineCounter(text)
    if key is None:
        if text[pos : pos + 1] != "[":
            raise json.JSONDecodeError("expected an array", text, pos)
        yield from _array(text, pos, decoder, counter)
        return
    if text[pos : pos + 1] != "{":
        raise json.JSONDecodeError("expected an object", text, pos)
    pos += 1
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == "}":
            return
        name, pos = decoder.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] != ":":
            raise json.JSONDecodeError("expected ':'", text, pos)
        pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        if name == key and text[pos : pos + 1] == "[":
            end = yield from _array(text, pos, decoder, counter)
            pos = end
        else:
            _, pos = decoder.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == ",":
            pos += 1


class _LineCounter:
    """Line numbers of increasing offsets, counted once."""

    def __init__(self, text: str) -> None:
        self.text, self.line, self.pos = text, 1, 0

    def at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _array(
    text: str, pos: int, decoder: json.JSONDecoder, counter: _LineCounter
) -> Generator[tuple[int, int, Any], None, int]:
    """Elements of the array starting at ``pos`` (its ``[``); returns the offset after it."""
    pos += 1
    number = 0
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == "]":
            return pos + 1
        line = counter.at(pos)
        value, pos = decoder.raw_decode(text, pos)
        number += 1
        yield line, number, value
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == ",":
            pos += 1


def csv_delimiter(header_line: str) -> str:
    """The delimiter of a CSV export, from its header: comma, semicolon (spreadsheets in
    many European locales), tab or pipe — whichever splits the header the most."""
    return max(",;\t|", key=lambda d: (header_line.count(d), d == ","))


def _csv_rows(fh: IO[bytes], source: int, reader: Reader, max_record: int) -> Iterator[WorkUnit]:
    bad_lines: list[int] = []
    counter = {"line": 0}

    def decoded() -> Iterator[str]:
        for raw in fh:
            counter["line"] += 1
            if counter["line"] == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                bad_lines.append(counter["line"])
                yield raw.decode("utf-8", errors="replace")

    csv.field_size_limit(max(max_record, 131072))
    lines = decoded()
    first = next(lines, None)
    if first is None:
        return
    rows = csv.reader(chain([first], lines), delimiter=csv_delimiter(first))
    try:
        header = next(rows)
    except StopIteration:
        return
    canonical = declared(reader, "canonical_column") or str.strip
    columns = [canonical(h) for h in header]
    to_record = record_maker(reader)
    records: list[tuple[int, int, dict[str, Any]]] = []
    number = blank = 0
    last = rows.line_num
    while True:
        start = last + 1
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            last = rows.line_num
            number += 1
            yield Reject(source, start, RejectReason.WRONG_FIELD_COUNT, f"unparsable row: {exc}")
            continue
        last = rows.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            blank += 1
            continue
        number += 1
        if bad_lines and bad_lines[-1] >= start:
            yield Reject(source, start, RejectReason.INVALID_UTF8, "row is not valid UTF-8")
            continue
        if len(row) != len(columns):
            yield Reject(
                source,
                start,
                RejectReason.WRONG_FIELD_COUNT,
                f"{len(row)} fields, header has {len(columns)}",
            )
            continue
        if sum(len(c) for c in row) > max_record:
            yield Reject(source, start, RejectReason.TOO_LARGE, f"over {max_record} bytes")
            continue
        bag = to_record(dict(zip(columns, row, strict=True)))
        if bag is None:
            yield Reject(source, start, RejectReason.UNKNOWN_SHAPE, "row has no known shape")
            continue
        records.append((start, number, bag))
        if len(records) >= 5000:
            yield RecordBatch(source, reader.name, records, blank)
            records, blank = [], 0
    if records or blank:
        yield RecordBatch(source, reader.name, records, blank)
