"""``breachdesk serve`` and ``verify serve`` print one line per request on standard error by
default (issue 10: the logging level hid them): method, path without the query, status,
time and a keyed hash of the client. The real command, a real server, real requests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from breachdesk.services.verify import publish
from breachdesk.store import models as m
from helpers import store_of, within
from smtp_sink import free_port

LINE = re.compile(r"breachdesk\.web: (GET|POST) (\S+) (\d{3}) [\d.]+ms client=([0-9a-f]{10})$")


def _serve(args: list[str], port: int) -> tuple[str, list[int]]:
    """Start the command, make three requests (one with a query), stop it; its stderr and
    the statuses seen."""
    process = subprocess.Popen(
        [sys.executable, "-m", "breachdesk", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BREACHDESK_")},
    )  # fmt: skip
    statuses = []
    try:
        deadline = time.monotonic() + 60
        for path in ["/", "/login?next=/secret-query-value", "/nowhere"]:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                        statuses.append(r.status)
                    break
                except urllib.error.HTTPError as exc:
                    statuses.append(exc.code)
                    break
                except OSError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.2)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    return err, statuses


def _requests(stderr: str) -> list[tuple[str, str, str, str]]:
    return [m.groups() for line in stderr.splitlines() if (m := LINE.search(line))]


def test_the_dashboard_logs_each_request(notify_ws: Path) -> None:
    stderr, statuses = _serve(["serve", str(notify_ws)], free_port())
    logged = _requests(stderr)
    seen = {(method, path, int(status)) for method, path, status, _ in logged}
    assert {("GET", "/", 303), ("GET", "/login", 200), ("GET", "/nowhere", statuses[-1])} <= seen
    assert "secret-query-value" not in stderr and "?" not in "".join(p for _, p, _, _ in logged)
    assert len({client for *_, client in logged}) == 1  # one client, one hash


def test_the_public_check_logs_with_two_workers(notify_ws: Path, tmp_path: Path) -> None:
    store = store_of(notify_ws)
    with store.session() as session, session.begin():
        first = session.scalars(select(m.Notice.id).order_by(m.Notice.id)).first()
        session.execute(update(m.Notice).where(m.Notice.id == first).values(
            status="sent", sent_at=datetime(2026, 11, 27, 10, tzinfo=UTC)))  # fmt: skip
    store.close()
    within(notify_ws, publish, tmp_path / "public")
    stderr, statuses = _serve(["verify", "serve", str(tmp_path / "public"), "--workers", "2"],
                              free_port())  # fmt: skip
    logged = _requests(stderr)
    assert {path for _, path, _, _ in logged} >= {"/", "/login", "/nowhere"}
    assert statuses[0] == 200 and "secret-query-value" not in stderr
