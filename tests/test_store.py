"""The store: migrations, the incident row, and the hash-chained audit log."""

from __future__ import annotations

import itertools
from pathlib import Path

from sqlalchemy import text

from breachdesk import AssessRequest, assess
from breachdesk.store import append_event, open_store, read_events, verify_chain


def test_chain_appends_and_verifies(tmp_path: Path) -> None:
    store = open_store("sqlite:///desk.db", tmp_path)
    for i in range(5):
        append_event(store, "test.event", {"n": i})
    assert verify_chain(store) == (True, 5, "")
    entries = list(read_events(store))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    store.close()


def test_tampering_is_detected(tmp_path: Path) -> None:
    store = open_store("sqlite:///desk.db", tmp_path)
    for i in range(3):
        append_event(store, "test.event", {"n": i})
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET payload = '{\"n\": 9}' WHERE seq = 2"))
    ok, _, why = verify_chain(store)
    assert not ok and "entry 2" in why
    store.close()


def test_assess_records_its_run(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    store = open_store("sqlite:///desk.db", ws)
    actions = [e.action for e in read_events(store)]
    assert actions == ["assess.started", "assess.finished"]
    finished = list(read_events(store))[-1].payload
    assert set(finished["outputs"]) >= {"impact.json", "affected_users.csv", "findings.csv"}
    assert all(len(h) == 64 for h in finished["inputs"].values())
    assert verify_chain(store)[0]
    store.close()


def test_audit_export_command(small: tuple[Path, Path], tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from breachdesk.cli import app

    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "export", str(ws)])
    assert result.exit_code == 0 and "2 entries, chain verified" in result.stdout
    lines = [json.loads(line) for line in (ws / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in lines] == ["assess.started", "assess.finished"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    store = open_store("sqlite:///desk.db", ws)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET action = 'assess.forged' WHERE seq = 1"))
    store.close()
    broken = runner.invoke(app, ["audit", "export", str(ws), "--out", str(tmp_path / "log.jsonl")])
    assert broken.exit_code == 1 and "entry 1" in broken.output
    assert (tmp_path / "log.jsonl").exists()  # the evidence is written all the same
