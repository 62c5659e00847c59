"""The engine's tables in DuckDB: every (identity signature, field shape) pair the scan saw,
grouped into one row per signature with its records, country and exposed categories; then
each signature's personal tokens (``tok``) and device ids (``dev``), which the matcher joins
to the directory and stitches through.

Scanning processes send their pairs as Arrow batches; DuckDB groups them (spilling to the
workspace's private temporary folder when memory runs short), so no per-signature Python
object is ever built in the main process, however many people the export holds.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from breachdesk.domain.identity import Token, TokenKind

if TYPE_CHECKING:
    from breachdesk.directory.model import Directory
    from breachdesk.impact import Impact

log = logging.getLogger("breachdesk.assess")

T = TypeVar("T")

# what a step short of memory is given at most before the run fails (each retry doubles it)
MOST_MEMORY_MB = 4096

PAIRS_SCHEMA = pa.schema(
    [
        ("signature", pa.string()),
        ("shape", pa.int32()),
        ("records", pa.int64()),
        ("country", pa.string()),
        ("personal", pa.bool_()),
    ]
)


@dataclass(frozen=True, slots=True)
class SignatureRow:
    """One distinct identity set, given directly (tests and small callers)."""

    signature: tuple[Token, ...]
    records: int
    mask: int
    country: str


def pairs_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


class DuckDBEngine:
    """The DuckDB engine: a connection holding the run's identity tables."""

    def __init__(
        self, temp_dir: Path | None = None, memory_limit: str = "160MB", ingest_limit: str = "64MB"
    ) -> None:
        # While the scan streams pairs in, nothing is queried: the table goes to the spill
        # folder past ``ingest_limit``, and ``finish`` raises the limit for the grouping.
        self.memory_limit = memory_limit if temp_dir is None else ingest_limit
        self.working_limit = memory_limit
        self.limit = self.memory_limit  # the limit in force
        config: dict[str, str | bool | int | float | list[str]] = {
            "threads": 2,
            "memory_limit": self.memory_limit,
            # hand freed memory back to the system early: the process's footprint, not only
            # DuckDB's buffers, is what a responder's machine has to hold
            "allocator_flush_threshold": "32MB",
            "allocator_bulk_deallocation_flush_threshold": "64MB",
        }
        self.temp_dir = temp_dir
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            temp_dir.chmod(0o700)
            config["temp_directory"] = str(temp_dir)
        import duckdb  # here, not at the top: scanning processes import this module too

        self.con = duckdb.connect(config=config)
        self.con.execute(
            "CREATE TABLE pairs (signature VARCHAR, shape INTEGER, records BIGINT,"
            " country VARCHAR, personal BOOLEAN, ord BIGINT)"
        )
        self._batches = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def add_pairs(self, ipc: bytes, shape_remap: Sequence[int]) -> None:
        """Add one unit's pairs, its local shape ids mapped to the run's."""
        if not ipc:
            return
        table = pa.ipc.open_stream(ipc).read_all()
        if table.num_rows == 0:
            return
        shapes = pc.take(pa.array(shape_remap, pa.int32()), table.column("shape"))
        base = self._batches << 32
        self._batches += 1
        batch = table.set_column(1, "shape", shapes).append_column(
            "ord", pa.array(range(base, base + table.num_rows), pa.int64())
        )
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= 200_000:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        self.con.register("batch", pa.concat_tables(self._pending))
        self.con.execute("INSERT INTO pairs SELECT * FROM batch")
        self.con.unregister("batch")
        self._pending, self._pending_rows = [], 0

    def finish(self, shape_masks: Sequence[int], finding_masks: dict[str, int]) -> int:
        """Group the pairs into ``sig`` (one row per signature) and ``tok`` (its tokens).

        A signature's id is the position of the first pair that named it (each pair has its
        own ``ord``), so ids follow first appearance without sorting millions of rows: a
        window over the grouped rows cost most of this step once it spilled to disk."""
        self._flush()
        con = self.con
        self.set_memory_limit(self.working_limit)
        con.register(
            "shape_masks",
            pa.table(
                {
                    "shape": pa.array(range(len(shape_masks)), pa.int32()),
                    "mask": pa.array(shape_masks, pa.int64()),
                }
            ),
        )
        con.register(
            "finding_masks",
            pa.table(
                {
                    "signature": pa.array(list(finding_masks), pa.string()),
                    "mask": pa.array(list(finding_masks.values()), pa.int64()),
                }
            ),
        )
        self.with_more_memory("grouping", self._group, ("sig",))
        con.execute("DROP TABLE pairs")
        self.with_more_memory("listing tokens", self._tokens, ("all_tok", "tok", "dev"))
        return int(con.execute("SELECT count(*) FROM sig").fetchall()[0][0])

    def with_more_memory(self, what: str, step: Callable[[], T], tables: Sequence[str]) -> T:
        """``step()``; if it runs out of DuckDB's bounded memory, drop the ``tables`` it
        creates and run it again with twice the memory (up to ``MOST_MEMORY_MB``): a long
        scan never ends in an internal error for want of a few megabytes."""
        import duckdb

        while True:
            try:
                return step()
            except duckdb.OutOfMemoryException:
                limit = int(self.limit.removesuffix("MB")) * 2
                if limit > MOST_MEMORY_MB:
                    raise
                log.warning("%s needs more memory than %s: trying %d MB",
                            what, self.limit, limit)  # fmt: skip
                if self.limit == self.working_limit:  # the steps after this one get it too
                    self.working_limit = f"{limit}MB"
                self.set_memory_limit(f"{limit}MB")
                for name in tables:
                    self.con.execute(f"DROP TABLE IF EXISTS {name}")

    def set_memory_limit(self, limit: str) -> None:
        """DuckDB's memory limit (``"160MB"``) for the steps that follow."""
        self.limit = limit
        self.con.execute(f"SET memory_limit = '{limit}'")

    def _group(self) -> None:
        self.con.execute(
            """
            CREATE TABLE sig AS
            WITH grouped AS (
                SELECT p.signature, sum(p.records) AS records, bool_or(p.personal) AS personal,
                       arg_min(p.country, p.ord) FILTER (WHERE p.country <> '') AS country,
                       bit_or(m.mask) AS mask, min(p.ord) AS first_seen
                FROM pairs p JOIN shape_masks m USING (shape)
                GROUP BY p.signature
            )
            SELECT g.first_seen AS sig_id, g.signature, g.records, g.personal,
                   coalesce(g.country, '') AS country, g.mask | coalesce(f.mask, 0) AS mask
            FROM grouped g LEFT JOIN finding_masks f USING (signature)
            """
        )

    def load_rows(self, rows: Sequence[SignatureRow]) -> None:
        """``sig`` and ``tok`` straight from rows (the reference tests' way in)."""
        from breachdesk.engine.aggregate import encode_signature

        personal = [any(t.kind is not TokenKind.DEVICE_ID for t in r.signature) for r in rows]
        self.con.register(
            "rows",
            pa.table(
                {
                    "sig_id": pa.array(range(len(rows)), pa.int64()),
                    "signature": pa.array(
                        [encode_signature(r.signature) for r in rows], pa.string()
                    ),
                    "records": pa.array([r.records for r in rows], pa.int64()),
                    "personal": pa.array(personal, pa.bool_()),
                    "country": pa.array([r.country for r in rows], pa.string()),
                    "mask": pa.array([r.mask for r in rows], pa.int64()),
                }
            ),
        )
        self.con.execute("CREATE TABLE sig AS SELECT * FROM rows")
        self._tokens()

    def _tokens(self) -> None:
        # one pass over the signatures: personal tokens to ``tok``, device ids to ``dev``
        self.con.execute(
            """
            CREATE TEMP TABLE all_tok AS
            SELECT sig_id, t[1] AS kind, t[2] AS value FROM (
                SELECT sig_id, unnest(from_json(signature, '[["VARCHAR"]]')) AS t FROM sig
            )
            """
        )
        self.con.execute(
            "CREATE TABLE tok AS SELECT sig_id, kind, value FROM all_tok WHERE kind <> 'device_id'"
        )
        self.con.execute(
            "CREATE TABLE dev AS SELECT sig_id, value AS device FROM all_tok"
            " WHERE kind = 'device_id'"
        )
        self.con.execute("DROP TABLE all_tok")

    def device_only_records(self) -> tuple[int, int]:
        """Without a directory: (records whose only identifiers are device ids seen in some
        record with a user id or email — tied to a person —, the other records with no user id
        or email — anonymous)."""
        tied, untied = self.con.execute(
            """
            WITH tied_devices AS (
                SELECT DISTINCT d.device FROM dev d JOIN sig s USING (sig_id) WHERE s.personal
            ),
            tied_sigs AS (
                SELECT DISTINCT d.sig_id, true AS tied
                FROM dev d JOIN tied_devices USING (device)
            )
            SELECT coalesce(sum(s.records) FILTER (WHERE t.tied), 0),
                   coalesce(sum(s.records) FILTER (WHERE t.tied IS NULL), 0)
            FROM sig s LEFT JOIN tied_sigs t USING (sig_id) WHERE NOT s.personal
            """
        ).fetchall()[0]
        return int(tied), int(untied)

    def signature_ids(self, signatures: Sequence[str]) -> dict[str, int]:
        if not signatures:
            return {}
        self.con.register("wanted_sigs", pa.table({"signature": pa.array(sorted(set(signatures)))}))
        found = self.con.execute(
            "SELECT s.signature, s.sig_id FROM sig s JOIN wanted_sigs USING (signature)"
        ).fetchall()
        return {str(sig): int(i) for sig, i in found}

    def export_countries(self) -> dict[str, int]:
        """Identities per country the export gave (used when there is no directory)."""
        rows = self.con.execute(
            "SELECT country, count(*) FROM sig WHERE personal AND country <> '' GROUP BY country"
        ).fetchall()
        return {str(c): int(n) for c, n in rows}

    def hold_directory(self, directory: Directory) -> None:
        from breachdesk.engine.match import DIRECTORY_TABLES, hold_directory

        try:  # at the limit in force: before the scan, the one pairs stream in at
            self.with_more_memory(
                "holding the directory",
                lambda: hold_directory(self.con, directory),
                DIRECTORY_TABLES,
            )
        finally:
            self.set_memory_limit(self.memory_limit)

    def match(self, org_ids_seen: set[str], wanted_signatures: Sequence[int]) -> Impact:
        from breachdesk.engine.match import MATCH_TABLES, match_directory

        return self.with_more_memory(
            "matching", lambda: match_directory(self, org_ids_seen, wanted_signatures), MATCH_TABLES
        )

    def close(self) -> None:
        self.con.close()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
