"""Benchmark: what the scan's per-record work costs in Python today, and what the same work
costs in DuckDB's JSON functions, on a real-shaped Mixpanel web export (issue 11, item 2:
choose and measure a native per-record path).

    .venv/bin/python benchmarks/native_records.py --events /tmp/bd-web/web-1m.jsonl

The export is the one ``assess_web.py`` builds (every event with a URL, a referrer, a device
id and browser fields). All in this one process, CPU seconds of every thread:

1. ``read_json``: DuckDB parsing every record into a table (the floor ``assess_web.py``
   compares with);
2. ``scan``: the embedded engine's scan of every 4 MiB block (``engine.scan.scan_with``,
   one process), fast pass and confirmation included;
3. ``per-record``: the same scan with the fast pass switched off, so only what every record
   costs is left: the ``orjson`` parse, the reader's record, identity and country values,
   organization ids, the time, the non-empty field names and the grouping;
4. ``duckdb lines``: each line as text (``read_csv`` with no delimiter and no quoting, so
   none of ``read_json``'s schema inference), ``json_valid``, the reader's identity,
   country and organization values (``json_extract_string`` at the declared paths), the
   record's keys (``json_keys``) and the names of keys holding an empty value (one RE2
   pass), grouped per (values, keys, empties) with each group's count and first line.

Then checks 4 against 3 on this file: the same non-empty field names with the same record
counts, and the same records per identity signature (the DuckDB path's values signed by the
scan's own ``identify``) — a measurement of a path
that gives different answers would be worthless. What 4 leaves to Python is one step per
group (the signature of an identity combination, a shape's id), where 3 does one per record.
Heavy on large files: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc

from breachdesk.engine import scan
from breachdesk.sources.framing import LineBlock
from breachdesk.sources.registry import get_reader, readers

READER = "mixpanel.events"
BLOCK = 4 << 20


def _quiet() -> duckdb.DuckDBPyConnection:
    """A connection that prints no progress bar between the figures."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def cpu() -> float:
    """CPU seconds of this process, every thread (DuckDB's included)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def timed(name: str, records: int, work: Callable[[], Any]) -> tuple[float, Any]:
    start, wall = cpu(), time.perf_counter()
    result = work()
    seconds = cpu() - start
    rate = records / seconds if seconds else float("inf")
    print(
        f"  {name:<14} CPU {seconds:7.2f} s  wall {time.perf_counter() - wall:7.2f} s  "
        f"{seconds / records * 1e6:6.2f} µs/record  {rate:12,.0f} records/s",
        flush=True,
    )
    return seconds, result


def blocks(path: Path, limit: int) -> Iterator[tuple[int, bytes]]:
    """(first line, data) of whole-line blocks of about 4 MiB, the first ``limit`` lines."""
    first = 0
    rest = b""
    with path.open("rb") as fh:
        while first < limit:
            chunk = fh.read(BLOCK)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            lines = data.count(b"\n")
            if first + lines > limit:
                data = b"".join(line + b"\n" for line in data.split(b"\n")[: limit - first])
                lines = limit - first
            yield first, data
            first += lines
    if rest and first < limit:
        yield first, rest


def _config() -> scan.ScanConfig:
    return scan.ScanConfig(
        keys={r.name: r.keys for r in readers()}, hmac_key=b"k" * 32, max_record=1 << 24
    )


def _fold(result: Any, shapes: Counter[Any], signatures: Counter[Any]) -> None:
    """Add one unit's records per shape and per signature."""
    assert not result.rejects, result.rejects[:3]
    pairs = pa.ipc.open_stream(result.pairs).read_all().to_pydict()
    for signature, shape_id, n in zip(
        pairs["signature"], pairs["shape"], pairs["records"], strict=True
    ):
        shapes[frozenset(result.shapes[shape_id])] += n
        signatures[signature] += n


def python_scan(path: Path, limit: int, fast_pass: bool) -> tuple[Counter[Any], Counter[Any]]:
    """The embedded engine's scan over the file's blocks in this process; returns the
    records per shape (as a set of field names) and per identity signature."""
    worker = scan.Worker(_config())
    if not fast_pass:
        worker.scanner.triggers = lambda data: {}  # type: ignore[method-assign]
    shapes: Counter[Any] = Counter()
    signatures: Counter[Any] = Counter()
    for first, data in blocks(path, limit):
        _fold(scan.scan_with(worker, LineBlock(0, READER, first, data)), shapes, signatures)
    return shapes, signatures


def duckdb_lines(path: Path, limit: int) -> tuple[Counter[Any], Counter[Any], dict[str, float]]:
    """Per (identity values, non-empty field names): records, first line and time bounds,
    computed by DuckDB over the flat records; records with a nested value (an object or a
    list under a field, which a real path would also leave to Python) go through the scan;
    then the groups are folded per shape and per identity signature in Python."""
    keys = get_reader(READER).keys
    identity = [*keys.user_ids, *keys.emails, *keys.device_ids]
    declared = [*identity, *keys.countries, *keys.org_keys]
    when = keys.time.path if keys.time is not None else "time"
    paths = ", ".join("'$.properties.\"" + p.replace('"', '\\"') + "\"'" for p in declared)
    empty = r'"([^"\\]*)":(?:""|null|\[\]|\{\}|"\$direct"|"\(not set\)")'
    lines = (
        f"read_csv('{path}', columns={{'line': 'VARCHAR'}}, delim=E'\\x01', quote='', "
        f"escape='', header=false, auto_detect=false, max_line_size={1 << 24})"
    )
    numbered = (
        f"SELECT line, row_number() OVER () AS rn, "
        f"len(regexp_extract_all(line, ':\\s*[\\[{{]')) > 1 AS nested FROM {lines} LIMIT {limit}"
    )
    # one pass: the line's number, whether it nests (a real path leaves those to Python),
    # and per flat line its values, keys and the names of keys holding an empty value; the
    # lambda reads the empties computed once per line, not a regular expression per key
    sql = f"""
        SELECT v, list_sort(list_filter(k, lambda x: NOT list_contains(e, x))) AS s,
               count(*) AS n, min(rn) AS first, min(t) AS t0, max(t) AS t1
        FROM (
            SELECT json_extract_string(line, [{paths}]) AS v,
                   TRY_CAST(json_extract_string(line, '$.properties."{when}"') AS DOUBLE) AS t,
                   json_keys(line, '$.properties') AS k,
                   regexp_extract_all(line, '{empty}', 1) AS e,
                   rn
            FROM ({numbered}) WHERE NOT nested AND json_valid(line)
        )
        GROUP BY ALL
    """
    con = _quiet()
    start = cpu()
    table = con.sql(sql).to_arrow_table()
    nested = [
        row[0]
        for row in con.execute(f"SELECT line FROM ({numbered}) WHERE nested ORDER BY rn").fetchall()
    ]
    split = {"duckdb": cpu() - start, "groups": table.num_rows, "nested": len(nested)}
    start = cpu()
    groups = zip(*(table.column(c).to_pylist() for c in ("v", "s", "n")), strict=True)
    roles = (
        *(scan._USER for _ in keys.user_ids),
        *(scan._MAIL for _ in keys.emails),
        *(scan._DEVICE_ROLE for _ in keys.device_ids),
    )
    shapes: Counter[Any] = Counter()
    signatures: Counter[Any] = Counter()
    known: dict[tuple[Any, ...], str] = {}
    for values, names, n in groups:
        shapes[frozenset((*names, "event"))] += n
        raw = tuple(values[: len(identity)])
        signature = known.get(raw)
        if signature is None:
            signature = known[raw] = scan.identify(
                roles, raw, keys.namespace, keys.device_when_equal
            )[0]
        signatures[signature] += n
    if nested:
        data = "\n".join(nested).encode() + b"\n"
        _fold(scan.scan_with(scan.Worker(_config()), LineBlock(0, READER, 0, data)), shapes,
              signatures)  # fmt: skip
    split["python"] = cpu() - start
    return shapes, signatures, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=Path, required=True, help="a Mixpanel web export")
    parser.add_argument("--limit", type=int, default=0, help="only the first N lines")
    args = parser.parse_args()
    path: Path = args.events
    with path.open("rb") as fh:
        total = sum(buf.count(b"\n") for buf in iter(lambda: fh.read(1 << 24), b""))
    limit = min(args.limit or total, total)
    print(f"{path} — {limit:,} records, {path.stat().st_size / 1e6:,.0f} MB", flush=True)

    def read_json() -> int:
        # every column materialised, as assess_web.py measures it: a bare count(*) would let
        # DuckDB skip parsing the values, a floor no scan could be compared with
        con = _quiet()
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_json('{path}', format='newline_delimited', "
            f"ignore_errors=true) LIMIT {limit}"
        )
        return int(con.execute("SELECT count(*) FROM t").fetchone()[0])  # type: ignore[index]

    floor, _ = timed("read_json", limit, read_json)
    full, _ = timed("scan", limit, lambda: python_scan(path, limit, fast_pass=True))
    per_record, (py_shapes, py_signatures) = timed(
        "per-record", limit, lambda: python_scan(path, limit, fast_pass=False)
    )
    native, (db_shapes, db_signatures, split) = timed(
        "duckdb lines", limit, lambda: duckdb_lines(path, limit)
    )
    same = py_shapes == db_shapes and py_signatures == db_signatures
    for name, py, db in [
        ("shape", py_shapes, db_shapes),
        ("signature", py_signatures, db_signatures),
    ]:
        differ = [k for k in py.keys() | db.keys() if py[k] != db[k]]
        for k in differ[:3]:
            print(
                f"  {name} differs: Python {py[k]}, DuckDB {db[k]}: {sorted(k) if name == 'shape' else k}"
            )
    print(
        f"  shapes: Python {len(py_shapes):,}, DuckDB {len(db_shapes):,}; identity signatures: "
        f"Python {len(py_signatures):,}, DuckDB {len(db_signatures):,}; the same, with the same "
        f"records each: {same}"
    )
    print(
        f"  duckdb lines: DuckDB CPU {split['duckdb']:.2f} s ({split['groups']:,.0f} groups for "
        f"{limit:,} records, {split['nested']:,.0f} nested records left to the scan), Python "
        f"CPU {split['python']:.2f} s (one step per group, and the nested records)"
    )
    print(
        f"  ratio to read_json (CPU): scan {full / floor:.1f}×, per-record {per_record / floor:.1f}×,"
        f" duckdb lines {native / floor:.1f}×"
    )
    if not same:
        raise SystemExit("the DuckDB path does not give the scan's shapes on this file")


if __name__ == "__main__":
    main()
