"""The scan on Spark, seen from the driver: which inputs Spark reads as lines and which whole,
the executors' job, and the merge of the splits' aggregates in input order.

JSON Lines files (plain) are read by Spark's text source, split across executors; every other
input (gzip, zip members, CSV, paged JSON, JSON arrays) travels whole to one executor, which
frames it as the embedded engine does. Only one aggregate per split comes back; the driver
merges them in input order with :class:`breachdesk.engine.aggregate.RunAggregate`, after
making each split's line numbers absolute from the line counts of the splits before it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial, reduce
from pathlib import Path
from typing import Any

import pyarrow as pa

from breachdesk.engine.aggregate import RunAggregate
from breachdesk.engine.scan import ScanConfig
from breachdesk.engine.spark.executor import (
    OUTPUT_DDL,
    ScanJob,
    WholeEntry,
    path_key,
    scan_files,
    scan_lines,
    unpickle_split,
)
from breachdesk.engine.spark.tables import SparkEngine
from breachdesk.sources.base import Framing

ProgressFn = Callable[[str, int, int | None], None]
log = logging.getLogger("breachdesk.assess")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
BLOCK_BYTES = 4 << 20  # the lines an executor scans at once (the embedded engine's unit size)


@dataclass(frozen=True)
class SparkInput:
    """One input as Spark is to read it."""

    source: int  # its index among the run's inputs
    location: str  # an absolute path or a Hadoop URI: what Spark opens
    reader: str
    framing: Framing
    compression: str  # none | gzip | zip
    member: str = ""  # inside a zip archive

    @property
    def hidden_from_spark(self) -> bool:
        """Whether Spark's file sources would skip the file without a word: they leave out
        names starting with ``.`` or ``_`` (``_`` unless holding ``=``) and ``…._COPYING_``,
        even when given by name."""
        name = self.location.rstrip("/").rsplit("/", 1)[-1]
        return (
            name.startswith(".")
            or (name.startswith("_") and "=" not in name)
            or name.endswith("._COPYING_")
        )

    @property
    def as_lines(self) -> bool:
        return (
            self.framing is Framing.LINES
            and self.compression == "none"
            and not self.hidden_from_spark
        )


def _literal(location: str) -> str:
    """``location`` with Hadoop's glob characters escaped: a file named ``a[1].jsonl`` is that
    file, not a pattern."""
    return "".join("\\" + c if c in "[]{}*?\\" else c for c in location)


def scan_on_spark(
    engine: SparkEngine,
    inputs: Sequence[SparkInput],
    config: ScanConfig,
    report: ProgressFn | None = None,
    block_bytes: int | None = None,
) -> RunAggregate:
    """Scan ``inputs`` in the executors; the run's aggregate, its pairs left in the cluster.
    Each split is scanned in blocks of about ``block_bytes`` (default ``BLOCK_BYTES``)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spark = engine.session
    job = ScanJob(
        config=replace(config, rule_files=()),
        rules=tuple((p.name, Path(p).read_text(encoding="utf-8")) for p in config.rule_files),
        lines={path_key(_uri(i.location)): (i.source, i.reader) for i in inputs if i.as_lines},
        whole=_whole(inputs),
        block_bytes=block_bytes or BLOCK_BYTES,
    )
    frames: list[Any] = []
    lines = sorted({i.location for i in inputs if i.as_lines})
    if lines:
        raw = spark.read.option("lineSep", "\n").text([_literal(p) for p in lines])
        raw = raw.select(
            F.col("value").cast("binary").alias("value"),
            F.col("_metadata.file_path").alias("path"),
            F.col("_metadata.file_block_start").alias("part"),
        )
        frames.append(raw.mapInArrow(partial(scan_lines, job=job), OUTPUT_DDL))
    whole = sorted({i.location for i in inputs if not i.as_lines and not i.hidden_from_spark})
    if whole:
        files = spark.read.format("binaryFile").load([_literal(p) for p in whole])
        frames.append(
            files.select("path", "content").mapInArrow(partial(scan_files, job=job), OUTPUT_DDL)
        )
    hidden = sorted({i.location for i in inputs if i.hidden_from_spark})
    if hidden:  # rare (a vendor's ``.late.jsonl``): read here, sent to an executor whole
        files = spark.createDataFrame(
            pa.table(
                {
                    "path": pa.array([_uri(p) for p in hidden], pa.string()),
                    "content": pa.array([_read(spark, p) for p in hidden], pa.binary()),
                }
            )
        )
        frames.append(files.mapInArrow(partial(scan_files, job=job), OUTPUT_DDL))
    aggregate = RunAggregate(engine)
    if not frames:
        return aggregate
    scanned = reduce(lambda a, b: a.unionByName(b), frames).persist(StorageLevel.MEMORY_AND_DISK)
    engine.attach(scanned)
    if report is not None:
        report("scan", 0, None)
    splits = (
        scanned.where(F.col("kind") == 1)
        .select("source", "part", "blob")
        .orderBy("source", "part")
        .toLocalIterator()
    )
    line_base: dict[int, int] = {}
    received = largest = count = 0
    for row in splits:
        blob = bytes(row["blob"])
        count, received, largest = count + 1, received + len(blob), max(largest, len(blob))
        unit = unpickle_split(blob)
        base = line_base.get(unit.source, 0)
        for finding in unit.findings:
            finding.line += base
        for reject in unit.rejects:
            reject.line += base
        line_base[unit.source] = base + unit.lines
        unit.pairs = engine.split_ref(int(row["source"]), int(row["part"]))
        aggregate.merge(unit)
    missing = sorted({i.source for i in inputs} - set(line_base))
    if missing:  # never a silent loss: an input Spark did not read stops the run
        names = ", ".join(i.location for i in inputs if i.source in missing)
        raise RuntimeError(f"Spark returned nothing for {len(missing)} input(s): {names}")
    if report is not None:
        report("scan", 1, 1)
    log.info(
        "spark: %d split aggregates received, %d bytes (largest %d); %d findings",
        count, received, largest, len(aggregate.total.findings),
    )  # fmt: skip
    return aggregate


def _uri(location: str) -> str:
    """A location as a URI: an absolute path becomes ``file://``; a URI (Hadoop lists local
    files as ``file:/a/b``, with one slash) stays as it is."""
    return location if _SCHEME.match(location) else Path(location).absolute().as_uri()


def _read(spark: Any, location: str) -> bytes:
    if not _SCHEME.match(location):
        return Path(location).read_bytes()
    from breachdesk.engine.spark.hadoop import HadoopStream

    with HadoopStream(spark, location) as stream:
        return stream.read()


def _whole(inputs: Sequence[SparkInput]) -> dict[str, tuple[WholeEntry, ...]]:
    found: dict[str, list[WholeEntry]] = {}
    for i in inputs:
        if not i.as_lines:
            entry = WholeEntry(i.source, i.reader, i.compression, i.member)
            found.setdefault(path_key(_uri(i.location)), []).append(entry)
    return {key: tuple(sorted(v, key=lambda e: e.source)) for key, v in found.items()}
