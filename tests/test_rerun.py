"""Assess again into a workspace that holds an incident (issue 12, item 1): refused and left
byte-identical without --replace; with it, the run in force kept as a numbered snapshot, both
runs and their hashes in the audit log, notices planned or sent never dropped or
re-addressed, and the differences written for a person to act on. A run without the
directory is refused: it would forget every affected person (the issue's scenario: affected
users went to zero, and Art. 33 became "not required")."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.services.audit import verify_audit
from breachdesk.settings import load_settings
from breachdesk.store import models as m
from breachdesk.store import read_events
from helpers import open_ws, store_of
from smtp_sink import Sink, start

runner = CliRunner()


def _files(ws: Path) -> dict[str, str]:
    """SHA-256 of every file of the workspace (links as their targets), mode included."""
    found = {}
    for path in sorted(ws.rglob("*")):
        name = str(path.relative_to(ws))
        if path.is_symlink():
            found[name] = "-> " + os.readlink(path)
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[name] = f"{digest} {path.stat().st_mode & 0o777:o}"
    return found


def _assess(export: Path, ws: Path, directory: Path | None, *extra: str) -> tuple[int, str]:
    args = ["assess", str(export), "--out", str(ws), "--workers", "1", *extra]
    if directory is not None:
        args += ["--directory", str(directory)]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


@pytest.fixture
def incident(small: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """The small incident assessed once (run 1), its details recorded."""
    export, directory = small
    ws = tmp_path / "ws"
    code, output = _assess(export, ws, directory)
    assert code == 1, output  # the small export holds a credential and a card
    ok = runner.invoke(app, ["incident", "set", str(ws), "--vendor", "Mixpanel", "--aware",
                             "company=2026-11-20T14:05:00Z"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    return export, directory, ws


def _changed_directory(directory: Path, tmp_path: Path) -> Path:
    """u3 leaves the directory; u12 (nobody@example.com, unmatched in run 1) joins o1."""
    changed = tmp_path / "directory-2"
    shutil.copytree(directory, changed)
    users = changed / "users.csv"
    rows = [r for r in users.read_text().splitlines(keepends=True) if not r.startswith("u3,")]
    users.write_text("".join(rows) + "u12,nobody@example.com,Nora New,en,US,false,active,,\n")
    with (changed / "memberships.csv").open("a") as fh:
        fh.write("u12,o1,member\n")
    return changed


# (scenario, --directory given as, extra arguments) -> refused without touching anything
REFUSED = [
    ("same inputs", "same", [], "already holds an incident: run 1 (9 affected users)"),
    ("changed directory", "changed", [], "add --replace"),
    ("missing directory", "none", [], "already holds an incident"),
    ("missing directory", "none", ["--replace"], "a run without --directory would forget them"),
]  # fmt: skip


@pytest.mark.parametrize(("scenario", "given", "extra", "says"), REFUSED)
def test_a_refused_run_leaves_the_workspace_byte_identical(
    incident: tuple[Path, Path, Path],
    tmp_path: Path,
    scenario: str,
    given: str,
    extra: list[str],
    says: str,
) -> None:
    export, directory, ws = incident
    chosen = {"same": directory, "changed": _changed_directory(directory, tmp_path),
              "none": None}[given]  # fmt: skip
    before = _files(ws)
    code, output = _assess(export, ws, chosen, *extra)
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], output
    assert _files(ws) == before, scenario
    assert load_settings(ws).directory == str(directory.resolve())  # not forgotten


def _run_entries(ws: Path) -> list[dict[str, object]]:
    with open_ws(ws) as opened:
        return [e.payload for e in read_events(opened.store) if e.action == "assess.finished"]


def test_same_inputs_replaced_keep_the_run_before_and_log_both(
    incident: tuple[Path, Path, Path],
) -> None:
    export, directory, ws = incident
    kept = _files(ws / "runs" / "1")
    code, output = _assess(export, ws, directory, "--replace")
    assert code == 1, output
    assert "changes since run 1: none" in output
    assert os.readlink(ws / "current") == "runs/2"
    assert _files(ws / "runs" / "1") == kept  # the snapshot is untouched
    first, second = _run_entries(ws)
    assert first["run"] == 1 and second["run"] == 2 and second["previous_run"] == 1
    # both runs with their hashes: the first as written, the second naming the first's files
    recorded = {k: v for k, v in second["previous_outputs"].items()}  # type: ignore[attr-defined]
    for name, digest in first["outputs"].items():  # type: ignore[attr-defined]
        assert recorded[name] == digest, name
    assert {"changes.json", "changes.csv"} <= set(second["outputs"])  # type: ignore[arg-type]
    with open_ws(ws) as opened:
        actions = [e.action for e in read_events(opened.store)]
        assert actions.count("assess.changes") == 1
        assert verify_audit(opened).ok
    changes = json.loads((ws / "runs" / "2" / "changes.json").read_text())
    assert changes["previous_run"] == 1 and changes["run"] == 2
    assert changes["users"] == {"newly_affected": [], "no_longer_affected": [],
                                "exposure_changed": []}  # fmt: skip
    assert (ws / "runs" / "2" / "changes.csv").read_text() == "change,kind,id,notices\n"
    for name in ("changes.json", "changes.csv"):
        assert (ws / "runs" / "2" / name).stat().st_mode & 0o777 == 0o600


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    controller, port = start(handler)
    yield handler, port
    controller.stop()


def _notices(ws: Path) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    store = store_of(ws)
    with store.session() as session:
        rows = {
            (n.kind, n.user_id, n.org_id): (n.status.value, n.email, n.reference)
            for n in session.scalars(select(m.Notice))
        }
    store.close()
    return rows


def _send_all(ws: Path, port: int) -> None:
    from conftest import IDENTITY_ARGS

    for args in (["incident", "set", str(ws), *IDENTITY_ARGS],
                 ["incident", "event", str(ws), "--measure", "--at", "2026-11-20T15:00:00Z",
                  "--summary", "We removed the analytics SDK from our website."],
                 ["notify", "keys", str(ws)], ["notify", "plan", str(ws)]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    sent = runner.invoke(app, ["notify", "send", str(ws), "--live", "--helpers", "0",
                               "--no-progress"], env={"BREACHDESK_SMTP__PORT": str(port)})  # fmt: skip
    assert sent.exit_code == 0, sent.output


def test_after_notices_were_sent_a_changed_directory_reports_and_keeps_them(
    incident: tuple[Path, Path, Path], tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    export, directory, ws = incident
    _send_all(ws, sink[1])
    notices = _notices(ws)
    assert {s for s, _, _ in notices.values()} == {"sent"}
    before = _files(ws)
    code, output = _assess(export, ws, _changed_directory(directory, tmp_path))
    assert code == 2 and f"notices {len(notices)} sent" in output, output
    assert _files(ws) == before
    code, output = _assess(export, ws, _changed_directory(directory, tmp_path / "b"), "--replace")
    assert code == 1, output
    assert "users 1 newly affected, 1 no longer affected (their notices: 1 sent)" in output
    assert _notices(ws) == notices  # nothing dropped, nothing re-addressed, still sent
    with (ws / "runs" / "2" / "changes.csv").open() as fh:
        rows = {(r["change"], r["kind"], r["id"]): r["notices"] for r in csv.DictReader(fh)}
    # o1 keeps 3 affected members (u3 left, u12 came): the people are listed, not o1
    assert rows == {
        ("newly_affected", "user", "u12"): "none",
        ("no_longer_affected", "user", "u3"): "sent",
    }
    # the duties still rest on the people affected: Art. 33 did not become "not required"
    duties = runner.invoke(app, ["obligations", str(ws), "--json"])
    results = {r["rule"]: r["outcome"] for r in json.loads(duties.stdout)["duties"]}
    assert results["gdpr-art33"] == "required"
    # a plan now adds the newly affected one's notice and drops none
    planned = runner.invoke(app, ["notify", "plan", str(ws)])
    assert planned.exit_code == 0, planned.output
    after = _notices(ws)
    assert {k: v for k, v in after.items() if k in notices} == notices
    assert after[("user", "u12", "")][0] == "planned"


def test_notify_plan_rematch_keeps_working_and_never_readdresses(
    incident: tuple[Path, Path, Path],
) -> None:
    from conftest import IDENTITY_ARGS

    _, directory, ws = incident
    for args in (["incident", "set", str(ws), *IDENTITY_ARGS],
                 ["incident", "event", str(ws), "--measure", "--at", "2026-11-20T15:00:00Z",
                  "--summary", "SDK removed"], ["notify", "plan", str(ws)]):  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0
    notices = _notices(ws)
    users = directory / "users.csv"
    text = users.read_text()
    # u1's address changes (an attacker's, perhaps); u2's only changes case; u12 joins
    text = text.replace("u1,alice@example.com", "u1,alice@attacker.example")
    text = text.replace("Bob.Builder@Example.org", "bob.builder@example.org")
    users.write_text(text + "u12,nobody@example.com,Nora New,en,US,false,active,,\n")
    refused = runner.invoke(app, ["notify", "plan", str(ws)])
    assert refused.exit_code == 2 and "changed since assess" in refused.output
    rematched = runner.invoke(app, ["notify", "plan", str(ws), "--rematch"])
    assert rematched.exit_code == 0, rematched.output
    assert "changes since run 1: users 1 newly affected" in rematched.output
    # u1 gets a user notice and, as o1's owner, an admin notice: both keep their address
    assert "held: 2 — the directory gives another address" in rematched.output
    assert os.readlink(ws / "current") == "runs/2" and (ws / "runs" / "1").is_dir()
    after = _notices(ws)
    assert set(notices) <= set(after)  # none dropped
    assert after[("user", "u1", "")][:2] == ("held", "alice@example.com")  # not re-addressed
    assert after[("admin", "u1", "o1")][:2] == ("held", "alice@example.com")
    assert after[("user", "u2", "")][1] == "bob.builder@example.org"  # the same address
    assert after[("user", "u12", "")][0] == "planned"
    readdressed = runner.invoke(app, ["notify", "plan", str(ws), "--readdress"])
    assert readdressed.exit_code == 0, readdressed.output
    assert _notices(ws)[("user", "u1", "")][:2] == ("planned", "alice@attacker.example")
    with open_ws(ws) as opened:
        assert verify_audit(opened).ok
