"""Measurement: what each way of doing the scan's per-record work costs, in CPU µs a record.

    .venv/bin/python benchmarks/parse_paths.py /tmp/bd-web/web-1m.jsonl [--mb 200]

On the first --mb megabytes of a JSON Lines export (``assess_web.py`` builds one), one
thread each, CPU time (fair on a shared machine):
- DuckDB over the lines as text (no schema inference): ``json_valid``; seven identity, org,
  time and country paths in one ``json_extract_string``; ``json_keys`` of the properties; the
  non-empty field names (a ``MAP(VARCHAR, JSON)`` transform, filtered);
- ``pyarrow.json.read_json`` of each 8 MB block (schema inferred per block);
- ``orjson.loads`` per line, and of a whole block made one array;
- breachdesk's scan of the same blocks (one process, every stage of a unit).
"""

from __future__ import annotations

import argparse
import io
import resource
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from breachdesk.engine.scan import ScanConfig, Worker, scan_with
from breachdesk.sources.framing import LineBlock
from breachdesk.sources.registry import readers

PATHS = ["distinct_id", "$user_id", "$email", "$device_id", "org_id", "time", "mp_country_code"]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(name: str, records: int, fn: Callable[[], object]) -> None:
    start = cpu()
    fn()
    spent = cpu() - start
    print(f"{name:58} {spent:7.2f} s {spent / records * 1e6:7.2f} µs/record", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with args.path.open("rb") as fh:
        data = fh.read(args.mb * 1_000_000)
    data = data[: data.rfind(b"\n") + 1]
    blocks = []
    pos = 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + (8 << 20)) + 1
        blocks.append(data[pos:end])
        pos = end
    lines = pc.split_pattern(pa.array([data[:-1]], pa.large_binary()), b"\n")[0].values
    table = pa.table({"line": lines.cast(pa.large_string())})
    n = table.num_rows
    print(f"{n:,} records, {len(data) / 1e6:.0f} MB, {len(blocks)} blocks")
    con = duckdb.connect(config={"threads": 1})
    con.register("b", table)

    def sql(query: str) -> Callable[[], object]:
        return lambda: con.execute(query).fetchall()

    props = ", ".join(f"'$.properties.{p}'" for p in PATHS)
    timed("duckdb json_valid", n, sql("SELECT count(*) FILTER (WHERE json_valid(line)) FROM b"))
    timed(
        "duckdb json_extract_string, 7 paths in one call",
        n,
        sql(f"SELECT count(v[1]) FROM (SELECT json_extract_string(line, [{props}]) v FROM b)"),
    )
    timed(
        "duckdb json_keys of the properties",
        n,
        sql("SELECT count(DISTINCT k) FROM (SELECT json_keys(line, '$.properties') k FROM b)"),
    )
    timed(
        "duckdb non-empty field names (MAP transform + filter)",
        n,
        sql(
            """SELECT count(DISTINCT k) FROM (SELECT list_sort(list_transform(list_filter(
            map_entries(json_transform(line->'$.properties', '"MAP(VARCHAR, JSON)"')),
            lambda x: x.value NOT IN ('null', '""', '[]', '{}', '"$direct"')),
            lambda x: x.key)) k FROM b)"""
        ),
    )

    def arrow() -> None:
        for block in blocks:
            options = pj.ReadOptions(use_threads=False, block_size=len(block) + 1)
            pj.read_json(io.BytesIO(block), read_options=options)

    timed("pyarrow.json.read_json per 8 MB block", n, arrow)

    def per_line() -> None:
        for block in blocks:
            for line in block.split(b"\n"):
                if line:
                    orjson.loads(line)

    timed("orjson.loads per line (with the split)", n, per_line)

    def as_array() -> None:
        for block in blocks:
            orjson.loads(b"[" + block[:-1].replace(b"\n", b",") + b"]")

    timed("orjson.loads of a block made one array", n, as_array)
    config = ScanConfig(
        keys={r.name: r.keys for r in readers()},
        hmac_key=b"k" * 32,
        max_record=1 << 20,
    )
    worker = Worker(config)

    def scan() -> None:
        for block in blocks:
            scan_with(worker, LineBlock(0, "mixpanel.events", 1, block))

    timed("breachdesk scan of the blocks (one process)", n, scan)


if __name__ == "__main__":
    main()
