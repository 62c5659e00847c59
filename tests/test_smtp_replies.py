"""SMTP replies that echo addresses are stored and shown masked (issue 10: the dashboard's
notices page and ``notify status`` showed the recipients' addresses). Replies from the real
aiosmtpd sink; the stored attempt rows, the notice rows, the status command and the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.domain.identity import mask_addresses
from breachdesk.services.users import add
from breachdesk.store import models as m
from breachdesk.web.dashboard import create_app
from helpers import store_of, within
from smtp_sink import Sink, start

runner = CliRunner()
PASSWORD = "correct horse battery"
GONE = "victim.person@example.org"
BLOCKED = "ana.b@example.net"
RAW = ["victim.person", "ana.b@", "security@example.com"]


@pytest.mark.parametrize(
    ("reply", "recipient", "shown"),
    [
        ("550 5.1.1 <victim@example.org>: Recipient address rejected", "victim@example.org",
         "550 5.1.1 <v***@example.org>: Recipient address rejected"),
        ("550 5.1.1 <victim>... User unknown", "victim@example.org",
         "550 5.1.1 <v***>... User unknown"),
        ("554 from a@b.example to josé@bücher.de", "", "554 from a***@b.example to j***@bücher.de"),
        ("250 2.0.0 Ok: queued as 4F3A2", "ok@example.org", "250 2.0.0 Ok: queued as 4F3A2"),
    ],
)  # fmt: skip
def test_addresses_in_a_reply_are_masked(reply: str, recipient: str, shown: str) -> None:
    assert mask_addresses(reply, recipient) == shown


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    controller, port = start(handler)
    yield handler, port
    controller.stop()


def _notice(ws: Path, user_id: str, email: str, reference: str) -> None:
    store = store_of(ws)
    row = {"incident_id": store.incident_id(), "kind": "user", "org_id": "", "name": "",
           "locale": "en", "status": "planned", "created_at": datetime(2026, 11, 27, tzinfo=UTC),
           "facts": '{"categories": ["user.contact.email"], "mfa": "on"}',
           "user_id": user_id, "email": email, "reference": reference}  # fmt: skip
    with store.session() as session, session.begin():
        session.execute(insert(m.Notice), [row])
    store.close()


def test_replies_are_stored_and_shown_masked(
    notify_ws: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = sink
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
    _notice(notify_ws, "gone", GONE, "BD-GONE1-AAAAA")
    _notice(notify_ws, "blocked", BLOCKED, "BD-BLOCK-AAAAA")
    handler.fail(GONE, ("rcpt", f"550 5.1.1 <{GONE}>: Recipient address rejected: User unknown"))
    handler.fail(BLOCKED, ("data", f"554 5.7.1 from <security@example.com> to <{BLOCKED}>: "
                                   "ana.b is over quota"))  # fmt: skip
    sent = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert sent.exit_code == 1, sent.output  # two failed for good
    store = store_of(notify_ws)
    with store.session() as session:
        stored = list(session.scalars(select(m.DeliveryAttempt.smtp_reply)))
        stored += list(session.scalars(select(m.Notice.last_reply)))
    store.close()
    assert "550 5.1.1 <v***@example.org>: Recipient address rejected: User unknown" in stored
    assert "554 5.7.1 from <s***@example.com> to <a***@example.net>: a*** is over quota" in stored
    for text in stored:
        assert not any(raw in text for raw in RAW), text
    status = runner.invoke(app, ["notify", "status", str(notify_ws)])
    assert status.exit_code == 0 and "v***@example.org" in status.stdout
    assert not any(raw in status.stdout for raw in RAW)
    within(notify_ws, add, "vera", PASSWORD, "viewer")
    client = TestClient(create_app(notify_ws), base_url="http://127.0.0.1")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    form = {"username": "vera", "password": PASSWORD} | ({"csrf": token[1]} if token else {})
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    page = client.get("/notices").text
    assert "v***@example.org" in page and not any(raw in page for raw in RAW)


def test_replies_stored_before_are_masked_when_shown(notify_ws: Path) -> None:
    store = store_of(notify_ws)
    with store.session() as session, session.begin():
        first = session.scalars(select(m.Notice.id).order_by(m.Notice.id)).first()
        session.execute(update(m.Notice).where(m.Notice.id == first).values(
            status="failed", last_reply=f"550 5.1.1 <{GONE}>: no such user"))  # fmt: skip
    store.close()
    status = runner.invoke(app, ["notify", "status", str(notify_ws)])
    assert "failed: 1 — 550 5.1.1 <v***@example.org>: no such user" in status.stdout
    assert GONE not in status.stdout
