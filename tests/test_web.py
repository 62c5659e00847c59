"""The dashboard and the public notice check through their HTTP interfaces: sign-in,
sessions, CSRF, roles, lockout, hostile parameters, and the check's answers."""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from breachdesk.services.incident import open_workspace_store
from breachdesk.services.users import add
from breachdesk.services.verify import publish
from breachdesk.store import models as m
from breachdesk.web import auth
from breachdesk.web.dashboard import create_app
from breachdesk.web.verify import create_verify_app

PASSWORD = "correct horse battery"


@pytest.fixture
def desk(notify_ws: Path) -> Path:
    add(notify_ws, "vera", PASSWORD, "viewer")
    add(notify_ws, "rita", PASSWORD, "responder")
    return notify_ws


def _client(ws: Path) -> TestClient:
    return TestClient(create_app(ws), base_url="http://127.0.0.1")


def _form_token(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def _login(client: TestClient, user: str, password: str = PASSWORD) -> str:
    r = client.post("/login", data={"username": user, "password": password,
                    "csrf": _form_token(client)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get("/decisions")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_pages_need_a_session_and_show_the_incident(desk: Path) -> None:
    client = _client(desk)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/overview").status_code == 401
    wrong = client.post("/login", data={"username": "vera", "password": "nope",
                                        "csrf": _form_token(client)})  # fmt: skip
    assert wrong.status_code == 401 and "wrong username or password" in wrong.text
    _login(client, "vera")
    for path in ["/", "/impact", "/organizations", "/findings", "/notices", "/timeline",
                 "/tasks", "/decisions", "/audit", "/fragments/progress"]:  # fmt: skip
        r = client.get(path)
        assert r.status_code == 200, path
        assert "Content-Security-Policy" in r.headers and "<script>" not in r.text
        assert "@" not in re.sub(r"<[^>]+>", "", r.text), path  # no address shown anywhere
    overview = client.get("/api/overview").json()
    assert overview["affected"]["users"] > 0 and overview["notices"]["to_send"] > 0
    assert "the hash chain verifies" in client.get("/audit").text


def test_search_pages_and_hostile_parameters(desk: Path) -> None:
    client = _client(desk)
    _login(client, "vera")
    everything = client.get("/api/organizations").json()
    assert everything["total"] >= 5
    one = everything["rows"][0]["org_id"]
    found = client.get("/api/organizations", params={"q": one}).json()
    assert found["total"] >= 1 and found["rows"][0]["org_id"] == one
    for hostile in ["' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "%00"]:
        r = client.get("/organizations", params={"q": hostile})
        assert r.status_code == 200 and "<script>alert" not in r.text
        assert client.get("/api/organizations", params={"q": hostile}).json()["total"] == 0
    assert client.get("/organizations", params={"q": "x" * 10_000}).status_code == 422
    assert client.get("/organizations", params={"page": "-1"}).status_code == 422
    assert client.get("/static/../../breachdesk.toml").status_code == 404
    assert client.get("/static/%2e%2e/%2e%2e/desk.db").status_code == 404


def test_roles_and_csrf(desk: Path) -> None:
    viewer = _client(desk)
    token = _login(viewer, "vera")
    r = viewer.post("/decisions", data={"subject": "s", "decision": "d", "rationale": "r",
                                        "csrf": token})  # fmt: skip
    assert r.status_code == 403  # a viewer may not act
    responder = _client(desk)
    token = _login(responder, "rita")
    missing = responder.post("/decisions", data={"subject": "s", "decision": "d",
                                                 "rationale": "r"})  # fmt: skip
    assert missing.status_code == 403 and "CSRF" in missing.text
    forged = responder.post("/decisions", data={"subject": "s", "decision": "d",
                                                "rationale": "r", "csrf": "x" * 43})  # fmt: skip
    assert forged.status_code == 403
    done = responder.post("/decisions", data={"subject": "gdpr-art34", "decision": "required",
                          "rationale": "a reset token leaked", "csrf": token},
                          follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert "a reset token leaked" in responder.get("/decisions").text
    empty = responder.post("/decisions", data={"subject": "x", "decision": "y",
                                               "rationale": " ", "csrf": token})  # fmt: skip
    assert empty.status_code == 400 and "rationale" in empty.text


def test_expired_sessions_and_quiet_logs(desk: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = _client(desk)
    caplog.set_level(logging.INFO, logger="breachdesk.web")
    for _ in range(3):
        client.post("/login", data={"username": "vera", "password": "wrong password!",
                                    "csrf": _form_token(client)})  # fmt: skip
    assert PASSWORD not in caplog.text and "wrong password" not in caplog.text
    store = open_workspace_store(desk)
    other = _client(desk)
    _login(other, "rita")
    with store.session() as session, session.begin():
        session.execute(update(m.DeskSession).values(expires_at=time.time() - 1))
    auth.forget_sessions()  # as if the time had passed: checked sessions are kept 2 s at most
    assert other.get("/", follow_redirects=False).status_code == 303  # expired: sign in again
    store.close()


def test_the_public_check(desk: Path, tmp_path: Path) -> None:
    store = open_workspace_store(desk)
    with store.session() as session, session.begin():
        session.execute(
            update(m.Notice).where(m.Notice.kind == "user")
            .values(status="sent", sent_at="2026-11-26T10:00:00+00:00")
        )  # fmt: skip
        refs = [n.reference for n in session.query(m.Notice).filter_by(status="sent")]
    store.close()
    published = publish(desk, tmp_path / "public")
    text = published.path.read_text()
    assert published.codes == len(refs) and not any(r in text for r in refs) and "@" not in text
    client = TestClient(create_verify_app(tmp_path / "public", per_minute=1000))
    genuine = client.get("/api/check", params={"code": refs[0].lower().replace("-", " ")})
    assert genuine.json() == {"genuine": True, "sent_on": "2026-11-26"}
    assert client.get("/api/check", params={"code": "BD-AAAAA-AAAAA"}).json()["genuine"] is False
    page = client.post("/", data={"code": refs[0]})
    assert "Genuine" in page.text and "2026-11-26" in page.text
    assert "Not a notice of ours" in client.post("/", data={"code": "<b>x</b>"}).text
    assert client.get("/api/check", params={"code": "A" * 10_000}).status_code == 422
    limited = TestClient(create_verify_app(tmp_path / "public", per_minute=5))
    answers = [limited.get("/api/check", params={"code": refs[0]}).status_code for _ in range(8)]
    assert answers[:5] == [200] * 5 and answers[-1] == 429
    # behind a trusted proxy each reader has their own allowance; untrusted, the header is
    # ignored
    proxied = TestClient(create_verify_app(tmp_path / "public", 2, trust_proxy="*"))

    def ask(ip: str) -> int:
        headers = {"X-Forwarded-For": ip}
        return proxied.get("/api/check", params={"code": refs[0]}, headers=headers).status_code

    assert [ask("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert ask("198.51.100.2") == 200
    direct = TestClient(create_verify_app(tmp_path / "public", 2))
    codes = [direct.get("/api/check", params={"code": refs[0]},
                        headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
             for i in range(3)]  # fmt: skip
    assert codes == [200, 200, 429]


def test_valid_and_invalid_codes_take_the_same_time(desk: Path, tmp_path: Path) -> None:
    store = open_workspace_store(desk)
    with store.session() as session, session.begin():
        session.execute(update(m.Notice).values(status="sent", sent_at="2026-11-26T10:00:00"))
        ref = session.query(m.Notice).first().reference  # type: ignore[union-attr]
    store.close()
    publish(desk, tmp_path / "public")
    client = TestClient(create_verify_app(tmp_path / "public", per_minute=100_000))

    def timed(code: str) -> float:
        started = time.perf_counter()
        client.get("/api/check", params={"code": code})
        return time.perf_counter() - started

    # interleaved, so that both see the same noise of a shared machine
    pairs = [(timed(ref), timed("BD-AAAAA-AAAAA")) for _ in range(80)]
    genuine = sorted(p[0] for p in pairs)[40]
    forged = sorted(p[1] for p in pairs)[40]
    assert genuine >= 0.004 and forged >= 0.004  # both held to the floor
    assert abs(genuine - forged) < 0.002


@given(
    st.lists(st.text(alphabet="ab c-1é", max_size=8), max_size=30),
    st.text(alphabet="ab c-1é", max_size=5),
    st.integers(min_value=1, max_value=40),
)
def test_the_organization_index_finds_what_a_scan_finds(
    keys: list[str], query: str, first: int
) -> None:
    from breachdesk.services.dashboard import _OrgIndex, _words

    index = _OrgIndex([{"key": k} for k in keys])
    wanted = [i for i, k in enumerate(keys)
              if all(any(w.startswith(q) for w in _words(k)) for q in _words(query))]  # fmt: skip
    assert index.search(query) == (wanted, len(wanted))
    assert index.search(query, first) == (wanted[:first], len(wanted))


PG_URL = os.environ.get("BREACHDESK_TEST_PG_URL", "")


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: .ci/run starts one")
def test_the_dashboard_on_a_team_store(notify_ws: Path) -> None:
    from sqlalchemy import create_engine, text

    from breachdesk.services.notify_plan import plan_notices
    from breachdesk.settings import load_settings, write_settings

    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    write_settings(notify_ws, load_settings(notify_ws).model_copy(update={"store_url": PG_URL}))
    plan_notices(notify_ws)
    add(notify_ws, "rita", PASSWORD, "responder")
    client = _client(notify_ws)
    token = _login(client, "rita")
    assert client.get("/api/overview").json()["notices"]["totals"]["planned"] > 0
    done = client.post("/decisions", data={"subject": "gdpr-art33", "decision": "required",
                       "rationale": "EU residents", "csrf": token}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and "EU residents" in client.get("/decisions").text
    assert "the hash chain verifies" in client.get("/audit").text
