"""Signing in to the dashboard under attack, against the real app: parallel guesses, an
attacker elsewhere, answers and timing that tell nothing, a bounded audit log, the sign-in
form's CSRF token, the Host allowlist and relative redirects."""

from __future__ import annotations

import ast
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from starlette.responses import RedirectResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import breachdesk
from breachdesk.errors import InputError
from breachdesk.services.users import add
from breachdesk.services.workspace import hmac_key
from breachdesk.settings import load_settings
from breachdesk.store import models as m
from breachdesk.store import read_events
from breachdesk.store.accounts import read_counters
from breachdesk.web import auth
from breachdesk.web.dashboard import LOGIN_COOKIE, create_app
from breachdesk.web.hosts import RelativeRedirects, allowed_host, allowlist
from helpers import store_of, within
from live_server import serving

PASSWORD = "correct horse battery"
WRONG = "wrong horse battery"
# small delays, so that a test sees a throttle start and end: three free failures per key,
# then 0.2 s doubling, an account held back for one second at most, a client for a minute
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104 - what serve must refuse without --allowed-host
QUICK = auth.Throttle(free=3, base=0.2, account_cap=1.0, client_cap=60.0)
# delays longer than any test: once throttled, a key stays throttled
HOLD = auth.Throttle(free=3, base=600, account_cap=600, client_cap=600)
FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from breachdesk import AssessRequest, assess
    from conftest import build_small_export

    base = tmp_path_factory.mktemp("signin")
    export, directory = build_small_export(base)
    ws = base / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    within(ws, add, "vera", PASSWORD, "viewer")
    within(ws, add, "rita", PASSWORD, "responder")
    return ws


@pytest.fixture
def ws(workspace: Path) -> Iterator[Path]:
    """The shared workspace with no sign-in counted yet."""
    store = store_of(workspace)
    with store.session() as session, session.begin():
        for table in (m.SigninCounter, m.SigninRefusal, m.DeskSession):
            session.execute(delete(table))
    store.close()
    auth.forget_sessions()
    yield workspace


class Visitor:
    """One browser at one client address (a loopback address of its own)."""

    def __init__(self, base: str, source: str = "127.0.0.1") -> None:
        transport = httpx.HTTPTransport(local_address=source)
        self.http = httpx.Client(base_url=base, transport=transport, timeout=60)

    def form(self) -> str:
        found = FORM_TOKEN.search(self.http.get("/login").text)
        assert found
        return found.group(1)

    def sign_in(self, username: str, password: str, token: str | None = None) -> httpx.Response:
        data = {"username": username, "password": password, "csrf": token or self.form()}
        return self.http.post("/login", data=data)


def _counters(ws: Path, *keys: str) -> dict[str, int]:
    store = store_of(ws)
    try:
        return {k: c.failures for k, c in read_counters(store, list(keys)).items()}
    finally:
        store.close()


def _refusal_entries(ws: Path) -> list[dict[str, object]]:
    store = store_of(ws)
    try:
        return [e.payload for e in read_events(store) if e.action == "desk.login_refused"]
    finally:
        store.close()


def _flush(ws: Path) -> int:
    """Write every counted refusal to the audit log, as if the minute were over."""
    store = store_of(ws)
    try:
        return auth.housekeeping(store, QUICK, now=time.time() + 120)
    finally:
        store.close()


def _twenty_at_once(ws: Path) -> None:
    """Twenty wrong passwords for rita at once from one address, then the right one from
    there: only the free tries are checked, and everything is refused."""
    before = len(_refusal_entries(ws))
    with serving(create_app(ws, throttle=HOLD)) as base:
        visitors = [Visitor(base, "127.0.0.2") for _ in range(20)]
        tokens = [v.form() for v in visitors]
        start = threading.Barrier(20)
        answers: list[httpx.Response] = []

        def guess(visitor: Visitor, token: str) -> None:
            start.wait()
            answers.append(visitor.sign_in("rita", WRONG, token))

        threads = [
            threading.Thread(target=guess, args=p) for p in zip(visitors, tokens, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a.status_code for a in answers) == [401] * 20
        assert Visitor(base, "127.0.0.2").sign_in("rita", PASSWORD).status_code == 401
    counted = _counters(ws, "account:rita", auth.client_key("127.0.0.2"))
    assert counted == {"account:rita": HOLD.free, auth.client_key("127.0.0.2"): HOLD.free}
    # the server's own shutdown round may already have written them if the minute ended
    # during the burst; the entries below are what counts, whoever wrote them
    _flush(ws)
    entries = _refusal_entries(ws)[before:]
    # one entry per account and minute (two if the burst straddled a minute), with counts
    assert 1 <= len(entries) <= 2
    assert {e["account"] for e in entries} == {"rita"}
    assert sum(int(str(e["refused"])) for e in entries) == 21
    assert sum(int(str(e["throttled"])) for e in entries) == 21 - HOLD.free


def test_parallel_wrong_passwords_are_counted_before_they_are_checked(ws: Path) -> None:
    """Twenty wrong passwords at once from one address: three are checked (the free ones),
    the other seventeen are refused unchecked; the correct password from there is refused
    too; the refused attempts become one audit entry with their count."""
    _twenty_at_once(ws)


PG_URL = os.environ.get("BREACHDESK_TEST_PG_URL", "")


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: .ci/run starts one")
def test_parallel_wrong_passwords_on_a_team_store(notify_ws: Path) -> None:
    """The same on PostgreSQL, where the counters are held by row locks (FOR UPDATE)."""
    from sqlalchemy import create_engine, text

    from breachdesk.settings import write_settings

    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    write_settings(notify_ws, load_settings(notify_ws).model_copy(update={"store_url": PG_URL}))
    within(notify_ws, add, "rita", PASSWORD, "responder")
    _twenty_at_once(notify_ws)


def test_an_attacker_elsewhere_holds_the_owner_back_briefly(ws: Path) -> None:
    """An attacker guessing rita's password without pause from one address keeps being
    slowed down; rita, from her own address, gets in within a bounded delay."""
    with serving(create_app(ws, throttle=QUICK)) as base:
        stop = threading.Event()
        attacker = Visitor(base, "127.0.0.2")
        guesses: list[int] = []

        def hammer() -> None:
            while not stop.is_set():
                guesses.append(attacker.sign_in("rita", WRONG).status_code)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            while len(guesses) < QUICK.free + 3:  # past the free tries: delays under way
                time.sleep(0.05)
            owner = Visitor(base, "127.0.0.3")
            started = time.monotonic()
            while owner.sign_in("rita", PASSWORD).status_code != 303:
                assert time.monotonic() - started < 8, "the owner was kept out"
                time.sleep(0.1)
            waited = time.monotonic() - started
        finally:
            stop.set()
            thread.join()
        assert owner.http.get("/").status_code == 200
    assert waited < 8 and set(guesses) == {401}
    # the attacker's address was let through ever more rarely (doubling delays): most of its
    # guesses were refused without a look at the password
    checked = _counters(ws, auth.client_key("127.0.0.2"))[auth.client_key("127.0.0.2")]
    assert QUICK.free < checked <= QUICK.free + 6 and checked < len(guesses)
    assert _counters(ws, auth.client_key("127.0.0.3")) == {auth.client_key("127.0.0.3"): 0}


class SmallPool:
    """The app served with six threads for its routes (anyio's default is forty), so that a
    flood of a dozen requests is more than the pool can hold."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            anyio.to_thread.current_default_thread_limiter().total_tokens = 6
        await self.app(scope, receive, send)


def test_a_flood_of_sign_ins_does_not_stall_the_pages(ws: Path) -> None:
    """More bogus sign-ins at once than the server has threads for its pages: a signed-in
    user's page still answers at once, while the flood waits its turn for argon2."""
    with serving(SmallPool(create_app(ws, throttle=HOLD))) as base:  # type: ignore[arg-type]
        user = Visitor(base, "127.0.0.3")
        assert user.sign_in("vera", PASSWORD).status_code == 303
        flood = [Visitor(base, "127.0.0.2") for _ in range(12)]
        tokens = [v.form() for v in flood]
        start = threading.Barrier(len(flood) + 1)
        done: list[int] = []

        def guess(visitor: Visitor, token: str) -> None:
            start.wait()
            done.append(visitor.sign_in("nobody", WRONG, token).status_code)

        threads = [threading.Thread(target=guess, args=p)
                   for p in zip(flood, tokens, strict=True)]  # fmt: skip
        for t in threads:
            t.start()
        start.wait()
        time.sleep(0.5)  # every guess has reached the server
        in_flight = len(flood) - len(done)
        started = time.monotonic()
        page = user.http.get("/api/overview")
        took = time.monotonic() - started
        for t in threads:
            t.join()
    assert page.status_code == 200 and sorted(set(done)) == [401]
    assert in_flight > 6, "the flood was over before the page was asked for"
    assert took < 1.5, f"the page waited {took:.1f} s behind the sign-ins"


def _timed(client: TestClient, username: str, password: str) -> tuple[float, str, int]:
    found = FORM_TOKEN.search(client.get("/login").text)
    assert found
    started = time.perf_counter()
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf": found.group(1)})  # fmt: skip
    took = time.perf_counter() - started
    return took, FORM_TOKEN.sub("TOKEN", r.text), r.status_code


def test_unknown_wrong_and_throttled_answer_alike(ws: Path) -> None:
    """An unknown name, a wrong password and a throttled account (with its correct
    password!) get the same status and page, in the same time (medians, interleaved)."""
    app = create_app(ws, throttle=HOLD, allowed_hosts=["127.0.0.1"])
    addresses = iter(f"198.51.{n // 250}.{n % 250}" for n in range(10_000))

    def client() -> TestClient:  # every attempt from an address of its own
        return TestClient(app, base_url="http://127.0.0.1", client=(next(addresses), 1000))

    rounds = 5
    for i in range(rounds):
        within(ws, add, f"wrong{i}", PASSWORD, "viewer")
    attacker = client()
    for _ in range(HOLD.free):
        _timed(attacker, "rita", WRONG)  # rita is now throttled for ten minutes
    times: dict[str, list[float]] = {"unknown": [], "wrong": [], "throttled": []}
    pages: set[tuple[str, int]] = set()
    try:
        for i in range(rounds):  # interleaved, so that all three see the same noise
            for kind, name, password in [("unknown", f"nobody{i}", PASSWORD),
                                         ("wrong", f"wrong{i}", WRONG),
                                         ("throttled", "rita", PASSWORD)]:  # fmt: skip
                took, text, status = _timed(client(), name, password)
                times[kind].append(took)
                pages.add((text, status))
    finally:
        from breachdesk.services.accounts import remove_user

        store = store_of(ws)
        for i in range(rounds):
            remove_user(store, f"wrong{i}")
        store.close()
    assert len(pages) == 1, "the three refusals must be the same page"
    text, status = pages.pop()
    assert status == 401 and auth.REFUSED in text
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    fastest = min(medians.values())
    # one argon2 check each (~0.1–0.3 s here): a path without it would be ~100× faster
    assert fastest > 0.02, medians
    assert max(medians.values()) < 1.5 * fastest, medians  # generous: a busy shared machine


def test_a_flood_of_refusals_stays_a_few_audit_entries(ws: Path) -> None:
    """Refused sign-ins of three buckets (two accounts, unknown names) from many
    addresses: at most one audit entry per bucket and minute, each with its count; the
    events before the flood stay on the audit page."""
    app = create_app(ws, throttle=QUICK)
    before = len(_refusal_entries(ws))
    sent = 0
    for n in range(6):
        client = TestClient(app, base_url="http://127.0.0.1", client=(f"203.0.113.{n}", 9))
        for name in ("rita", "vera", f"ghost{n}"):
            found = FORM_TOKEN.search(client.get("/login").text)
            assert found
            r = client.post("/login", data={"username": name, "password": WRONG,
                                            "csrf": found.group(1)})  # fmt: skip
            assert r.status_code == 401
            sent += 1
    _flush(ws)
    entries = _refusal_entries(ws)[before:]
    buckets = [(e["account"], e["minute"]) for e in entries]
    assert len(buckets) == len(set(buckets)) and len(entries) <= 6  # 3 buckets × ≤ 2 minutes
    assert {e["account"] for e in entries} == {"rita", "vera", "(unknown name)"}
    assert sum(int(str(e["refused"])) for e in entries) == sent
    assert not any("ghost" in str(e) for e in entries)  # a typed name that is no user
    store = store_of(ws)
    actions = [e.action for e in read_events(store)][-200:]  # what the audit page shows
    store.close()
    assert "desk.user_added" in actions


def test_signing_in_needs_the_forms_token(ws: Path) -> None:
    app = create_app(ws, throttle=QUICK)
    client = TestClient(app, base_url="http://127.0.0.1")
    bare = {"username": "rita", "password": PASSWORD}
    assert client.post("/login", data=bare).status_code == 403  # no token, no cookie
    page = client.get("/login")
    token = FORM_TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    nonce = client.cookies[LOGIN_COOKIE]
    assert client.post("/login", data=bare).status_code == 403  # the cookie alone
    stranger = TestClient(app, base_url="http://127.0.0.1")
    assert stranger.post("/login", data={**bare, "csrf": token}).status_code == 403  # no cookie
    forms = auth.LoginForms(hmac_key(ws, load_settings(ws)))
    old = int(time.time()) - 3 * 3600
    stale = f"{old}.{forms._mac(nonce, old)}"
    assert client.post("/login", data={**bare, "csrf": stale}).status_code == 403
    assert client.post("/login", data={**bare, "csrf": token + "0"}).status_code == 403
    assert _counters(ws, "account:rita") == {}  # refused before any password was looked at
    done = client.post("/login", data={**bare, "csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_a_foreign_host_is_refused(ws: Path) -> None:
    local = TestClient(create_app(ws), base_url="http://127.0.0.1")
    assert local.get("/login").status_code == 200
    assert local.get("/login", headers={"Host": "localhost:8000"}).status_code == 200
    assert local.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert local.get("/", headers={"Host": "evil.example"}).status_code == 400
    named = TestClient(create_app(ws, allowed_hosts=["desk.example.org"]),
                       base_url="http://desk.example.org")  # fmt: skip
    assert named.get("/login").status_code == 200
    assert named.get("/login", headers={"Host": "127.0.0.1"}).status_code == 400


def test_the_allowlist_of_serve() -> None:
    assert allowlist("127.0.0.1", []) == ["127.0.0.1", "localhost", "[::1]"]
    assert allowlist("::1", []) == ["[::1]", "localhost", "127.0.0.1"]
    assert allowlist("192.0.2.7", []) == ["192.0.2.7"]
    assert allowlist(EVERY_ADDRESS, ["Desk.Example.org", "desk.example.org"]) == [
        "desk.example.org"
    ]
    assert allowed_host("straße.example") == "xn--strae-oqa.example"
    assert allowed_host("2001:db8::1") == "[2001:db8::1]"
    with pytest.raises(InputError, match="--allowed-host"):
        allowlist(EVERY_ADDRESS, [])  # every address: its names must be given
    with pytest.raises(InputError, match="any host"):
        allowlist("127.0.0.1", ["*"])
    with pytest.raises(InputError, match="not a host name"):
        allowed_host("bad host!")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_only_to_its_names(workspace: Path) -> None:
    """``breachdesk serve --allowed-host`` as a process of its own (its workers build the app
    from the environment)."""
    port = _free_port()
    command = [sys.executable, "-m", "breachdesk", "serve", str(workspace), "--port",
               str(port), "--allowed-host", "desk.test"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", headers={"Host": "desk.test"}).status_code:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(base + "/login", headers={"Host": "desk.test"}).status_code == 200
        assert httpx.get(base + "/login").status_code == 400  # 127.0.0.1 is not its name now
        assert httpx.get(base + "/login", headers={"Host": "evil.example"}).status_code == 400
        r = httpx.get(base + "/", headers={"Host": "desk.test"})
        assert r.status_code == 303 and r.headers["location"] == "/login"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    wild = subprocess.run([sys.executable, "-m", "breachdesk", "serve", str(workspace),
                           "--host", EVERY_ADDRESS], capture_output=True, text=True)  # fmt: skip
    assert wild.returncode == 2 and "--allowed-host" in wild.stderr


def test_redirects_are_relative(ws: Path) -> None:
    client = TestClient(create_app(ws), base_url="http://127.0.0.1", follow_redirects=False)
    seen = []
    for path in ["/", "/decisions/", "/login/", "/static", "/impact", "/audit/"]:
        r = client.get(path)
        if "location" in r.headers:
            seen.append(r.headers["location"])
    assert seen and all(loc.startswith("/") and not loc.startswith("//") for loc in seen)

    async def away(request: object) -> RedirectResponse:
        return RedirectResponse("http://evil.example//other/place?x=1")

    tiny = FastAPI(routes=[Route("/", away)])
    tiny.add_middleware(RelativeRedirects)
    r = TestClient(tiny, follow_redirects=False).get("/")
    assert r.headers["location"] == "/other/place?x=1"


def test_ipv6_clients_count_by_their_64() -> None:
    assert auth.client_key("2001:db8:1:2::1") == auth.client_key("2001:db8:1:2:ffff::9")
    assert auth.client_key("2001:db8:1:2::1") != auth.client_key("2001:db8:1:3::1")
    assert auth.client_key("192.0.2.1") != auth.client_key("192.0.2.2")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    return found + [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]


def test_accounts_keep_to_their_layers() -> None:
    """The accounts' SQL lives in store/ only; nothing below the web layer imports it."""
    root = Path(breachdesk.__file__).parent
    for folder in ("services", "store", "domain"):
        for path in (root / folder).rglob("*.py"):
            assert not any(i.startswith("breachdesk.web") for i in _imports(path)), path
    for name in ("web/auth.py", "web/dashboard.py", "web/verify.py", "services/accounts.py",
                 "services/users.py", "services/verify.py"):  # fmt: skip
        assert not any(i.startswith("sqlalchemy") for i in _imports(root / name)), name
