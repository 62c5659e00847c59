"""schemathesis against both apps' OpenAPI documents: whatever it sends, signed in or not,
no server error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlalchemy import update

from breachdesk.services.users import add
from breachdesk.services.verify import publish
from breachdesk.store import models as m
from breachdesk.web import auth
from breachdesk.web.dashboard import create_app
from breachdesk.web.verify import create_verify_app
from helpers import store_of, within

SEEN: list[tuple[str, int]] = []


def _fuzz(app: FastAPI, cookies: dict[str, str]) -> int:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            for jar in ({}, cookies):
                response = case.call(cookies=jar)
                SEEN.append((case.path, response.status_code))
                assert response.status_code < 500, (case.path, response.text[:200])

        run()
    return operations


def test_no_server_error_anywhere(notify_ws: Path, tmp_path: Path) -> None:
    within(notify_ws, add, "vera", "correct horse battery", "viewer")
    store = store_of(notify_ws)
    token = auth.sign_in(store, "vera", "correct horse battery", "127.0.0.1", auth.Throttle()).token
    with store.session() as session, session.begin():
        session.execute(
            update(m.Notice).values(status="sent", sent_at=datetime(2026, 11, 26, 10, tzinfo=UTC))
        )
    store.close()
    # schemathesis calls the app as host "testserver"
    app = create_app(notify_ws, allowed_hosts=["testserver"])
    assert _fuzz(app, {"bd_session": token}) >= 2
    within(notify_ws, publish, tmp_path / "public")
    assert _fuzz(create_verify_app(tmp_path / "public", per_minute=100_000), {}) >= 1
    from collections import Counter

    seen = Counter(SEEN)
    assert seen[("/api/overview", 200)] and seen[("/api/overview", 401)]
    assert seen[("/api/check", 200)] and any(
        p == "/api/organizations" and s == 200 for p, s in seen
    )
