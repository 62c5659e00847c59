"""Benchmark: the dashboard and the public check under load, with an incident of one million
affected users loaded.

    .venv/bin/python benchmarks/dashboard.py --work /tmp/bd-dash --users 1000000 --seconds 60

Builds once a workspace shaped like a real one at that size (the small test incident,
assessed, then its affected users, organizations, organization names and a notice plan grown
to --users), starts ``breachdesk serve`` and ``breachdesk verify serve`` as their own
processes, and drives them from this process with --clients concurrent clients (50 on the
dashboard: overview pages and organization searches; 200 on the public check: genuine and
unknown codes) for --seconds each. Prints p50/p99 latency and requests per second. The
load comes from wrk (``apt-get install wrk``: a C load generator, so the measure is the
server's) when it is installed, else from an asyncio client in this process.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).parents[1]
BIN = str(Path(sys.executable).with_name("breachdesk"))
PASSWORD = "benchmark password"  # noqa: S105 - a throwaway user of a synthetic workspace
COUNTRIES = ["US", "DE", "RO", "JP", "GB", "FR", "BR", "IN", "CA", "AU"]
CATEGORIES = "user.contact.email;user.location.imprecise;user.name;user.unique_id"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(work: Path, users: int) -> Path:
    ws = work / f"ws-{users}"
    if (ws / "built").exists():
        return ws
    sys.path.insert(0, str(ROOT / "tests"))
    import pyarrow as pa

    from breachdesk import AssessRequest, assess
    from breachdesk.domain.impact import AffectedOrganization
    from breachdesk.report.tables import (
        ORGANIZATIONS,
        USERS,
        organizations_table,
        users_table,
        write_table,
    )
    from breachdesk.services.incident import update
    from breachdesk.services.users import add
    from breachdesk.services.workspace import Workspace
    from conftest import build_small_export

    export, directory = build_small_export(work / f"src-{users}")
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    opened = Workspace.open(ws)
    update(opened, "bench", vendor="Mixpanel", aware={"company": "2026-11-20T14:05:00Z"})
    rng = random.Random(5)
    orgs = max(1, users // 7)
    # the typed tables later commands read, at this size (the CSVs are for people only)
    tables = opened.outputs / "tables"
    rows = {
        "user_id": [f"u{i}" for i in range(users)],
        "exposed": [CATEGORIES] * users,
        "organizations": [f"org{rng.randrange(orgs)}" for _ in range(users)],
        "mfa_enabled": [rng.choice(["true", "false", ""]) for _ in range(users)],
        "locale": ["en"] * users,
        "country": [rng.choice(COUNTRIES) for _ in range(users)],
        "country_source": ["directory"] * users,
        "region": [""] * users,
        "status": ["active"] * users,
    }
    write_table(tables / USERS, users_table(pa.table(rows)))
    write_table(
        tables / ORGANIZATIONS,
        organizations_table(
            AffectedOrganization(f"org{i}", rng.randrange(1, 50), (f"u{i}", f"u{i + 1}"))
            for i in range(orgs)
        ),
    )
    with (directory / "organizations.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["org_id", "name"])
        for i in range(orgs):
            w.writerow([f"org{i}", f"{rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella'])} "
                                   f"{rng.choice(['Labs', 'Cloud', 'Systems', 'Data'])} {i}"])  # fmt: skip
    impact_path = opened.output("impact.json")
    impact = json.loads(impact_path.read_text())
    impact["affected"].update(users=users, organizations=orgs, admins_to_notify=2 * orgs)
    impact["by_country"] = {c: {"users": users // 10, "source": "directory"} for c in COUNTRIES}
    impact_path.write_text(json.dumps(impact))
    states = ["sent"] * 6 + ["queued"] * 2 + ["planned", "failed", "held"]
    with sqlite3.connect(ws / "desk.db") as db:
        db.executemany(
            "INSERT INTO notice (incident_id, kind, user_id, org_id, email, name, locale, status,"
            " hold_reason, reference, facts, created_at) VALUES (1, 'user', ?, '', ?, '', 'en',"
            " ?, '', ?, '{}', '2026-11-27T00:00:00.000000Z')",
            ((f"u{i}", f"u{i}@example.org", rng.choice(states), f"BD-{i:011d}")
             for i in range(users)),
        )  # fmt: skip
        db.execute(
            "UPDATE notice SET sent_at = '2026-11-26T10:00:00.000000Z' WHERE status = 'sent'"
        )
    add(opened, "bench", PASSWORD, "viewer")
    opened.close()
    (ws / "built").write_text("")
    return ws


def _start(args: list[str], port: int, ready: str) -> subprocess.Popen[bytes]:
    # the servers log one line per request (their default): written, then discarded here
    proc = subprocess.Popen(
        [BIN, *args, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                time.sleep(1)  # every worker up
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{args[0]} did not start")


async def _load(base: str, clients: int, seconds: float, make: object,
                cookies: dict[str, str]) -> dict[str, list[float]]:  # fmt: skip
    latencies: dict[str, list[float]] = {}
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits,
                                 timeout=30) as client:  # fmt: skip
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            nonlocal errors
            rng = random.Random(n)
            while time.perf_counter() < deadline:
                label, url, *body = make(rng)  # type: ignore[operator]
                started = time.perf_counter()
                r = await (client.post(url, json=body[0]) if body else client.get(url))
                latencies.setdefault(label, []).append(time.perf_counter() - started)
                if r.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker(n) for n in range(clients)))
    if errors:
        print(f"   {errors} responses were not 200")
    return latencies


def _wrk_run(base: str, paths: list[str], clients: int, seconds: float,
             cookie: str, work: Path, label: str,
             bodies: list[str] | None = None) -> subprocess.Popen[str]:  # fmt: skip
    """wrk (a C load generator) on ``clients`` connections, each request a random path (GET),
    or with ``bodies`` a POST of a random JSON body to ``paths[0]``."""
    script = work / f"{label}.lua"
    if bodies:
        quoted = ",".join(json.dumps(b) for b in bodies)
        script.write_text(
            f"local bodies = {{{quoted}}}\n"
            "math.randomseed(7)\n"
            "local headers = {['Content-Type'] = 'application/json'}\n"
            f"request = function() return wrk.format('POST', {json.dumps(paths[0])}, headers, "
            "bodies[math.random(#bodies)]) end\n"
        )
    else:
        quoted = ",".join(json.dumps(p) for p in paths)
        script.write_text(
            f"local paths = {{{quoted}}}\n"
            "math.randomseed(7)\n"
            "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n"
        )
    command = ["wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "--timeout",
               "10s", "-s", str(script)]  # fmt: skip
    if cookie:
        command += ["-H", f"Cookie: bd_session={cookie}"]
    return subprocess.Popen([*command, base], stdout=subprocess.PIPE, text=True)


def _wrk_report(title: str, label: str, output: str) -> None:
    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    p50 = ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    print(f"{title} {label:10} {rps:8,.0f}/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
          f"{'  non-2xx ' + bad.group(1) if bad else ''}"
          f"{'  socket errors: ' + errors.group(1) if errors else ''}")  # fmt: skip


def _concurrently(title: str, runs: dict[str, subprocess.Popen[str]]) -> None:
    for label, proc in runs.items():
        output, _ = proc.communicate()
        _wrk_report(title, label, output)


def _report(title: str, latencies: dict[str, list[float]], seconds: float) -> None:
    for label, values in sorted(latencies.items()):
        values.sort()
        p50 = values[len(values) // 2] * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        print(f"{title} {label:10} n={len(values):6,}  {len(values) / seconds:7,.0f}/s  "
              f"p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--public-clients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"building a workspace of {args.users:,} affected users …", flush=True)
    ws = build(args.work, args.users)
    port = _port()
    server = _start(["serve", str(ws), "--workers", str(args.workers)], port, "/healthz")
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as browser:  # the form, then its post
            form = browser.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            browser.post("/login", data={"username": "bench", "password": PASSWORD,
                                         "csrf": token})  # fmt: skip
            cookies = {"bd_session": browser.cookies["bd_session"]}
        warm = time.perf_counter()
        httpx.get(f"{base}/", cookies=cookies, timeout=600)  # duties over 1M people, once
        httpx.get(f"{base}/organizations", cookies=cookies, timeout=600)
        print(f"first overview and search (caches filled): {time.perf_counter() - warm:.1f} s")
        orgs = max(1, args.users // 7)
        names = ["acme", "globex", "initech", "umbrella", "labs", "cloud", "systems", "data"]

        def query(rng: random.Random) -> str:
            kind = rng.random()
            if kind < 0.4:  # a name or part of one, as people type it
                return " ".join(rng.sample(names, rng.randint(1, 2)))
            if kind < 0.7:  # an organization id, whole or its start
                return f"org{rng.randrange(orgs)}"[: rng.randint(4, 9)]
            return f"{rng.choice(names)} {rng.randrange(orgs)}"  # a name with its number

        def dashboard(rng: random.Random) -> tuple[str, str]:
            if rng.random() < 0.5:
                return "overview", "/"
            return "search", f"/organizations?q={query(rng)}&page={rng.randrange(1, 4)}"

        title = f"dashboard, {args.clients} clients:"
        if shutil.which("wrk"):
            rng = random.Random(3)
            searches = [f"/organizations?q={query(rng).replace(' ', '+')}"
                        f"&page={rng.randrange(1, 4)}" for _ in range(5000)]  # fmt: skip
            half = args.clients // 2
            token = cookies.get("bd_session", "")
            _concurrently(title, {
                "overview": _wrk_run(base, ["/"], half, args.seconds, token, args.work, "ov"),
                "search": _wrk_run(base, searches, args.clients - half, args.seconds, token,
                                   args.work, "search"),
            })  # fmt: skip
        else:
            lat = asyncio.run(_load(base, args.clients, args.seconds, dashboard, cookies))
            _report(title, lat, args.seconds)
    finally:
        server.terminate()
        server.wait()

    public = args.work / "public"
    subprocess.run([BIN, "verify", "publish", str(ws), "--out", str(public)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    with sqlite3.connect(ws / "desk.db") as db:
        sent = list(db.execute(
            "SELECT reference, email FROM notice WHERE status='sent' LIMIT 5000"))  # fmt: skip
    port = _port()
    server = _start(["verify", "serve", str(public), "--per-minute", "100000000", "--workers",
                     str(args.workers)], port, "/")  # fmt: skip
    try:
        # the reader gives the reference and the address it came to; "unknown" mixes
        # references that do not exist with real ones given with another address
        def unknown_pair(rng: random.Random) -> dict[str, str]:
            if rng.random() < 0.5:
                return {"code": f"BD-{rng.randrange(10**10):010d}",
                        "address": rng.choice(sent)[1]}  # fmt: skip
            return {"code": rng.choice(sent)[0], "address": rng.choice(sent)[1]}

        def check(rng: random.Random) -> tuple[str, str, dict[str, str]]:
            if rng.random() < 0.5:
                code, address = rng.choice(sent)
                return "genuine", "/api/check", {"code": code, "address": address}
            return "unknown", "/api/check", unknown_pair(rng)

        title = f"public check, {args.public_clients} clients:"
        base = f"http://127.0.0.1:{port}"
        if shutil.which("wrk"):
            rng = random.Random(4)
            genuine = [json.dumps({"code": c, "address": a}) for c, a in sent]
            unknown = [json.dumps(unknown_pair(rng)) for _ in range(5000)]
            half = args.public_clients // 2
            _concurrently(title, {
                "genuine": _wrk_run(base, ["/api/check"], half, args.seconds, "", args.work,
                                    "genuine", bodies=genuine),
                "unknown": _wrk_run(base, ["/api/check"], args.public_clients - half,
                                    args.seconds, "", args.work, "unknown", bodies=unknown),
            })  # fmt: skip
        else:
            lat = asyncio.run(_load(base, args.public_clients, args.seconds, check, {}))
            _report(title, lat, args.seconds)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
