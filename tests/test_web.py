"""The dashboard through its HTTP interface: sign-in, sessions, CSRF, roles, hostile
parameters (sign-in under attack: test_signin.py; the public check: test_verify.py)."""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from breachdesk.services.users import add
from breachdesk.store import models as m
from breachdesk.web import auth
from breachdesk.web.dashboard import create_app
from conftest import record_identity
from helpers import store_of, within

PASSWORD = "correct horse battery"


@pytest.fixture
def desk(notify_ws: Path) -> Path:
    within(notify_ws, add, "vera", PASSWORD, "viewer")
    within(notify_ws, add, "rita", PASSWORD, "responder")
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
    store = store_of(desk)
    other = _client(desk)
    _login(other, "rita")
    with store.session() as session, session.begin():
        session.execute(
            update(m.DeskSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    auth.forget_sessions()  # as if the time had passed: checked sessions are kept 2 s at most
    assert other.get("/", follow_redirects=False).status_code == 303  # expired: sign in again
    store.close()


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
    within(notify_ws, record_identity)  # a fresh store: the details recorded again
    within(notify_ws, plan_notices)
    within(notify_ws, add, "rita", PASSWORD, "responder")
    client = _client(notify_ws)
    token = _login(client, "rita")
    assert client.get("/api/overview").json()["notices"]["totals"]["planned"] > 0
    done = client.post("/decisions", data={"subject": "gdpr-art33", "decision": "required",
                       "rationale": "EU residents", "csrf": token}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and "EU residents" in client.get("/decisions").text
    assert "the hash chain verifies" in client.get("/audit").text
