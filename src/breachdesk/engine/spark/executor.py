"""What runs inside Spark's executors: the embedded engine's scan over raw lines.

Each Spark partition holds whole lines of one or more file splits, in order. The lines of a
split are cut into blocks and scanned by :func:`breachdesk.engine.scan.scan_with` — the same
code, rules, validators and Hyperscan prefilter as the embedded engine — then merged by
:class:`breachdesk.engine.aggregate.RunAggregate` into one aggregate per split. Line and
record numbers are counted from the split's start; the driver, which learns every split's
line count, makes them absolute. Files that cannot be split by lines (gzip, zip, CSV, paged
JSON) arrive whole and are framed here by the embedded framing.

Two kinds of rows leave a partition: identity pairs (which stay in the cluster for the
grouping and the match) and one pickled aggregate per split (for the driver).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, cast
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from breachdesk.engine.aggregate import RunAggregate, UnitResult
from breachdesk.engine.scan import ScanConfig, Worker, scan_with
from breachdesk.sources.base import Reader
from breachdesk.sources.files import GZIP_MAGIC, InputFile
from breachdesk.sources.framing import LineBlock, frame
from breachdesk.sources.registry import get_reader

PAIR, AGGREGATE = 0, 1

# The rows a partition sends on: identity pairs (kind 0) and split aggregates (kind 1).
OUTPUT_SCHEMA = pa.schema(
    [
        ("kind", pa.int8()),
        ("source", pa.int32()),
        ("part", pa.int64()),  # the split's first byte (0 for a whole file)
        ("ord", pa.int64()),  # the pair's rank within its split, in order of first appearance
        ("signature", pa.string()),
        ("shape", pa.int32()),  # the split's own shape id
        ("records", pa.int64()),
        ("country", pa.string()),
        ("personal", pa.bool_()),
        ("blob", pa.binary()),  # the split's aggregate, pickled
    ]
)
OUTPUT_DDL = (
    "kind byte, source int, part long, ord long, signature string, shape int, records long,"
    " country string, personal boolean, blob binary"
)


def path_key(uri: str) -> str:
    """One spelling of a file's location, however Spark or Hadoop writes it (``file:/a%20b``,
    ``file:///a b``)."""
    parts = urlsplit(uri)
    return f"{parts.scheme or 'file'}://{parts.netloc}{unquote(parts.path)}"


@dataclass(frozen=True)
class WholeEntry:
    """One input inside a file that travels whole: the file itself or one zip member."""

    source: int
    reader: str
    compression: str  # none | gzip | zip
    member: str = ""


@dataclass(frozen=True)
class ScanJob:
    """Everything an executor needs, sent once with the task."""

    config: ScanConfig  # without rule files: their text travels in ``rules``
    rules: tuple[tuple[str, str], ...] = ()  # (file name, text) of the user's rule files
    lines: dict[str, tuple[int, str]] = field(default_factory=dict)  # path key -> source, reader
    whole: dict[str, tuple[WholeEntry, ...]] = field(default_factory=dict)
    block_bytes: int = 4 << 20

    def digest(self) -> str:
        return hashlib.sha256(pickle.dumps((self.config, self.rules))).hexdigest()


_WORKERS: dict[str, Worker] = {}


def _worker(job: ScanJob) -> Worker:
    """The scanner of this Python process for ``job`` (Spark reuses its Python workers, so
    the rules are compiled once per process, not once per task)."""
    key = job.digest()
    found = _WORKERS.get(key)
    if found is None:
        config = job.config
        if job.rules:
            folder = Path(tempfile.mkdtemp(prefix="breachdesk-rules-"))
            paths = []
            for name, text in job.rules:
                path = folder / name
                path.write_text(text, encoding="utf-8")
                paths.append(path)
            config = replace(config, rule_files=tuple(paths))
        _WORKERS.clear()
        found = _WORKERS[key] = Worker(config)
    return found


class _PairRows:
    """Where a split's aggregate puts its units' pairs: re-numbered to the split's shapes and
    ranked in order of first appearance, then sent on as rows."""

    def __init__(self, source: int, part: int) -> None:
        self.source, self.part = source, part
        self.next_ord = 0
        self.ready: list[pa.RecordBatch] = []

    def add_pairs(self, ipc: bytes, shape_remap: Sequence[int]) -> None:
        if not ipc:
            return
        table = pa.ipc.open_stream(ipc).read_all()
        n = table.num_rows
        if n == 0:
            return
        shapes = pc.take(pa.array(shape_remap, pa.int32()), table.column("shape"))
        self.ready.extend(
            pa.table(
                {
                    "kind": pa.array([PAIR] * n, pa.int8()),
                    "source": pa.array([self.source] * n, pa.int32()),
                    "part": pa.array([self.part] * n, pa.int64()),
                    "ord": pa.array(range(self.next_ord, self.next_ord + n), pa.int64()),
                    "signature": table.column("signature"),
                    "shape": shapes,
                    "records": table.column("records"),
                    "country": table.column("country"),
                    "personal": table.column("personal"),
                    "blob": pa.nulls(n, pa.binary()),
                },
                schema=OUTPUT_SCHEMA,
            ).to_batches()
        )
        self.next_ord += n

    def take(self) -> list[pa.RecordBatch]:
        ready, self.ready = self.ready, []
        return ready


class _Split:
    """The aggregate of one split (or whole input), built unit by unit."""

    def __init__(self, source: int, part: int) -> None:
        self.source, self.part = source, part
        self.pairs = _PairRows(source, part)
        self.aggregate = RunAggregate(self.pairs)
        self.lines = 0  # lines scanned so far: the next block starts at line lines + 1
        self.numbered = 0  # record numbers used so far

    def merge(self, unit: UnitResult) -> list[pa.RecordBatch]:
        self.aggregate.merge(unit)
        self.lines += unit.lines
        self.numbered += unit.numbered
        return self.pairs.take()

    def finish(self) -> pa.RecordBatch:
        total = self.aggregate.total
        total.source = self.source
        total.numbered = self.numbered
        total.pairs = b""
        blob = pickle.dumps(total, protocol=pickle.HIGHEST_PROTOCOL)
        return pa.RecordBatch.from_pylist(
            [{"kind": AGGREGATE, "source": self.source, "part": self.part, "blob": blob}],
            schema=OUTPUT_SCHEMA,
        )


def scan_lines(batches: Iterator[pa.RecordBatch], job: ScanJob) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over (value: one raw line, path, part) rows of one partition."""
    worker = _worker(job)
    split: _Split | None = None
    reader = current_path = ""
    pending: list[bytes] = []
    size = 0

    def flush() -> list[pa.RecordBatch]:
        nonlocal pending, size
        if split is None or not pending:
            return []
        data = b"\n".join(pending) + b"\n"
        pending, size = [], 0
        unit = LineBlock(split.source, reader, split.lines + 1, data)
        return split.merge(scan_with(worker, unit))

    for batch in batches:
        values = batch.column(0).to_pylist()
        paths = batch.column(1).to_pylist()
        parts = batch.column(2).to_pylist()
        for value, path, part in zip(values, paths, parts, strict=True):
            if split is None or part != split.part or path != current_path:
                yield from flush()
                if split is not None:
                    yield split.finish()
                current_path = path
                found = job.lines.get(path_key(path))
                if found is None:
                    raise RuntimeError(f"Spark read a file breachdesk did not list: {path}")
                source, reader = found
                split = _Split(source, part)
            pending.append(value)
            size += len(value) + 1
            if size >= job.block_bytes:
                yield from flush()
    yield from flush()
    if split is not None:
        yield split.finish()


def scan_files(batches: Iterator[pa.RecordBatch], job: ScanJob) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over (path, content) rows: inputs that travel whole, framed here."""
    worker = _worker(job)
    max_record = job.config.max_record
    for batch in batches:
        for path, content in zip(
            batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
        ):
            for entry in job.whole.get(path_key(path), ()):
                # never "none": the framing would read a plain file's byte ranges from disk
                compression = entry.compression if entry.compression != "none" else "memory"
                item = InputFile(
                    entry.member or path,
                    Path(path),
                    compression,
                    _Open(content, entry.compression, entry.member),
                )
                split = _Split(entry.source, 0)
                reader = _reader(job.config, entry.reader)
                for unit in frame(item, entry.source, reader, max_record):
                    yield from split.merge(scan_with(worker, unit))
                yield split.finish()


def _reader(config: ScanConfig, name: str) -> Reader:
    """A registered reader, or the run's own (a ``--mapping``), by name."""
    for extra in config.readers:
        if extra.name == name:
            return extra
    return get_reader(name)


@dataclass(frozen=True)
class _Open:
    """Opens an input held in memory the way :mod:`breachdesk.sources.files` opens it on disk."""

    content: bytes
    compression: str
    member: str

    def __call__(self) -> IO[bytes]:
        raw = io.BytesIO(self.content)
        if self.compression == "gzip":
            return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        if self.compression == "zip":
            inner = zipfile.ZipFile(raw).open(self.member)
            head = inner.peek(2)[:2] if hasattr(inner, "peek") else b""
            if head == GZIP_MAGIC:
                return cast(IO[bytes], gzip.GzipFile(fileobj=inner, mode="rb"))
            return inner
        return raw


def unpickle_split(blob: bytes) -> UnitResult:
    """A split's aggregate, as the driver receives it (only this process's own pickles)."""
    found = pickle.loads(blob)  # noqa: S301 - written by this job's executors, not read from input
    assert isinstance(found, UnitResult)
    return found
