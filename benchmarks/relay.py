"""Benchmark: the relay's throughput and added latency on loopback.

    .venv/bin/python benchmarks/relay.py --seconds 30 [--memory-minutes 10]

A stand-in vendor (tests/vendor_standin.py, counting only) and ``breachdesk relay serve``
run as their own processes. 50 concurrent clients post batches of 50 events as mixpanel-js
sends them (form body data=base64 JSON, verbose=1) first to the stand-in directly, then
through the relay; wrk drives them when installed (``apt-get install wrk``: a C client, so
the measure is the servers'), else an asyncio client in this process. Prints events/s,
batches/s, p50/p99 of each and the p99 the relay adds. With --memory-minutes it keeps the
load on the relay that long and samples its resident memory every 30 s.
Heavy and noisy on a shared machine: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx2 as httpx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from relay_helpers import write_vendors  # noqa: E402
from vendor_standin import free_port  # noqa: E402

BIN = str(Path(sys.executable).with_name("breachdesk"))


def batch_body(n: int = 50) -> bytes:
    events = [
        {"event": "Page View", "properties": {
            "token": "project-token", "distinct_id": f"$device:{i:08x}-user", "$device_id": f"{i:08x}",
            "$current_url": f"https://app.example.com/orgs/{1000 + i}/members?utm_source=news&email=u{i}@example.com",
            "$referrer": "https://www.google.com/", "$browser": "Chrome", "$browser_version": 120,
            "$os": "Mac OS X", "mp_lib": "web", "$lib_version": "2.83.0", "time": 1764590000 + i,
            "$insert_id": f"ins{i:012d}", "$email": f"u{i}@example.com", "plan": "team",
            "$screen_height": 1080, "$screen_width": 1920}}
        for i in range(n)
    ]  # fmt: skip
    data = base64.b64encode(json.dumps(events).encode()).decode()
    return b"data=" + quote(data, safe="").encode()


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def run_wrk(url: str, body: bytes, seconds: int, clients: int) -> tuple[float, float, float]:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
    )
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    if "Non-2xx" in out:
        raise SystemExit(out)
    return rps, ms("50"), ms("99")


async def _client(url: str, body: bytes, until: float, latencies: list[float]) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient() as client:
        while time.monotonic() < until:
            start = time.perf_counter()
            r = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 200


def run_asyncio(url: str, body: bytes, seconds: int, clients: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    until = time.monotonic() + seconds

    async def main() -> None:
        await asyncio.gather(*(_client(url, body, until, latencies) for _ in range(clients)))

    asyncio.run(main())
    latencies.sort()
    pick = lambda q: latencies[int(q * (len(latencies) - 1))] * 1000  # noqa: E731
    return len(latencies) / seconds, pick(0.5), pick(0.99)


async def _paced_client(host: str, port: int, request: bytes, interval: float, start: float,
                        until: float, latencies: list[float]) -> None:  # fmt: skip
    """One keep-alive connection sending at a fixed pace; latency counted from the time a
    request was due (a late send counts against the server: no coordinated omission)."""
    reader, writer = await asyncio.open_connection(host, port)
    due = start
    while due < until:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        assert head.startswith(b"HTTP/1.1 200"), head
        latencies.append(time.perf_counter() - due)
        due += interval
    writer.close()


def run_paced(
    url: str, body: bytes, seconds: int, clients: int, rate: float
) -> tuple[float, float, float]:
    """``rate`` batches/s in all from ``clients`` connections: p50 and p99 at that load."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    request = (
        f"POST {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    interval = clients / rate

    async def main() -> None:
        start = time.perf_counter() + 0.2
        until = start + seconds
        await asyncio.gather(*(
            _paced_client(parts.hostname or "", parts.port or 80, request, interval,
                          start + i * interval / clients, until, latencies)
            for i in range(clients)
        ))  # fmt: skip

    asyncio.run(main())
    latencies.sort()
    pick = lambda q: latencies[int(q * (len(latencies) - 1))] * 1000  # noqa: E731
    return len(latencies) / seconds, pick(0.5), pick(0.99)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--memory-minutes", type=float, default=0)
    parser.add_argument("--rate", type=float, default=400, help="batches/s for the latency runs")
    args = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_asyncio
    body = batch_body()
    work = Path(tempfile.mkdtemp(prefix="bd-relay-bench-"))
    vendor_port, relay_port = free_port(), free_port()
    standin = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, 'tests'); from vendor_standin import StandIn; "
        f"s = StandIn(port={vendor_port}, record=False).start(); time.sleep(10**6)")], cwd=ROOT)  # fmt: skip
    vendors = write_vendors(work, f"http://127.0.0.1:{vendor_port}")
    relay = subprocess.Popen([BIN, "relay", "serve", str(vendors), "--port", str(relay_port)],
                             stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_up(f"http://127.0.0.1:{vendor_port}/")
        wait_up(f"http://127.0.0.1:{relay_port}/healthz")
        direct = load(
            f"http://127.0.0.1:{vendor_port}/track/?verbose=1", body, args.seconds, args.clients
        )
        cpu_before = cpu_seconds(relay.pid)
        relayed = load(
            f"http://127.0.0.1:{relay_port}/v/mixpanel/track/?verbose=1",
            body,
            args.seconds,
            args.clients,
        )
        health = httpx.get(f"http://127.0.0.1:{relay_port}/healthz").json()["vendors"]["mixpanel"]
        print(
            f"load: {load.__name__}, {args.clients} clients, batches of 50 events, {args.seconds} s each"
        )
        for name, (rps, p50, p99) in (
            ("stand-in directly", direct),
            ("through the relay", relayed),
        ):
            print(
                f"{name:18} {rps * 50:>9,.0f} events/s {rps:>7,.0f} batches/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
            )
        cpu = cpu_seconds(relay.pid) - cpu_before
        batches = relayed[0] * args.seconds
        print(f"saturated (wrk's closed loop: latency is queueing); relay state after: {health}")
        print(
            f"relay CPU: {cpu:.1f} s for {batches:,.0f} batches = {cpu / batches * 1000:.2f} ms "
            f"a batch (≈ {batches / cpu:,.0f} batches/s on a core of its own); it had "
            f"{cpu / args.seconds:.0%} of a core here; load average {os.getloadavg()[0]:.1f}"
        )
        paced_direct = run_paced(f"http://127.0.0.1:{vendor_port}/track/?verbose=1", body,
                                 args.seconds, args.clients, args.rate)  # fmt: skip
        paced_relay = run_paced(f"http://127.0.0.1:{relay_port}/v/mixpanel/track/?verbose=1",
                                body, args.seconds, args.clients, args.rate)  # fmt: skip
        print(f"paced at {args.rate:,.0f} batches/s ({args.rate * 50:,.0f} events/s), "
              f"{args.clients} connections:")  # fmt: skip
        for name, (rps, p50, p99) in (("stand-in directly", paced_direct),
                                      ("through the relay", paced_relay)):  # fmt: skip
            print(f"{name:18} {rps:>7,.0f} batches/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
        print(f"p99 added by the relay: {paced_relay[2] - paced_direct[2]:.2f} ms")
        health = httpx.get(f"http://127.0.0.1:{relay_port}/healthz").json()["vendors"]["mixpanel"]
        print(f"relay state after: {health}")
        if args.memory_minutes:
            until = time.monotonic() + args.memory_minutes * 60
            while time.monotonic() < until:
                rps, _, p99 = load(
                    f"http://127.0.0.1:{relay_port}/v/mixpanel/track/", body, 30, args.clients
                )
                print(
                    f"relay RSS {rss_mb(relay.pid):7.1f} MB  {rps * 50:,.0f} events/s  p99 {p99:.2f} ms",
                    flush=True,
                )
    finally:
        relay.terminate()
        standin.terminate()
        relay.wait()
        standin.wait()


if __name__ == "__main__":
    main()
