"""The store on PostgreSQL (from Debian, started by .ci/run): migrations, the audit chain
with concurrent writers, and the incident commands. Skipped, with the reason, where no
server is configured (BREACHDESK_TEST_PG_URL)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.store import AuditKey, Store, append_event, open_store, read_events, verify_chain
from helpers import store_of

PG_URL = os.environ.get("BREACHDESK_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not PG_URL, reason="no PostgreSQL: .ci/run starts one and sets BREACHDESK_TEST_PG_URL"
)


@pytest.fixture
def pg_url() -> str:
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return PG_URL


def _bare(url: str, folder: Path) -> Store:
    """The store alone, as each process of a team opens it: one key, one head file."""
    return open_store(url, folder, AuditKey.load(folder / "audit.key"), folder / "head")


def _append_many(url: str, folder: Path, worker: int, count: int) -> None:
    store = _bare(url, folder)
    for i in range(count):
        append_event(store, "test.concurrent", {"worker": worker, "n": i})
    store.close()


def test_concurrent_writers_keep_one_chain(pg_url: str, tmp_path: Path) -> None:
    _bare(pg_url, tmp_path).close()  # migrate once
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(pg_url, tmp_path, w, 40)) for w in range(3)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    store = _bare(pg_url, tmp_path)
    check = verify_chain(store)
    assert (check.intact, check.entries, check.broken) == (True, 120, "")
    assert check.head is not None and check.head.seq == 120
    assert sorted(e.payload["n"] for e in read_events(store) if e.payload["worker"] == 1) == list(
        range(40)
    )
    store.close()


def test_workspace_with_a_team_store(small: tuple[Path, Path], tmp_path: Path, pg_url: str) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "breachdesk.toml").write_text(f'store_url = "{pg_url}"\n')
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    runner = CliRunner()
    for args in (
        ["incident", "set", str(ws), "--aware", "company=2026-11-24T09:00:00Z", "--vendor", "V"],
        ["incident", "decide", str(ws), "--subject", "gdpr-art34", "--decision", "required",
         "--rationale", "reset token", "--by", "dpo"],
        ["obligations", str(ws), "--json"],
        ["duty", "delay-reason", str(ws), "gdpr-art33", "--reason", "the dataset came on day 4"],
        ["report", "authority", str(ws), "--regime", "gdpr-art33"],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert not (ws / "desk.db").exists()
    store = store_of(ws)
    actions = [e.action for e in read_events(store)]
    assert actions[:2] == ["assess.started", "assess.finished"]
    assert "decision.recorded" in actions and verify_chain(store).intact
    store.close()
