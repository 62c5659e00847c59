"""Delivering notices for real: into an aiosmtpd server on loopback with faults injected,
killed with SIGKILL in each phase of a campaign and resumed, several workers on one PostgreSQL store, and
through Postfix from Debian into a Maildir, the DKIM signatures checked by dkimpy."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

import dkim
import pytest
from sqlalchemy import create_engine, insert, select, text, update
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.notify.dkim import Signer
from breachdesk.services.notify import send, status
from breachdesk.store import models as m
from breachdesk.store import read_events, verify_chain
from conftest import record_identity
from helpers import open_ws, store_of, within
from smtp_sink import Sink, start

runner = CliRunner()


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    controller, port = start(handler)
    yield handler, port
    controller.stop()


def _env(port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "BREACHDESK_SMTP__PORT": str(port), **extra}


def _notices(ws: Path, url: str = "sqlite:///desk.db") -> list[m.Notice]:
    store = store_of(ws, url)
    with store.session() as session:
        rows = list(session.scalars(select(m.Notice).order_by(m.Notice.id)))
        session.expunge_all()
    store.close()
    return rows


def _record(ws: Path) -> bytes:
    signer = Signer.load(ws, "example.com", "bd2026")
    return signer.dns_record().encode()


def _add_notices(ws: Path, rows: list[dict[str, str]], url: str = "sqlite:///desk.db") -> None:
    """Planned user notices beside the plan; each row gives user_id, email, reference and
    what else differs from a plain one."""
    store = store_of(ws, url)
    incident = store.incident_id()
    plain = {"incident_id": incident, "kind": "user", "org_id": "", "name": "", "locale": "de",
             "status": "planned", "created_at": datetime(2026, 11, 27, tzinfo=UTC),
             "facts": '{"categories": ["user.contact.email"], "mfa": "on"}'}  # fmt: skip
    with store.session() as session, session.begin():
        session.execute(insert(m.Notice), [{**plain, **row} for row in rows])
    store.close()


def test_dry_run_by_default_then_live(notify_ws: Path, sink: tuple[Sink, int],
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    handler, port = sink
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
    _add_notices(notify_ws, [{"user_id": "utf8", "email": "jose\u0301@example.com",
                              "name": "José", "reference": "BD-UTF8X-JOSE1"}])  # fmt: skip
    dry = runner.invoke(app, ["notify", "send", str(notify_ws)])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.stdout and handler.received == []
    assert {n.status for n in _notices(notify_ws)} == {"planned"}
    live = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert live.exit_code == 0, live.output
    notices = _notices(notify_ws)
    assert {n.status for n in notices} == {"sent"} and len(notices) > 10
    assert sorted(handler.message_ids()) == sorted(n.message_id for n in notices)
    record = _record(notify_ws)
    for rcpt, _, data in handler.received:
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record)
        parsed = message_from_bytes(data)
        assert parsed["From"] == "Example Security <security@example.com>"
        if rcpt.isascii():
            assert parsed["To"].lower() == rcpt.lower()
        else:
            assert f"To: {rcpt}\r\n".encode() in data  # UTF-8 as it is (RFC 6532)
        assert [p.get_content_type() for p in parsed.walk()] == [
            "multipart/alternative", "text/plain", "text/html"]  # fmt: skip
    assert "josé@example.com" in [r for r, _, _ in handler.received]
    shown = runner.invoke(app, ["notify", "status", str(notify_ws)])
    assert shown.exit_code == 0 and f"attempts recorded: {len(notices)}" in shown.stdout
    again = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert again.exit_code == 0 and len(handler.received) == len(notices)  # none sent twice


def test_faults_retry_fail_and_are_recorded(notify_ws: Path, sink: tuple[Sink, int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    handler, port = sink
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
    monkeypatch.setenv("BREACHDESK_NOTIFY__BACKOFF_SECONDS", "0.05")
    once = Counter(n.email.lower() for n in _notices(notify_ws))
    flaky, gone, dropped, busy = sorted(e for e, n in once.items() if n == 1)[:4]
    handler.fail(flaky, ("rcpt", "451 4.7.1 try again later"), ("data", "451 4.3.0 later"))
    handler.fail(gone, ("rcpt", "550 5.1.1 no such user"))
    handler.fail(dropped, ("data", "drop"))
    handler.fail(busy, ("data", "421 4.3.2 shutting down"))
    result = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert result.exit_code == 1, result.output  # one notice failed for good
    notices = {n.email.lower(): n for n in _notices(notify_ws)}
    assert notices[gone].status == "failed" and notices[gone].last_reply.startswith("550")
    for address in (flaky, dropped, busy):
        assert notices[address].status == "sent", address
    assert notices[flaky].attempts == 3 and notices[dropped].attempts == 2
    received = Counter(handler.message_ids())
    assert received[notices[flaky].message_id] == 1
    assert notices[gone].message_id not in received
    store = store_of(notify_ws)
    with store.session() as session:
        attempts = session.execute(
            select(m.DeliveryAttempt.outcome, m.DeliveryAttempt.smtp_code)
            .where(m.DeliveryAttempt.notice_id == notices[flaky].id)
            .order_by(m.DeliveryAttempt.id)
        ).all()
    assert [tuple(a) for a in attempts] == [("retry", 451), ("retry", 451), ("sent", 250)]
    assert verify_chain(store).intact
    store.close()


def test_a_server_that_is_down_leaves_the_outbox_consistent(notify_ws: Path) -> None:
    from smtp_sink import free_port

    env = _env(free_port())
    result = subprocess.run(
        [sys.executable, "-m", "breachdesk", "notify", "send", str(notify_ws), "--live"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "cannot connect" in result.stderr
    notices = _notices(notify_ws)
    assert {n.status for n in notices} == {"queued"}
    assert all(n.lease_owner == "" and n.attempts == 0 for n in notices)


def _many(ws: Path, count: int) -> None:
    """``count`` more planned user notices (addresses at example.com) beside the plan."""
    facts = '{"categories": ["user.contact.email", "user.name"], "mfa": "off"}'
    _add_notices(ws, [
        {"user_id": f"bulk{i}", "email": f"bulk{i}@example.com", "name": "Test Person",
         "reference": f"BD-BULK{i:05d}"[:14], "facts": facts}
        for i in range(count)
    ])  # fmt: skip


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found |= {child} | _descendants(child)
    return found


def _statuses(db: Path) -> Counter[str]:
    """The notices' statuses, read beside a running sender (WAL: the reader waits for no one)."""
    with sqlite3.connect(db, timeout=30) as conn:
        return Counter(dict(conn.execute("SELECT status, count(*) FROM notice GROUP BY status")))


def _leased_by(db: Path, pid: int) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        query = "SELECT count(*) FROM notice WHERE lease_owner LIKE ?"
        return int(conn.execute(query, (f"%:{pid}:%",)).fetchone()[0])


# the sender is killed at chosen points of its campaign, found by watching what it does (its
# helper processes, its leases in the store, the SMTP server's receipts) rather than by a
# random delay: a delay is measured in a machine's speed, and on a loaded one twenty random
# kills all fell before the first message. Sends go in groups of 8 (4 connections x 2).
BATCH = 40
# (where, the n-th message of the run, kill this long after its reply; None: before it)
MESSAGE_KILLS: list[tuple[str, int, float | None]] = [
    ("the first message, unanswered", 1, None),
    ("the end of the first group, unanswered", 8, None),
    ("just after the first group's replies, while they are recorded", 8, 0.002),
    ("the middle of a group", 12, None),
    ("the end of a batch", BATCH, None),
    ("the first message of the batch prepared ahead", BATCH + 1, None),
]


def test_killed_in_every_phase_of_a_campaign_loses_nothing(
    notify_ws: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    _many(notify_ws, 300)
    env = _env(port, BREACHDESK_NOTIFY__BATCH=str(BATCH))
    command = [sys.executable, "-m", "breachdesk", "notify", "send", str(notify_ws), "--live",
               "--per-second", "200", "--per-domain", "0", "--no-progress"]  # fmt: skip
    db = notify_ws / "desk.db"
    helpers: set[int] = set()
    unanswered: list[str] = []  # messages the server took but whose sender died before the reply

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip

    def kill(process: subprocess.Popen[bytes]) -> None:
        helpers.update(_descendants(process.pid))
        process.send_signal(signal.SIGKILL)

    def kill_when(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 120
        while not ready():
            assert process.poll() is None, "the send finished before the point to kill it"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        kill(process)
        assert process.wait() == -signal.SIGKILL

    # while its helpers start, nothing queued yet
    process = start()
    kill_when(process, lambda: bool(_descendants(process.pid)))
    assert _statuses(db)["queued"] == 0
    # while the helpers compose and lint the plan
    process = start()
    kill_when(process, lambda: len(_descendants(process.pid)) >= 3)
    assert _statuses(db)["planned"] > 300
    # everything queued, the first batch leased, its messages being prepared: none sent
    process = start()
    kill_when(process, lambda: _leased_by(db, process.pid) > 0)
    assert handler.received == [] and _statuses(db)["planned"] == 0
    total = _statuses(db)["queued"]
    # at chosen messages of the campaign, the last one last
    for where, nth, after in [*MESSAGE_KILLS, ("the campaign's last message", 0, None)]:
        process = start()
        base = len(handler.received)

        def at(count: int, process: subprocess.Popen[bytes] = process, base: int = base,
               nth: int = nth, after: float | None = after) -> None:  # fmt: skip
            if nth and count - base != nth:
                return
            if not nth and len(set(handler.message_ids())) < total:
                return
            handler.on_received = None
            if after is None:
                unanswered.append(handler.message_ids()[count - 1])
                kill(process)
            else:
                threading.Timer(after, kill, (process,)).start()

        handler.on_received = at
        assert process.wait(timeout=300) == -signal.SIGKILL, f"not killed at {where}"
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    deadline = time.monotonic() + 3  # helpers notice within a second that their sender is gone
    while [p for p in helpers if Path(f"/proc/{p}").exists()] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert helpers and not [p for p in helpers if Path(f"/proc/{p}").exists()]
    notices = _notices(notify_ws)
    assert {n.status for n in notices} == {"sent"} and len(notices) == total
    received = Counter(handler.message_ids())
    assert set(received) == {n.message_id for n in notices}  # none lost, nothing foreign
    # a message whose reply its sender never heard went again; beyond those, at most the
    # in-flight group of each kill during the sends went twice
    assert len(unanswered) == len([k for k in MESSAGE_KILLS if k[2] is None]) + 1
    assert all(received[message_id] >= 2 for message_id in unanswered)
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= (len(MESSAGE_KILLS) + 1) * 8
    store = store_of(notify_ws)
    with store.session() as session:
        sent_attempts = Counter(
            session.scalars(
                select(m.DeliveryAttempt.notice_id).where(m.DeliveryAttempt.outcome == "sent")
            )
        )
    assert set(sent_attempts.values()) == {1} and len(sent_attempts) == len(notices)
    # each sender killed holding leases had them taken back by the next, not left to run out
    reclaimed = [e.payload["leases_reclaimed"] for e in read_events(store)
                 if e.action == "notify.campaign_resumed"]  # fmt: skip
    assert len([n for n in reclaimed if n > 0]) == len(MESSAGE_KILLS) + 2
    assert verify_chain(store).intact
    store.close()
    summary = within(notify_ws, status)
    assert sum(summary.by_kind["user"].values()) == summary.by_kind["user"]["sent"] > 300


PG_URL = os.environ.get("BREACHDESK_TEST_PG_URL", "")


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: .ci/run starts one")
def test_several_workers_on_postgresql_send_each_notice_once(
    notify_ws: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    with open_ws(notify_ws, PG_URL) as ws:  # a fresh store: the details recorded again
        record_identity(ws)
    plan = runner.invoke(app, ["notify", "plan", str(notify_ws), "--store", PG_URL])
    assert plan.exit_code == 0, plan.output
    store = store_of(notify_ws, PG_URL)
    store.incident_id()
    with store.session() as session, session.begin():
        session.execute(update(m.Incident).values(vendor="Mixpanel"))
    store.close()
    _add_notices(notify_ws, [
        {"user_id": f"pg{i}", "email": f"pg{i}@example.org", "locale": "ja",
         "reference": f"BD-PG{i:06d}"[:14]} for i in range(400)], PG_URL)  # fmt: skip
    within(notify_ws, send, live=False, store_url=PG_URL)  # a dry run changes nothing
    env = _env(port, BREACHDESK_NOTIFY__BATCH="20")
    command = [sys.executable, "-m", "breachdesk", "notify", "send", str(notify_ws), "--live",
               "--store", PG_URL, "--no-progress", "--helpers", "0", "--per-second", "60", "--per-domain", "0"]  # fmt: skip
    # each worker paced to 60/s: no one of them can drain the queue before the others start
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]  # fmt: skip
    for w in workers:
        assert w.wait(timeout=300) == 0, w.stderr.read() if w.stderr else ""
    notices = _notices(notify_ws, PG_URL)
    assert {n.status for n in notices} == {"sent"} and len(notices) > 400
    received = Counter(handler.message_ids())
    assert set(received.values()) == {1}, "a notice was sent twice"
    assert set(received) == {n.message_id for n in notices}
    store = store_of(notify_ws, PG_URL)
    with store.session() as session:
        workers_used = session.scalars(select(m.DeliveryAttempt.worker).distinct()).all()
    assert len(workers_used) >= 2  # the work was really split
    assert verify_chain(store).intact
    store.close()


MAILDIR = os.environ.get("BREACHDESK_TEST_POSTFIX_MAILDIR", "")


@pytest.mark.skipif(not MAILDIR, reason="no Postfix: .ci/run installs one on loopback")
def test_through_postfix_into_a_maildir(notify_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", "25")
    result = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert result.exit_code == 0, result.output
    notices = {n.message_id: n for n in _notices(notify_ws)}
    found: dict[str, bytes] = {}
    deadline = time.time() + 60
    while time.time() < deadline and len(found) < len(notices):
        for folder in ("new", "cur"):
            for path in (Path(MAILDIR) / folder).glob("*"):
                data = path.read_bytes()
                message_id = str(message_from_bytes(data)["Message-ID"])
                if message_id in notices:
                    found[message_id] = data
        time.sleep(0.5)
    assert set(found) == set(notices)
    record = _record(notify_ws)
    for message_id, data in found.items():
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: record), message_id
        parsed = message_from_bytes(data)
        assert parsed["Delivered-To"]  # it went through Postfix's local delivery
        plain, html = [p.get_payload(decode=True).decode() for p in list(parsed.walk())[1:]]
        assert notices[message_id].reference in plain and notices[message_id].reference in html


def test_bad_input_is_named_and_leaves_the_outbox_consistent(
    notify_ws: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = sink
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
    _add_notices(notify_ws, [{"user_id": "bad", "email": "not an address",
                              "name": "Click http://evil.example now", "locale": "xx",
                              "reference": "BD-BADXX-ADDR1",
                              "facts": '{"categories": ["user.contact.email"], "mfa": "off"}'}])  # fmt: skip
    result = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert result.exit_code == 1 and "recipient address: not an address" in result.stdout
    bad = next(n for n in _notices(notify_ws) if n.user_id == "bad")
    assert bad.status == "refused" and "not an address" in bad.hold_reason
    assert all(b"evil.example" not in data for _, _, data in handler.received)
    # a store written by a newer breachdesk is refused by name
    engine = create_engine(f"sqlite:///{notify_ws / 'desk.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    newer = runner.invoke(app, ["notify", "status", str(notify_ws)])
    assert newer.exit_code == 2 and "revision 0099 is newer" in newer.output


def test_sigterm_pauses_the_campaign_and_a_rerun_resumes_it(
    notify_ws: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    _many(notify_ws, 200)
    command = [sys.executable, "-m", "breachdesk", "notify", "send", str(notify_ws), "--live",
               "--per-second", "20", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, env=_env(port), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.time() + 60
    while not handler.received and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and "paused: stopped by the operator" in stderr
    paused = _notices(notify_ws)
    assert all(n.lease_owner == "" for n in paused)  # every lease given back
    assert {n.status for n in paused} == {"queued", "sent"}
    # the rest at 200/s, not the default 50/s: how fast the rerun goes is not the point here
    done = subprocess.run([*command[:-3], "--per-second", "200", "--per-domain", "0",
                           "--no-progress"], env=_env(port), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {n.status for n in _notices(notify_ws)} == {"sent"}
    store = store_of(notify_ws)
    actions = [
        e.action
        for e in __import__("breachdesk.store", fromlist=["read_events"]).read_events(store)
    ]
    store.close()
    assert "notify.campaign_paused" in actions and "notify.campaign_resumed" in actions
    assert actions.count("notify.batch_leased") >= 2 and "notify.batch_done" in actions


def test_an_ed25519_signature_beside_the_rsa_one(
    notify_ws: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from breachdesk.settings import load_settings, write_settings

    handler, port = sink
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
    settings = load_settings(notify_ws)
    write_settings(notify_ws, settings.model_copy(update={"dkim_selectors": ["bd2026", "ed26"]}))
    keys = runner.invoke(app, ["notify", "keys", str(notify_ws)])
    assert keys.exit_code == 0 and "k=ed25519" in keys.stdout and "k=rsa" in keys.stdout
    records = {
        b"bd2026._domainkey.example.com.": _record(notify_ws),
        b"ed26._domainkey.example.com.": Signer.load(notify_ws, "example.com", "ed26")
        .dns_record()
        .encode(),
    }
    result = runner.invoke(app, ["notify", "send", str(notify_ws), "--live", "--helpers", "0"])
    assert result.exit_code == 0, result.output
    assert handler.received
    for _, _, data in handler.received:
        checker = dkim.DKIM(data)
        assert checker.verify(idx=0, dnsfunc=lambda name, timeout=5: records[name])
        assert checker.verify(idx=1, dnsfunc=lambda name, timeout=5: records[name])
        algorithms = sorted(re.findall(rb"a=([a-z0-9-]+);", data.split(b"\r\n\r\n")[0]))
        assert algorithms == [b"ed25519-sha256", b"rsa-sha256"]
