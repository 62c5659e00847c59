"""Benchmark: breachdesk assess against DuckDB parsing every record of the same file.

    .venv/bin/python benchmarks/assess.py --events 1,5,10 --users 3000000 --work /tmp/bd-bench

For each size (millions of events) it builds, once, a Mixpanel event export (plain JSON
Lines) and a people export for a directory of --users users, then in one run times:
- DuckDB: CREATE TABLE t AS SELECT * FROM read_json(<file>, format='newline_delimited',
  ignore_errors=true) for the events and the people file, in a fresh process;
- breachdesk assess <events> <people> --directory <dir> --out <ws>, in a fresh process;
and prints seconds, the ratio, events per second and the peak memory (summed PSS) of each
process tree.

    .venv/bin/python benchmarks/assess.py --web --events 1,10 --users 3000000

With --web it runs ``assess_web.py`` instead: events shaped like real Mixpanel web events
(every one with ``$current_url`` and ``$referrer``), CPU seconds, per-stage rows/s and the
planted corpus's recall and precision per finding kind.
    .venv/bin/python benchmarks/assess.py --readers --events 1 --users 100000

With --readers it runs ``readers.py`` instead: each reader (Mixpanel, Segment, Amplitude,
PostHog, GA4) on a file of its vendor's shape, rows/s against DuckDB's read_json of it.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import measure

from breachdesk.demo.export import ExportWriter
from breachdesk.demo.people import build_directory
from breachdesk.services.demo import write_directory


def build(work: Path, users: int, sizes: list[int]) -> None:
    done = work / f"built-{users}-{'-'.join(map(str, sizes))}"
    if done.exists():
        return
    rng = random.Random(11)
    print(f"building a directory of {users:,} users …", flush=True)
    people, orgs = build_directory(rng, users)
    write_directory(work / "directory", people, orgs)
    exported = [u for u in people if rng.random() < 0.6]
    writer = ExportWriter(rng, people, orgs)
    writer.write_people_jsonl(work / "people.jsonl", exported, [])
    for size in sizes:
        print(f"building {size} M events …", flush=True)
        writer.truth = type(writer.truth)()
        writer.write_events(
            work / f"events-{size}m.jsonl", exported, size * 1_000_000, [], lambda _: None,
            compress=False,
        )  # fmt: skip
    done.touch()


def main() -> None:
    if "--web" in sys.argv:
        import assess_web

        sys.argv.remove("--web")
        assess_web.main()
        return
    if "--readers" in sys.argv:
        import readers

        sys.argv.remove("--readers")
        readers.main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1,5,10", help="sizes in millions of events")
    parser.add_argument("--users", type=int, default=3_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bd-bench"))
    parser.add_argument("--no-directory", action="store_true")
    parser.add_argument(
        "--events-only",
        action="store_true",
        help="the event file alone on both sides (no people export, no directory): the scan",
    )
    parser.add_argument("--build-only", action="store_true", help="only build the inputs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.events.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    build(args.work, args.users, sizes)
    if args.build_only:
        return
    python = sys.executable
    bd = str(Path(python).parent / "breachdesk")
    print(f"{'events':>8} {'GB':>6} {'duckdb s':>9} {'assess s':>9} {'ratio':>6} "
          f"{'events/s':>10} {'duckdb MB':>10} {'assess MB':>10}")  # fmt: skip
    for size in sizes:
        events = args.work / f"events-{size}m.jsonl"
        people = args.work / "people.jsonl"
        # the same inputs assess reads: the events and the people export
        sql = "import duckdb; " + "; ".join(
            f"duckdb.sql(\"CREATE TABLE t{i} AS SELECT * FROM read_json('{path}', "
            "format='newline_delimited', ignore_errors=true)\")"
            for i, path in enumerate((events,) if args.events_only else (events, people))
        )
        parse = measure([python, "-c", sql])
        # --replace: a workspace left by an earlier run of the benchmark is assessed again
        cmd = [bd, "assess", str(events), str(args.work / "people.jsonl"),
               "--out", str(args.work / f"ws-{size}m"), "--replace"]  # fmt: skip
        if args.events_only:
            cmd = [bd, "assess", str(events), "--out", str(args.work / f"ws-{size}m-events"),
                   "--replace"]  # fmt: skip
        elif not args.no_directory:
            cmd += ["--directory", str(args.work / "directory")]
        run = measure(cmd)
        gb = events.stat().st_size / 1e9
        print(f"{size:>7}M {gb:>6.2f} {parse.seconds:>9.1f} {run.seconds:>9.1f} "
              f"{run.seconds / parse.seconds:>6.2f} {size * 1e6 / run.seconds:>10,.0f} "
              f"{parse.peak_rss_mb:>10,.0f} {run.peak_rss_mb:>10,.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
