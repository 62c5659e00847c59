"""Benchmark: breachdesk assess on real-shaped Mixpanel web events against DuckDB parsing the
same files, with planted-corpus recall and precision per finding kind.

    .venv/bin/python benchmarks/assess_web.py --events 1,10 --users 3000000 --work /tmp/bd-web

Builds once: a directory of --users users, their people export (60 % of them), and per size
an export of real-shaped web events (``webevents.py``: every event with ``$current_url``,
``$referrer``, ``$device_id``, ``distinct_id`` of either shape, ``$insert_id``, browser
fields; one event in 1,000 carries a value of the test suite's planted corpus
(``tests/planted.py``: every kind in every field shape, each followed by its decoy).
Then in one run per size, each in a fresh process: DuckDB's ``read_json`` of the events and
the people file (``CREATE TABLE … AS SELECT *``), and ``breachdesk assess -v`` of the same
files with the directory. Prints wall and CPU seconds (CPU is the fair figure on a shared
machine), the ratio, the peak memory summed over the process tree (PSS) and its last
sample, per-stage seconds and rows/s, and recall/precision per kind on the planted values.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _measure import measure
from webevents import Person, WebEvents, write_events

from breachdesk.demo.export import ExportWriter
from breachdesk.demo.people import build_directory
from breachdesk.services.demo import write_directory
from planted import planter


def build(work: Path, users: int, sizes: list[int]) -> None:
    rng = random.Random(11)
    if not (work / f"directory-{users}.done").exists():
        print(f"building a directory of {users:,} users …", flush=True)
        people, orgs = build_directory(rng, users)
        write_directory(work / "directory", people, orgs)
        exported = [u for u in people if rng.random() < 0.6]
        ExportWriter(rng, people, orgs).write_people_jsonl(work / "people.jsonl", exported, [])
        population = [Person(u.user_id, u.email, u.orgs[0] if u.orgs else "") for u in exported]
        with (work / "population.json").open("w") as fh:
            json.dump([[p.user_id, p.org] for p in population], fh)
        (work / f"directory-{users}.done").touch()
    population = [
        Person(uid, "", org) for uid, org in json.loads((work / "population.json").read_text())
    ]
    for size in sizes:
        path = work / f"web-{size}m.jsonl"
        if path.exists() and (work / f"web-{size}m.truth.json").exists():
            continue
        print(f"building {size} M web events …", flush=True)
        stream = WebEvents(random.Random(size), population).events(size * 1_000_000)
        planted = write_events(path, stream, planter(), 1000, random.Random(size + 1))
        truth = [[p.line, p.kind, p.field, p.shape] for p in planted]
        (work / f"web-{size}m.truth.json").write_text(json.dumps(truth))


_STAGE = re.compile(r"breachdesk\.assess: (\w+): ([0-9.]+) s")


def accuracy(workspace: Path, truth: list[list[object]]) -> dict[str, tuple[int, int, int, int]]:
    """Per kind: (planted, found, reported on planted lines, reported right)."""
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    with (workspace / "findings.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["source"].startswith("web-"):
                found[int(row["line"])].add((row["kind"], row["field"]))
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    planted_lines = set()
    for line, kind, field, _shape in truth:
        planted_lines.add(line)
        hits = found.get(int(line), set())  # type: ignore[call-overload]
        if kind is None:
            for k, f in hits:
                if f == field:
                    stats[k][2] += 1  # a decoy reported: a false positive of that kind
            continue
        s = stats[str(kind)]
        s[0] += 1
        if (kind, field) in hits:
            s[1] += 1
        for k, f in hits:
            s2 = stats[k]
            s2[2] += 1
            s2[3] += (k, f) == (kind, field)
    # findings on lines where nothing was planted are false positives too
    for line, hits in found.items():
        if line not in planted_lines:
            for k, _ in hits:
                stats[k][2] += 1
    return {k: (v[0], v[1], v[2], v[3]) for k, v in stats.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1,10", help="sizes in millions of events")
    parser.add_argument("--users", type=int, default=3_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bd-web"))
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.events.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    build(args.work, args.users, sizes)
    if args.build_only:
        return
    python = sys.executable
    bd = str(Path(python).parent / "breachdesk")
    people = args.work / "people.jsonl"
    for size in sizes:
        events = args.work / f"web-{size}m.jsonl"
        sql = "import duckdb; " + "; ".join(
            f"duckdb.sql(\"CREATE TABLE t{i} AS SELECT * FROM read_json('{path}', "
            "format='newline_delimited', ignore_errors=true)\")"
            for i, path in enumerate((events, people))
        )
        parse = measure([python, "-c", sql])
        ws = args.work / f"ws-{size}m"
        shutil.rmtree(ws, ignore_errors=True)  # a fresh workspace each run (no --replace)
        run = measure([bd, "assess", str(events), str(people), "--directory",
                       str(args.work / "directory"), "--out", str(ws), "-v"])  # fmt: skip
        gb = (events.stat().st_size + people.stat().st_size) / 1e9
        lines = size * 1_000_000 + sum(1 for _ in people.open("rb"))
        tail = run.samples_mb[-8:] if run.samples_mb else (0.0,)
        print(f"\n{size} M events + people ({gb:.2f} GB, {lines:,} records)")
        print(f"  duckdb read_json: wall {parse.seconds:.1f} s, CPU {parse.cpu_seconds:.1f} s, "
              f"peak {parse.peak_rss_mb:,.0f} MB")  # fmt: skip
        print(f"  breachdesk assess: wall {run.seconds:.1f} s, CPU {run.cpu_seconds:.1f} s, "
              f"peak {run.peak_rss_mb:,.0f} MB (last samples {min(tail):,.0f}–{max(tail):,.0f} MB)")  # fmt: skip
        print(f"  ratio: wall {run.seconds / parse.seconds:.2f}×, "
              f"CPU {run.cpu_seconds / parse.cpu_seconds:.2f}×")  # fmt: skip
        for stage, seconds in _STAGE.findall(run.stderr):
            rate = f"{lines / float(seconds):,.0f} rows/s" if float(seconds) else ""
            print(f"  stage {stage:10} {float(seconds):7.1f} s  {rate}")
        truth = json.loads((args.work / f"web-{size}m.truth.json").read_text())
        print("  planted values (kind: planted, found, recall; reported, right, precision)")
        for kind, (n, hit, reported, right) in sorted(accuracy(ws, truth).items()):
            recall = f"{hit / n:.2%}" if n else "—"
            precision = f"{right / reported:.2%}" if reported else "—"
            print(
                f"    {kind:14} {n:6} {hit:6} {recall:>8}   {reported:6} {right:6} {precision:>8}"
            )


if __name__ == "__main__":
    main()
