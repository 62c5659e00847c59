"""The store: migrations, the incident row, and the keyed, head-anchored audit log — each
way of tampering with it (an edited entry, removed last entries, a rewrite with recomputed
hashes, an edited incident table) detected."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.services import incident
from breachdesk.services.audit import verify_audit
from breachdesk.store import (
    AuditKey,
    Head,
    Store,
    append_event,
    open_store,
    read_events,
    verify_chain,
)
from breachdesk.store.audit import GENESIS
from helpers import open_ws, store_of


def _bare(tmp_path: Path) -> Store:
    return open_store(
        "sqlite:///desk.db", tmp_path, AuditKey.load(tmp_path / "audit.key"), tmp_path / "head"
    )


def test_chain_appends_and_verifies(tmp_path: Path) -> None:
    store = _bare(tmp_path)
    for i in range(5):
        append_event(store, "test.event", {"n": i})
    check = verify_chain(store)
    assert (check.intact, check.entries, check.broken) == (True, 5, "")
    entries = list(read_events(store))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert json.loads((tmp_path / "head").read_text())["seq"] == 5
    assert check.head == Head(5, entries[-1].hash)
    store.close()


def test_an_edited_entry_is_detected(tmp_path: Path) -> None:
    store = _bare(tmp_path)
    for i in range(3):
        append_event(store, "test.event", {"n": i})
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET payload = '{\"n\": 9}' WHERE seq = 2"))
    check = verify_chain(store)
    assert not check.intact and "entry 2" in check.broken
    store.close()


def test_removing_the_last_entries_is_detected(tmp_path: Path) -> None:
    store = _bare(tmp_path)
    for i in range(5):
        append_event(store, "test.event", {"n": i})
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq > 3"))
    check = verify_chain(store)
    assert not check.intact and "entries were removed" in check.broken
    store.close()


def test_deleting_the_head_file_too_is_detected(tmp_path: Path) -> None:
    store = _bare(tmp_path)
    for i in range(3):
        append_event(store, "test.event", {"n": i})
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    (tmp_path / "head").unlink()
    check = verify_chain(store)
    assert not check.intact and "missing" in check.broken
    store.close()


def test_a_rewrite_with_recomputed_hashes_is_detected(tmp_path: Path) -> None:
    """Someone who can write the database but not read the key recomputes every hash of
    a changed log the way a plain SHA-256 chain would allow: the keyed chain says no."""
    store = _bare(tmp_path)
    for i in range(3):
        append_event(store, "decision", {"n": i})
    with store.engine.begin() as conn:
        rows = conn.execute(
            text("SELECT seq, at, actor, action, payload FROM audit_event ORDER BY seq")
        ).all()
        prev = GENESIS
        for seq, at, actor, action, payload in rows:
            if seq == 2:
                payload = '{"n":"forged"}'
            body = prev.encode() + orjson.dumps([seq, at, actor, action, payload])
            digest = hashlib.sha256(body).hexdigest()
            conn.execute(
                text("UPDATE audit_event SET payload=:p, prev_hash=:h0, hash=:h WHERE seq=:s"),
                {"p": payload, "h0": prev, "h": digest, "s": seq},
            )
            prev = digest
    check = verify_chain(store)
    assert not check.intact and "entry 1" in check.broken
    store.close()


def test_a_rewrite_with_the_key_still_differs_from_an_expected_head(tmp_path: Path) -> None:
    """Even a rewrite by someone holding the key is caught by a head kept elsewhere (an
    earlier export, an evidence bundle)."""
    store = _bare(tmp_path)
    for i in range(3):
        append_event(store, "test.event", {"n": i})
    kept = verify_chain(store).head
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
    (tmp_path / "head").unlink()
    for i in range(3):
        append_event(store, "test.event", {"n": i * 10})
    assert verify_chain(store).intact
    check = verify_chain(store, kept)
    assert not check.intact and "expected head" in check.broken
    store.close()


def test_an_edited_decision_table_disagrees_with_the_log(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    export, directory = small
    ws_path = tmp_path / "ws"
    assess(AssessRequest([export], ws_path, directory=directory, workers=1))
    with open_ws(ws_path) as ws:
        incident.decide(ws, "gdpr-art33", "not_required", "no EU residents", "dpo")
        incident.add_task(ws, "Call the vendor", "sec", None, "sec")
        incident.add_event(ws, "2026-11-20T10:00:00Z", "SDK removed", "sec")
        incident.update(ws, "sec", vendor="Mixpanel", aware={"company": "2026-11-20T09:00:00Z"})
        verdict = verify_audit(ws)
        assert verdict.ok, verdict.disagreements
        with ws.store.engine.begin() as conn:
            conn.execute(text("UPDATE decision SET decision = 'required'"))
            conn.execute(text("UPDATE task SET owner = 'mallory'"))
            conn.execute(text("UPDATE incident SET vendor = 'Other'"))
        verdict = verify_audit(ws)
        assert verdict.chain.intact and not verdict.ok
        assert {(d.table, d.key) for d in verdict.disagreements} == {
            ("decision", "1"), ("task", "1"), ("incident", "vendor")
        }  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "verify", str(ws_path)])
    assert result.exit_code == 1 and "disagree" in result.output


def test_a_decision_and_its_entry_commit_together(small: tuple[Path, Path], tmp_path: Path) -> None:
    """A failure after the row is written leaves neither the row nor the entry."""
    export, directory = small
    ws_path = tmp_path / "ws"
    assess(AssessRequest([export], ws_path, directory=directory, workers=1))
    with open_ws(ws_path) as ws:
        with pytest.raises(RuntimeError), ws.store.write() as tx:
            tx.audit("decision.recorded", {"id": 99})
            raise RuntimeError("crash between the two")
        assert [e.action for e in read_events(ws.store)][-1] == "assess.finished"
        assert verify_audit(ws).ok


def test_assess_records_its_run(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    store = store_of(ws)
    actions = [e.action for e in read_events(store)]
    assert actions == ["assess.started", "assess.finished"]
    finished = list(read_events(store))[-1].payload
    assert set(finished["outputs"]) >= {"impact.json", "affected_users.csv", "findings.csv"}
    assert all(len(h) == 64 for h in finished["inputs"].values())
    assert verify_chain(store).intact
    store.close()


def test_audit_export_and_verify_commands(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "export", str(ws)])
    assert result.exit_code == 0 and "2 entries, chain verified" in result.stdout
    lines = [json.loads(line) for line in (ws / "audit.jsonl").read_text().splitlines()]
    entries, head = lines[:-1], lines[-1]["head"]
    assert [e["action"] for e in entries] == ["assess.started", "assess.finished"]
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    assert head == {"seq": 2, "hash": entries[1]["hash"]}
    expected = f"{head['seq']}:{head['hash']}"
    verified = runner.invoke(app, ["audit", "verify", str(ws), "--expect-head", expected])
    assert verified.exit_code == 0, verified.output
    store = store_of(ws)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET action = 'assess.forged' WHERE seq = 1"))
    store.close()
    broken = runner.invoke(app, ["audit", "export", str(ws), "--out", str(tmp_path / "log.jsonl")])
    assert broken.exit_code == 1 and "entry 1" in broken.output
    assert (tmp_path / "log.jsonl").exists()  # the evidence is written all the same
    bad_head = runner.invoke(app, ["audit", "verify", str(ws), "--expect-head", "2:abc"])
    assert bad_head.exit_code == 2 and "SEQUENCE:HASH" in bad_head.output


def test_a_store_from_before_the_keyed_log_upgrades(tmp_path: Path) -> None:
    """Entries written by an older breachdesk (plain SHA-256, times in seconds) verify after
    the upgrade, and keyed entries follow them."""
    import sqlite3
    from importlib import resources

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from breachdesk.store.db import resolve_url

    url = resolve_url("sqlite:///desk.db", tmp_path)
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("breachdesk.store") / "migrations")
    )
    engine = create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    engine.dispose()
    prev = GENESIS
    with sqlite3.connect(tmp_path / "desk.db") as db:
        db.execute(
            "INSERT INTO incident (id, title, created_at, vendor, timezone, official_domains,"
            " sender) VALUES (1, 't', '2026-11-20 10:00:00.000000', '', 'UTC', '[]', '')"
        )
        db.execute(
            "INSERT INTO decision (incident_id, subject, decision, rationale, decided_by,"
            " decided_at) VALUES (1, 's', 'd', 'r', 'dpo', '2026-11-20T10:00:00Z')"
        )
        for seq in (1, 2):
            at = f"2026-11-20T10:00:0{seq}.000000+00:00"
            payload = f'{{"n":{seq}}}'
            digest = hashlib.sha256(
                prev.encode() + orjson.dumps([seq, at, "old", "old.event", payload])
            ).hexdigest()
            db.execute(
                "INSERT INTO audit_event VALUES (?, 1, ?, 'old', 'old.event', ?, ?, ?)",
                (seq, at, payload, prev, digest),
            )
            prev = digest
    store = _bare(tmp_path)
    append_event(store, "new.event", {})
    check = verify_chain(store)
    assert check.intact and check.entries == 3, check.broken
    store.close()


def test_a_store_from_a_newer_breachdesk_is_refused_by_name(tmp_path: Path) -> None:
    import sqlite3

    from breachdesk.errors import SchemaError

    _bare(tmp_path).close()
    _bare(tmp_path).close()  # at the newest schema: opened again as it is
    with sqlite3.connect(tmp_path / "desk.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(SchemaError, match="schema revision 9999_from_the_future is newer"):
        _bare(tmp_path)


@pytest.mark.parametrize("recorded", ["a prefix of the head", "two revisions"])
def test_a_store_at_no_single_known_revision_is_refused_by_name(
    tmp_path: Path, recorded: str
) -> None:
    # a prefix of a revision's id (Alembic would take it for the revision) or two revisions
    # at once: both written by something else than breachdesk, refused before any change
    import sqlite3

    from breachdesk.errors import SchemaError
    from breachdesk.store.db import _scripts, migrations_folder

    _bare(tmp_path).close()
    scripts = _scripts(migrations_folder())
    head = scripts.get_current_head()
    assert head is not None
    down = scripts.get_revision(head).down_revision
    values = [head[:-1]] if recorded == "a prefix of the head" else [head, str(down)]
    with sqlite3.connect(tmp_path / "desk.db") as db:
        db.execute("DELETE FROM alembic_version")
        db.executemany("INSERT INTO alembic_version VALUES (?)", [(v,) for v in values])
    with pytest.raises(SchemaError, match="revision"):
        _bare(tmp_path)


_OPEN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from breachdesk.store import open_store
    from breachdesk.store.audit import AuditKey
    ws, start = Path(sys.argv[1]), float(sys.argv[2])
    while time.time() < start:
        pass
    try:
        open_store("sqlite:///desk.db", ws, AuditKey(b"k" * 32), ws / "head").close()
        print("ok")
    except Exception as exc:
        print(type(exc).__name__, exc)
    """
)


def test_two_processes_opening_a_new_store_at_once_both_open_it(tmp_path: Path) -> None:
    # both read "no alembic_version" in a deferred transaction, both upgrade: the second's
    # read snapshot is stale once the first commits, so SQLite answers "database is locked"
    # at once instead of waiting (8 failures in 8 tries here; BEGIN IMMEDIATE: 0 in 6)
    for trial in range(3):
        ws = tmp_path / str(trial)
        ws.mkdir()
        start = time.time() + 2.5
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN, str(ws), str(start)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=120)[0].strip() for run in runs]
        assert outputs == ["ok", "ok"], outputs
