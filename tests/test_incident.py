"""The incident record through the command line: details, awareness, timeline, tasks,
decisions, every change in the audit chain, and bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.store import read_events, verify_chain
from helpers import store_of

runner = CliRunner()


@pytest.fixture
def workspace(small: tuple[Path, Path], tmp_path: Path) -> Path:
    export, directory = small
    assess(AssessRequest([export], tmp_path / "ws", directory=directory, workers=1))
    return tmp_path / "ws"


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_record_and_its_timeline(workspace: Path) -> None:
    ws = str(workspace)
    _ok(["incident", "set", ws, "--title", "Analytics vendor breach", "--vendor", "Mixpanel",
         "--timezone", "Europe/Bucharest", "--aware", "vendor=2026-11-08T10:00:00Z",
         "--aware", "company=2026-11-09T17:30:00+02:00", "--dataset-arrived",
         "2026-11-20T09:00:00Z", "--official-domain", "Example.com", "--sender",
         "security@example.com", "--by", "ana"])  # fmt: skip
    shown = json.loads(_ok(["incident", "show", ws, "--json"]))
    assert shown["vendor"] == "Mixpanel" and shown["timezone"] == "Europe/Bucharest"
    assert shown["official_domains"] == ["example.com"]
    assert {a["party"] for a in shown["awareness"]} == {"vendor", "company"}
    _ok(["incident", "event", ws, "--at", "2026-11-10T08:00:00Z", "--summary",
         "Vendor access revoked, SDK removed from the front end", "--by", "ion"])  # fmt: skip
    _ok(["incident", "task", ws, "--title", "Notify the DPA", "--owner", "dpo",
         "--due", "2026-11-12T15:30:00Z"])  # fmt: skip
    _ok(["incident", "task", ws, "--done", "1", "--by", "dpo"])
    _ok(["incident", "decide", ws, "--subject", "GDPR Art. 34", "--decision",
         "notify every affected user", "--rationale", "names and emails enable phishing",
         "--by", "ana"])  # fmt: skip
    timeline = json.loads(_ok(["incident", "timeline", ws, "--json"]))
    kinds = [entry["kind"] for entry in timeline]
    assert kinds[:3] == ["aware", "aware", "event"]  # in time order, oldest first
    assert {"assess", "task", "decision"} <= set(kinds)
    assert any("9 affected users" in e["summary"] for e in timeline if e["kind"] == "assess")
    store = store_of(workspace)
    actions = [e.action for e in read_events(store)]
    assert actions[-5:] == [
        "incident.updated",
        "incident.event",
        "task.added",
        "task.done",
        "decision.recorded",
    ]
    assert verify_chain(store).intact
    store.close()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["decide", "--subject", "x", "--decision", "y"], "rationale is required"),
        (["set", "--aware", "company=2999-01-01T00:00:00Z"], "is in the future"),
        (["set", "--aware", "company=2026-11-09T17:30:00"], "has no time zone"),
        (["set", "--dataset-arrived", "yesterday"], "not an ISO 8601 time"),
        (["set", "--timezone", "Mars/Olympus"], "not an IANA zone"),
        (["set", "--official-domain", "https://example.com/"], "not a host name"),
        (["event", "--at", "2026-11-10T08:00:00Z", "--summary", " "], "may not be empty"),
        (["task", "--done", "99"], "no task 99"),
    ],
)
def test_bad_input_is_refused_in_one_line(workspace: Path, args: list[str], expect: str) -> None:
    result = runner.invoke(app, ["incident", args[0], str(workspace), *args[1:]])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expect in lines[0], result.output


def test_not_a_workspace(tmp_path: Path) -> None:
    result = runner.invoke(app, ["incident", "show", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a workspace" in result.output
