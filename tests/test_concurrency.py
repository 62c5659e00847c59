"""Many responders at once against the real dashboard (uvicorn on loopback, real threads):
no server error, every decision stored once with exactly one audit entry, the log intact and
in agreement with the tables — on SQLite, and on PostgreSQL where .ci/run provides one."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, text

from breachdesk.services.audit import verify_audit
from breachdesk.services.users import add
from breachdesk.store import read_events
from breachdesk.web.dashboard import create_app
from helpers import open_ws, within

PASSWORD = "correct horse battery"
PG_URL = os.environ.get("BREACHDESK_TEST_PG_URL", "")


@pytest.fixture
def served(notify_ws: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    store_url: str | None = request.param
    if store_url is not None:
        engine = create_engine(store_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    within(notify_ws, add, "rita", PASSWORD, "responder", store_url=store_url)
    app = create_app(notify_ws, store_url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store_url
    server.should_exit = True
    thread.join(timeout=10)


class Browser:
    """One signed-in responder: a cookie jar and the session's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = self.get("/login")[1]
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        form = {"username": "rita", "password": PASSWORD}
        if token:  # the sign-in form carries its own token
            form["csrf"] = token.group(1)
        status, _ = self.post("/login", form)
        assert status in (200, 303), status
        found = re.search(r'name="csrf" value="([^"]+)"', self.get("/decisions")[1])
        assert found
        self.csrf = found.group(1)

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        return self._open(urllib.request.Request(self.base + path, data=data, method="POST"))

    def _open(self, req: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(req, timeout=120) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()


STORES = [None, pytest.param(PG_URL or "unset", marks=pytest.mark.skipif(
    not PG_URL, reason="no PostgreSQL: .ci/run starts one and sets BREACHDESK_TEST_PG_URL"))]  # fmt: skip


@pytest.mark.parametrize("served", STORES, indirect=True, ids=["sqlite", "postgresql"])
def test_fifty_decisions_and_timeline_reads_at_once(
    served: tuple[str, str | None], notify_ws: Path
) -> None:
    base, store_url = served
    browsers = [Browser(base) for _ in range(5)]

    def decide(n: int) -> int:
        b = browsers[n % len(browsers)]
        status, _ = b.post("/decisions", {"subject": f"subject-{n}", "decision": "required",
                                          "rationale": f"reason {n}", "csrf": b.csrf})  # fmt: skip
        return status

    def read(n: int) -> int:
        return browsers[n % len(browsers)].get("/timeline" if n % 2 else "/")[0]

    with ThreadPoolExecutor(max_workers=32) as pool:
        writes = [pool.submit(decide, n) for n in range(50)]
        reads = [pool.submit(read, n) for n in range(50)]
        statuses = Counter(f.result() for f in writes + reads)
    assert all(code < 500 for code in statuses), statuses
    assert statuses[200] + statuses[303] == 100, statuses
    with open_ws(notify_ws, store_url) as ws:
        recorded = [e for e in read_events(ws.store) if e.action == "decision.recorded"]
        assert sorted(e.payload["subject"] for e in recorded) == sorted(
            f"subject-{n}" for n in range(50)
        )
        verdict = verify_audit(ws)
        assert verdict.ok, (verdict.chain.broken, verdict.disagreements)
