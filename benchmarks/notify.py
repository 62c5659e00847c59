"""Benchmark: notices at campaign scale.

    .venv/bin/python benchmarks/notify.py --work /tmp/bd-notify --users 170000 --events 1000000

Builds once a demo incident big enough for about 100,000 notices (``breachdesk demo
--no-notify``), then in one run measures:
(a) compose + lint + DKIM-sign alone, over every notice, on two processes (both cores);
(b) end to end: ``notify plan``, then ``notify send --live`` (outbox on SQLite) into an
    aiosmtpd sink in its own process, unpaced; messages per second over plan + send, and the
    peak memory (summed PSS) of the send — also for a campaign a fifth the size, to show it
    does not grow with the campaign;
(c) the naive path on a sample: stdlib ``EmailMessage``, dkimpy's RSA signing, aiosmtplib
    one message at a time.
Heavy: run by hand, never from the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import measure

BIN = str(Path(sys.executable).with_name("breachdesk"))


def _build(work: Path, users: int, events: int) -> Path:
    base = work / f"demo-{users}-{events}"
    if not (base / "workspace" / "impact.json").exists():
        print(f"building the demo incident ({users:,} users, {events:,} events) …", flush=True)
        subprocess.run([BIN, "demo", "--out", str(base), "--users", str(users), "--events",
                        str(events), "--no-notify"], check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run([BIN, "notify", "keys", str(base / "workspace")], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    return base / "workspace"


def _fresh(workspace: Path, work: Path) -> Path:
    """A copy of the workspace with an empty notice plan."""
    copy = work / "run"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(workspace, copy, ignore=shutil.ignore_patterns("previews"))
    (copy / "breachdesk.toml").write_text(
        (copy / "breachdesk.toml").read_text().replace(str(workspace), str(copy))
    )
    with sqlite3.connect(copy / "desk.db") as db:
        db.execute("DELETE FROM notice")
        db.execute("DELETE FROM delivery_attempt")
    return copy


def _sink() -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                             "-c", "aiosmtpd.handlers.Sink", "--smtputf8"])  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, port


def _rows(workspace: Path) -> list:  # type: ignore[type-arg]
    from breachdesk.services.workspace import Workspace
    from breachdesk.store.outbox import notices

    store = Workspace.open(workspace).store
    with sqlite3.connect(workspace / "desk.db") as db:
        ids = [r[0] for r in db.execute("SELECT id FROM notice WHERE status = 'planned'")]
    rows = []
    for start in range(0, len(ids), 5000):
        rows += notices(store, ids[start : start + 5000])
    store.close()
    return rows


_preparer = None


def _init(workspace: str) -> None:
    global _preparer
    from breachdesk.notify.prepare import Preparer
    from breachdesk.services.notify import notice_context
    from breachdesk.services.workspace import Workspace
    from breachdesk.settings import load_settings

    settings = load_settings(Path(workspace))
    store = Workspace.open(Path(workspace)).store
    _preparer = Preparer(notice_context(store, settings), Path(workspace), ["bd2026"])
    store.close()


def _prepare(chunk: list) -> int:  # type: ignore[type-arg]
    assert _preparer is not None
    return sum(1 for n in chunk if not _preparer.prepare(n).refused)


def measure_prepare(workspace: Path, rows: list) -> tuple[float, int]:  # type: ignore[type-arg]
    chunks = [rows[i : i + 1000] for i in range(0, len(rows), 1000)]
    with ProcessPoolExecutor(2, initializer=_init, initargs=(str(workspace),)) as pool:
        list(pool.map(_prepare, chunks[:2]))  # start-up outside the clock
        start = time.perf_counter()
        ok = sum(pool.map(_prepare, chunks))
        return time.perf_counter() - start, ok


def measure_naive(workspace: Path, rows: list, port: int) -> float:  # type: ignore[type-arg]
    import aiosmtplib
    import dkim

    from breachdesk.notify.compose import Composer
    from breachdesk.services.notify import notice_context
    from breachdesk.services.workspace import Workspace
    from breachdesk.settings import load_settings

    store = Workspace.open(workspace).store
    context = notice_context(store, load_settings(workspace))
    store.close()
    composer = Composer(context)
    key = (workspace / "keys" / "dkim" / "bd2026.pem").read_bytes()

    async def run() -> None:
        for notice in rows:
            composed = composer.compose(notice)
            msg = EmailMessage()
            msg["From"] = context.sender
            msg["To"] = composed.to
            msg["Subject"] = composed.subject
            msg["Date"] = format_datetime(
                context.learned_at or __import__("datetime").datetime.now()
            )
            msg["Message-ID"] = composed.message_id
            msg.set_content(composed.text)
            msg.add_alternative(composed.html, subtype="html")
            raw = msg.as_bytes()
            signature = dkim.sign(raw, b"bd2026", b"example.com", key,
                                  include_headers=[b"from", b"to", b"subject", b"date"])  # fmt: skip
            await aiosmtplib.send(signature + raw, sender=context.sender,
                                  recipients=[composed.to], hostname="127.0.0.1", port=port)  # fmt: skip

    start = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--users", type=int, default=170_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--naive", type=int, default=3000, help="sample for (c)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    built = _build(args.work, args.users, args.events)
    sink, port = _sink()
    env = {**os.environ, "BREACHDESK_SMTP__PORT": str(port), "BREACHDESK_SMTP__CONNECTIONS": "8"}
    try:
        # (b) first, on a fresh plan: plan + send, timed as separate processes
        ws = _fresh(built, args.work)
        plan = measure([BIN, "notify", "plan", str(ws)], env)
        with sqlite3.connect(ws / "desk.db") as db:
            planned = db.execute("SELECT count(*) FROM notice WHERE status='planned'").fetchone()[0]
        rows = _rows(ws)
        # (a) on the same notices
        prep_s, prep_ok = measure_prepare(ws, rows)
        send = measure([BIN, "notify", "send", str(ws), "--live", "--per-second", "0",
                        "--per-domain", "0", "--no-progress"], env)  # fmt: skip
        with sqlite3.connect(ws / "desk.db") as db:
            sent = db.execute("SELECT count(*) FROM notice WHERE status='sent'").fetchone()[0]
        # the same campaign a fifth the size: memory must not follow the campaign's size
        small = _fresh(built, args.work)
        measure([BIN, "notify", "plan", str(small)], env)
        with sqlite3.connect(small / "desk.db") as db:
            db.execute("UPDATE notice SET status='held' WHERE status='planned' AND id % 5 <> 0")
            small_n = db.execute("SELECT count(*) FROM notice WHERE status='planned'").fetchone()[0]
        small_send = measure([BIN, "notify", "send", str(small), "--live", "--per-second", "0",
                              "--per-domain", "0", "--no-progress"], env)  # fmt: skip
        naive_rows = [r for r in rows if r.email.isascii()][: args.naive]
        naive_s = measure_naive(ws, naive_rows, port)
    finally:
        sink.terminate()
    e2e = sent / (plan.seconds + send.seconds)
    naive = len(naive_rows) / naive_s
    print(f"notices planned {planned:,}; sent {sent:,}")
    print(
        f"(a) compose+lint+sign, 2 processes: {prep_ok:,} in {prep_s:.1f} s = {prep_ok / prep_s:,.0f}/s"
    )
    print(f"(b) plan {plan.seconds:.1f} s + send {send.seconds:.1f} s = {e2e:,.0f} messages/s; "
          f"send peak {send.peak_rss_mb:,.0f} MB (PSS)")  # fmt: skip
    print(f"    a fifth of the campaign ({small_n:,}): send {small_send.seconds:.1f} s, "
          f"peak {small_send.peak_rss_mb:,.0f} MB")  # fmt: skip
    print(f"(c) naive, {len(naive_rows):,} messages one by one: {naive_s:.1f} s = {naive:,.0f}/s; "
          f"(b)/(c) = {e2e / naive:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
