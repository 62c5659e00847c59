"""The workspace under crash, re-run and concurrency: typed tables that do not depend on the
spreadsheet escaping of the CSVs, run folders switched in one rename, a killed assess never
leaving a mix, later commands refusing an unfinished workspace, one assess at a time."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.errors import InputError
from breachdesk.report.tables import affected_organizations, affected_users
from breachdesk.services.assess import assess_lock
from breachdesk.services.notify_plan import plan_notices
from breachdesk.services.workspace import OUTPUT_NAMES, Workspace
from breachdesk.store import read_events
from conftest import record_identity
from helpers import open_ws

HOSTILE = ["-7", "=1+2", "+44", "@home", "\tTAB1", "\rCR1"]


def _hostile_incident(root: Path) -> tuple[Path, Path]:
    directory = root / "directory"
    export = root / "export"
    directory.mkdir(parents=True)
    export.mkdir()
    with (directory / "users.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "email", "name", "locale", "country", "mfa_enabled", "status"])
        for i, uid in enumerate(HOSTILE):
            w.writerow([uid, f"p{i}@example.org", "Pat Doe", "en", "DE", "false", "active"])
    with (directory / "organizations.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["org_id", "name"], ["-org", "Minus Ltd"]])
    with (directory / "memberships.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "org_id", "role"])
        w.writerow([HOSTILE[0], "-org", "owner"])
        w.writerow([HOSTILE[1], "-org", "member"])
    with (export / "events.jsonl").open("w") as fh:
        for i, uid in enumerate(HOSTILE):
            props = {"distinct_id": uid, "time": 1_700_000_000 + i, "$city": "Berlin"}
            fh.write(json.dumps({"event": "Page View", "properties": props}) + "\n")
    return export, directory


def test_ids_a_spreadsheet_would_mangle_reach_their_notices(tmp_path: Path) -> None:
    """The CSVs escape `-7` as `'-7` for spreadsheets; what later steps read is typed."""
    export, directory = _hostile_incident(tmp_path)
    ws_path = tmp_path / "ws"
    assess(AssessRequest([export], ws_path, directory=directory, workers=1))
    cells = (ws_path / "affected_users.csv").read_text()
    assert "'-7" in cells and "'=1+2" in cells and "'+44" in cells and "'@home" in cells
    wanted = {uid.strip() for uid in HOSTILE}
    assert {u.user_id for u in affected_users(ws_path / "current")} == wanted
    (org,) = affected_organizations(ws_path / "current")
    assert org.org_id == "-org" and org.affected_members == 2 and org.admins_to_notify == ("-7",)
    with open_ws(ws_path) as ws:
        record_identity(ws)
        summary = plan_notices(ws)
    assert not summary.held, summary.held  # nobody is "not in the directory any more"
    assert summary.new == {"user planned": len(HOSTILE), "admin planned": 1}


def _outputs(ws: Path) -> dict[str, str]:
    """SHA-256 of each file of the run in force (impact.json and report.html without their
    run times, which differ between two runs of the same inputs, and without the report's
    briefing, which names the run and when it was written; changes.* exist only for a run
    that replaced another)."""
    run = (ws / "current").resolve()
    found = {}
    for path in sorted(run.rglob("*")):
        if path.is_file() and not path.name.startswith("changes."):
            data = path.read_bytes()
            if path.name == "report.html":
                data = re.sub(rb"(?s)Impact report, run .*</section>", b"BRIEFING", data)
            if path.name in ("impact.json", "report.html"):
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\"<]*", b"TIME", data)
            found[str(path.relative_to(run))] = hashlib.sha256(data).hexdigest()
    return found


def _assess_command(export: Path, directory: Path, ws: Path) -> list[str]:
    return [sys.executable, "-m", "breachdesk", "assess", str(export), "--directory",
            str(directory), "--out", str(ws), "--workers", "1", "--json",
            "--replace"]  # fmt: skip


def _wait(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> bool:
    """Poll until ``ready()``: True, or False once the process has ended without it."""
    while process.poll() is None:
        if ready():
            return True
        time.sleep(0.002)
    return ready()


def _marks(running: Path, pid: int) -> bool:
    """Whether the running marker names process ``pid``."""
    try:
        return running.read_text().endswith(f" pid {pid}\n")
    except FileNotFoundError:
        return False


def _current(ws: Path) -> str:
    return os.readlink(ws / "current") if (ws / "current").is_symlink() else ""


def _written(ws: Path, name: str, since: int) -> bool:
    """A file ``name`` was written under runs/ since ``since`` (ns): in a run folder being
    filled, or (were outputs ever written in place) in the run in force."""
    for folder, _, files in os.walk(ws / "runs"):  # a folder renamed meanwhile is passed over
        if name in files:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(os.path.join(folder, name)).st_mtime_ns >= since:
                    return True
    return False


def test_a_killed_assess_leaves_the_old_outputs_or_the_new_never_a_mix(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    export_a, directory = small
    export_b = tmp_path / "export-b"
    shutil.copytree(export_a, export_b)
    with (export_b / "events.jsonl").open("a") as fh:  # B: more people affected than A
        fh.write('{"event":"Page View","properties":{"distinct_id":"u4","time":1700000099}}\n')
    ws = tmp_path / "ws"  # one workspace: its key makes the fingerprints
    running = ws / ".assess-running"
    references = {}
    writing = float("inf")  # the shortest time from the marker's appearance to the switch
    for name, export in (("b", export_b), ("a", export_a)):
        before = _current(ws)
        process = subprocess.Popen(_assess_command(export, directory, ws),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        assert _wait(process, running.exists)
        marked = time.monotonic()
        assert _wait(process, lambda before=before: _current(ws) != before)
        writing = min(writing, time.monotonic() - marked)
        assert process.wait() in (0, 1)
        references[name] = _outputs(ws)
    assert references["a"] != references["b"]

    def numbered() -> set[str]:
        return {p.name for p in (ws / "runs").iterdir() if p.name.isdigit()}

    # each kill lands at a chosen point of the run, found by watching the workspace rather
    # than by a delay measured in a machine's speed (where a slow start-up would put them all
    # before the first write, and a fast run would finish first)
    kills: list[tuple[str, Callable[[], bool] | float]] = [
        ("before it starts", lambda: True),
        ("as it marks the workspace running", running.exists),
        ("a fifth into the run", 0.2),
        ("two fifths in", 0.4),
        ("three fifths in", 0.6),
        ("as the first output is written", lambda: _written(ws, "affected_users.csv", since)),
        ("as the report is written", lambda: _written(ws, "report.html", since)),
        ("every output written, before the rename", lambda: _written(ws, "impact.json", since)),
        ("as the run is renamed into runs/", lambda: len(numbered()) > len(runs)),
        ("as current is switched", lambda: _current(ws) != current),
    ]
    runner = CliRunner()
    seen = set()
    for where, point in kills:
        current, runs, since = _current(ws), numbered(), time.time_ns()
        in_force = next(name for name, ref in references.items() if ref == _outputs(ws))
        export = export_a if in_force == "b" else export_b  # always a switch to the other run
        process = subprocess.Popen(_assess_command(export, directory, ws),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if isinstance(point, float):
            # this run's own marker: one left by the last kill is there from the start
            assert _wait(process, lambda pid=process.pid: _marks(running, pid)), where
            time.sleep(writing * point)
            assert process.poll() is None, f"{where}: the run ended first"
        else:
            assert _wait(process, point), f"{where}: the run ended first"
        process.send_signal(signal.SIGKILL)
        process.wait()
        now = _outputs(ws)
        match = [name for name, ref in references.items() if ref == now]
        assert match, f"killed {where}: the run in force is a mix of two runs"
        seen.add(match[0])
        for name in OUTPUT_NAMES:  # every contract name leads into the run in force
            assert (ws / name).exists() and os.readlink(ws / name) == f"current/{name}"
        result = runner.invoke(app, ["obligations", str(ws)])
        if running.exists():
            assert result.exit_code == 2 and "did not finish" in result.output
        else:
            assert result.exit_code == 0, result.output
    assert seen == {"a", "b"}  # the kills fell both before and after the switch
    final = subprocess.run(_assess_command(export_b, directory, ws), capture_output=True)
    assert final.returncode in (0, 1), final.stderr
    assert _outputs(ws) == references["b"]
    assert runner.invoke(app, ["obligations", str(ws)]).exit_code == 0
    assert not list((ws / "runs").glob(".partial-*"))  # leftovers of killed runs are gone
    with open_ws(ws) as opened:
        assert read_events(opened.store)  # the log recorded every start
        from breachdesk.services.audit import verify_audit

        assert verify_audit(opened).ok


def test_runs_are_kept_and_a_rerun_switches_to_the_new_one(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    first = _outputs(ws)
    assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
    assert sorted(p.name for p in (ws / "runs").iterdir()) == ["1", "2"]
    assert os.readlink(ws / "current") == "runs/2"
    assert _outputs(ws) == first  # same inputs, same outputs (apart from run times)
    for path in (ws / "runs").rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_commands_refuse_an_unfinished_or_running_workspace(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    runner = CliRunner()
    with assess_lock(ws):
        with pytest.raises(InputError, match="another assess is running"):
            assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
        refused = runner.invoke(app, ["notify", "plan", str(ws)])
        assert refused.exit_code == 2 and "assess is running" in refused.output
    (ws / ".assess-running").write_text("killed\n")
    refused = runner.invoke(app, ["incident", "show", str(ws)])
    assert refused.exit_code == 2 and "did not finish" in refused.output
    # the evidence stays readable whatever happened
    assert runner.invoke(app, ["audit", "verify", str(ws)]).exit_code == 0
    assess(AssessRequest([export], ws, directory=directory, workers=1, replace=True))
    assert runner.invoke(app, ["incident", "show", str(ws)]).exit_code == 0


def test_a_failed_assess_keeps_the_previous_outputs(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    before = _outputs(ws)
    bad = tmp_path / "bad-directory"
    shutil.copytree(directory, bad)
    (bad / "users.csv").write_text("user_id,email\n")  # columns missing
    with pytest.raises(InputError):
        assess(AssessRequest([export], ws, directory=bad, workers=1, replace=True))
    assert _outputs(ws) == before
    with Workspace.open(ws) as opened:  # not refused: the previous run is still in force
        assert opened.output("impact.json").exists()
