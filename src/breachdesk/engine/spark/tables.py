"""The engine's tables in Spark: the identity pairs the executors made stay in the cluster and
are grouped there into one row per signature (``sig``), its personal tokens (``tok``) and its
device ids (``dev``, which the matcher stitches through).

The grouping states what :class:`breachdesk.engine.tables.DuckDBEngine` does, on a cut of the
input that differs: a pair's place in the input is its split's rank (known once the driver
has every split's aggregate) and its rank within the split, so "first appearance" means the
same in both engines.
"""

from __future__ import annotations

import contextlib
import struct
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from breachdesk.directory.model import Directory
    from breachdesk.impact import Impact

_REF = struct.Struct("<4sq")
_TOKENS = "array<array<string>>"  # an encoded signature: [[kind, value], ...]
_MAGIC = b"sprk"


class SparkEngine:
    """Pairs kept in the cluster; grouped and matched with Spark SQL."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.run = uuid.uuid4().hex[:12]
        self.splits: list[tuple[int, int]] = []  # (source, part) by rank in input order
        self.remaps: list[list[int]] = []  # the split's shape ids -> the run's
        self.scanned: Any = None  # the executors' output (pairs and aggregates), persisted
        self.sig: Any = None
        self.tok: Any = None
        self.dev: Any = None
        self.hashed = False  # whether any signature holds a hashed email
        self.org_ids: frozenset[str] = frozenset()  # the directory's (``hold_directory``)
        self._held: list[Any] = []
        self._views: set[str] = set()

    def view(self, name: str) -> str:
        """A temporary view's name, unique to this run (dropped by ``close``)."""
        found = f"bd_{self.run}_{name}"
        self._views.add(found)
        return found

    def split_ref(self, source: int, part: int) -> bytes:
        """The reference a split's aggregate carries in place of its pairs (next rank)."""
        rank = len(self.splits)
        self.splits.append((source, part))
        self.remaps.append([])
        return _REF.pack(_MAGIC, rank)

    def attach(self, scanned: Any) -> None:
        self.scanned = scanned
        self._held.append(scanned)

    def add_pairs(self, ipc: bytes, shape_remap: Sequence[int]) -> None:
        """A split's pairs are in the cluster already: note how its shapes map to the run's."""
        magic, rank = _REF.unpack(ipc)
        if magic != _MAGIC:
            raise ValueError("the Spark engine takes split references, not pairs")
        self.remaps[rank] = list(shape_remap)

    def finish(self, shape_masks: Sequence[int], finding_masks: dict[str, int]) -> int:
        from pyspark.sql import functions as F

        spark = self.session
        sources: list[int] = []
        parts: list[int] = []
        local: list[int] = []
        base: list[int] = []
        masks: list[int] = []
        for rank, ((source, part), remap) in enumerate(zip(self.splits, self.remaps, strict=True)):
            for shape, run_shape in enumerate(remap):
                sources.append(source)
                parts.append(part)
                local.append(shape)
                base.append(rank << 32)
                masks.append(shape_masks[run_shape])
        shapes = spark.createDataFrame(
            pa.table(
                {
                    "source": pa.array(sources, pa.int32()),
                    "part": pa.array(parts, pa.int64()),
                    "shape": pa.array(local, pa.int32()),
                    "base": pa.array(base, pa.int64()),
                    "mask": pa.array(masks, pa.int64()),
                }
            )
        )
        findings = spark.createDataFrame(
            pa.table(
                {
                    "signature": pa.array(list(finding_masks), pa.string()),
                    "finding_mask": pa.array(list(finding_masks.values()), pa.int64()),
                }
            )
        )
        pairs = (
            self.scanned.where(F.col("kind") == 0)
            .join(F.broadcast(shapes), ["source", "part", "shape"])
            .withColumn("pos", F.col("base") + F.col("ord"))
        )
        with_country = F.when(F.col("country") != "", F.col("pos"))
        grouped = pairs.groupBy("signature").agg(
            F.sum("records").alias("records"),
            F.bool_or("personal").alias("personal"),
            F.min_by("country", with_country).alias("country"),
            F.bit_or("mask").alias("mask"),
            F.min("pos").alias("sig_id"),
        )
        sig = grouped.join(F.broadcast(findings), "signature", "left").select(
            "sig_id",
            "signature",
            F.col("records").cast("long").alias("records"),
            "personal",
            F.coalesce("country", F.lit("")).alias("country"),
            (F.col("mask").bitwiseOR(F.coalesce("finding_mask", F.lit(0)))).alias("mask"),
        )
        self.sig = self.hold(sig)
        # one pass over the signatures: personal tokens to ``tok``, device ids to ``dev``
        tokens = self.hold(
            self.sig.select(
                "sig_id", F.explode(F.from_json("signature", _TOKENS)).alias("t")
            ).select("sig_id", F.col("t")[0].alias("kind"), F.col("t")[1].alias("value"))
        )
        self.tok = tokens.where(F.col("kind") != "device_id")
        self.dev = tokens.where(F.col("kind") == "device_id").select(
            "sig_id", F.col("value").alias("device")
        )
        self.sig.createOrReplaceTempView(self.view("sig"))
        self.tok.createOrReplaceTempView(self.view("tok"))
        self.dev.createOrReplaceTempView(self.view("dev"))
        counted = self.sig.agg(
            F.count(F.lit(1)).alias("n"),
            F.bool_or(F.col("signature").contains('["hashed_email",')).alias("hashed"),
        ).collect()[0]
        self.hashed = bool(counted["hashed"])
        # the scan's output is grouped now; its aggregates went to the driver already
        self.scanned.unpersist()
        return int(counted["n"])

    def hold(self, frame: Any) -> Any:
        from pyspark import StorageLevel

        held = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._held.append(held)
        return held

    def signature_ids(self, signatures: Sequence[str]) -> dict[str, int]:
        if not signatures:
            return {}
        wanted = self.session.createDataFrame(
            pa.table({"signature": pa.array(sorted(set(signatures)), pa.string())})
        )
        rows = self.sig.join(wanted, "signature").select("signature", "sig_id").collect()
        return {str(r["signature"]): int(r["sig_id"]) for r in rows}

    def device_only_records(self) -> tuple[int, int]:
        """Without a directory: (records whose only identifiers are device ids seen in some
        record with a user id or email, the other records with no user id or email)."""
        sig, dev = self.view("sig"), self.view("dev")
        row = self.session.sql(
            f"""
            WITH tied_devices AS (
                SELECT DISTINCT d.device FROM {dev} d JOIN {sig} s ON d.sig_id = s.sig_id
                WHERE s.personal
            ),
            tied_sigs AS (
                SELECT DISTINCT d.sig_id FROM {dev} d JOIN tied_devices t ON d.device = t.device
            )
            SELECT coalesce(sum(CASE WHEN t.sig_id IS NOT NULL THEN s.records END), 0) AS tied,
                   coalesce(sum(CASE WHEN t.sig_id IS NULL THEN s.records END), 0) AS untied
            FROM {sig} s LEFT JOIN tied_sigs t ON s.sig_id = t.sig_id WHERE NOT s.personal
            """  # noqa: S608 - only this run's view names are interpolated
        ).collect()[0]
        return int(row["tied"]), int(row["untied"])

    def export_countries(self) -> dict[str, int]:
        rows = self.sig.where("personal AND country <> ''").groupBy("country").count().collect()
        return {str(r["country"]): int(r["count"]) for r in rows}

    def hold_directory(self, directory: Directory) -> None:
        from breachdesk.engine.spark.match import hold_directory

        hold_directory(self, directory)

    def match(self, org_ids_seen: set[str], wanted_signatures: Sequence[int]) -> Impact:
        from breachdesk.engine.spark.match import match_directory

        return match_directory(self, org_ids_seen, wanted_signatures)

    def close(self) -> None:
        for frame in self._held:
            with contextlib.suppress(Exception):  # a stopped session has nothing to release
                frame.unpersist()
        self._held.clear()
        for name in sorted(self._views):
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(name)
        self._views.clear()
