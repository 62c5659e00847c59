"""Benchmark: each reader's rows/s in breachdesk assess against DuckDB parsing the same file.

    .venv/bin/python benchmarks/readers.py --events 1 --users 100000 --work /tmp/bd-readers
    .venv/bin/python benchmarks/assess.py --readers --events 1      (the same, from assess.py)

For each vendor (mixpanel, segment, amplitude, posthog, ga4) it builds once, with the demo's
generators, one plain JSON Lines file of --events million events in that vendor's documented
shape (the demo's containers — S3 gzip, zip of gzip — are left out: both sides read the same
uncompressed file) and a directory of --users users. Then, each in a fresh process:
- DuckDB: ``CREATE TABLE t AS SELECT * FROM read_json(<file>, format='newline_delimited',
  ignore_errors=true)``;
- ``breachdesk assess <file> --directory <dir> --out <ws> -v`` (inventory, every value
  scanned, identities, stitching and the match).
It prints wall and CPU seconds of each (CPU is the fair figure on a shared machine), the
ratio, rows per second, per-stage seconds of assess and the peak memory of each process tree.
The engine issue's target: assess within 3× DuckDB's read_json.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import measure

from breachdesk.demo.amplitude import AmplitudeWriter
from breachdesk.demo.export import ExportWriter
from breachdesk.demo.ga4 import Ga4Writer
from breachdesk.demo.people import build_directory
from breachdesk.demo.posthog import PostHogWriter
from breachdesk.demo.segment import SegmentWriter
from breachdesk.services.demo import write_directory

WRITERS = {"segment": SegmentWriter, "amplitude": AmplitudeWriter, "posthog": PostHogWriter,
           "ga4": Ga4Writer}  # fmt: skip
VENDORS = ["mixpanel", *WRITERS]
_STAGE = re.compile(r"breachdesk\.assess: (\w+): ([0-9.]+) s")


def build(work: Path, users: int, events: float, vendors: list[str]) -> None:
    rng = random.Random(17)
    people, orgs = build_directory(rng, users)
    if not (work / f"directory-{users}.done").exists():
        print(f"building a directory of {users:,} users …", flush=True)
        write_directory(work / "directory", people, orgs)
        (work / f"directory-{users}.done").touch()
    exported = [u for u in people if rng.random() < 0.6]
    ghosts = [f"gone_{k}" for k in range(150)] + [f"ghost.{k}@gone.example" for k in range(150)]
    for vendor in vendors:
        path = work / f"{vendor}-{events}m.jsonl"
        if path.exists():
            continue
        print(f"building {events} M {vendor} events …", flush=True)
        partial = path.with_suffix(".partial")
        if vendor == "mixpanel":
            ExportWriter(rng, people, orgs).write_events(
                partial, exported, int(events * 1_000_000), ghosts, lambda _: None, compress=False
            )
        else:
            writer = WRITERS[vendor](rng, people, orgs)
            writer.export_plain(partial, exported, int(events * 1_000_000), ghosts)
        partial.rename(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=1, help="millions of events per vendor")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--vendors", default=",".join(VENDORS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/bd-readers"))
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    vendors = args.vendors.split(",")
    args.work.mkdir(parents=True, exist_ok=True)
    build(args.work, args.users, args.events, vendors)
    if args.build_only:
        return
    python = sys.executable
    bd = str(Path(python).parent / "breachdesk")
    rows = int(args.events * 1_000_000)
    print(f"{'reader':>10} {'GB':>5} {'duckdb s':>9} {'cpu':>6} {'assess s':>9} {'cpu':>6} "
          f"{'ratio':>6} {'cpu ratio':>9} {'rows/s':>10} {'duckdb MB':>9} {'assess MB':>9}")  # fmt: skip
    for vendor in vendors:
        path = args.work / f"{vendor}-{args.events}m.jsonl"
        sql = (
            f"import duckdb; duckdb.sql(\"CREATE TABLE t AS SELECT * FROM read_json('{path}', "
            "format='newline_delimited', ignore_errors=true)\")"
        )
        parse = measure([python, "-c", sql])
        ws = args.work / f"ws-{vendor}"
        shutil.rmtree(ws, ignore_errors=True)  # a fresh workspace each run (no --replace)
        run = measure([bd, "assess", str(path), "--directory", str(args.work / "directory"),
                       "--out", str(ws), "-v"])  # fmt: skip
        gb = path.stat().st_size / 1e9
        print(f"{vendor:>10} {gb:>5.2f} {parse.seconds:>9.1f} {parse.cpu_seconds:>6.1f} "
              f"{run.seconds:>9.1f} {run.cpu_seconds:>6.1f} {run.seconds / parse.seconds:>6.2f} "
              f"{run.cpu_seconds / parse.cpu_seconds:>9.2f} {rows / run.seconds:>10,.0f} "
              f"{parse.peak_rss_mb:>9,.0f} {run.peak_rss_mb:>9,.0f}", flush=True)  # fmt: skip
        stages = ", ".join(f"{s} {float(t):.1f} s" for s, t in _STAGE.findall(run.stderr))
        print(f"{'':>10} stages: {stages}", flush=True)


if __name__ == "__main__":
    main()
