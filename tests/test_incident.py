"""The incident record through the command line: details, awareness, timeline, tasks,
decisions, every change in the audit chain, and bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.store import read_events, verify_chain
from helpers import store_of

runner = CliRunner()


@pytest.fixture
def workspace(small_ws: Path) -> Path:
    return small_ws


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


# the company's identity, validated together (issue 12, item 2): (arguments, the one line)
IDENTITY_REFUSED = [
    (["--sender", "security@example.com"],
     "sender 'security@example.com' is not on an official domain (none recorded"),
    (["--official-domain", "example.com", "--sender", "security@evil.example"],
     "sender 'security@evil.example' is not on an official domain (example.com)"),
    (["--official-domain", "example.com", "--contact-email", "dpo@gmail.com"],
     "contact email 'dpo@gmail.com' is not on an official domain"),
    (["--official-domain", "example.com", "--sender", "no-at-sign"], "is not an email address"),
    (["--official-domain", "example.com", "--verify-url", "http://example.com/check"],
     "must start with https://"),
    (["--official-domain", "example.com", "--verify-url", "https://evil.example/check"],
     "the verify URL 'https://evil.example/check' is not on an official domain"),
    (["--official-domain", "example.com", "--verify-url", "https://example.com.evil.example/"],
     "is not on an official domain"),
    (["--company", "Example.io"], "names the host Example.io, which is not an official domain"),
    (["--company", "Example \u202eInc"], "holds a line break or control character"),
    (["--company", "x" * 121], "longer than 120 characters"),
    (["--vendor-incident-start", "2026-11-08T00:00:00Z", "--vendor-incident-end",
      "2026-11-01T00:00:00Z"], "the vendor's incident ends before it starts"),
    (["--vendor-incident-start", "2026-11-08"], "has no time zone"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expect"), IDENTITY_REFUSED)
def test_the_identity_is_refused_when_inconsistent(
    workspace: Path, args: list[str], expect: str
) -> None:
    result = runner.invoke(app, ["incident", "set", str(workspace), *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expect in lines[0], result.output
    shown = json.loads(_ok(["incident", "show", str(workspace), "--json"]))
    assert (shown["company"], shown["sender"], shown["official_domains"]) == ("", "", [])


def test_a_domain_change_that_strands_the_sender_is_refused(workspace: Path) -> None:
    ws = str(workspace)
    _ok(["incident", "set", ws, "--official-domain", "example.com", "--sender",
         "security@example.com"])  # fmt: skip
    result = runner.invoke(app, ["incident", "set", ws, "--official-domain", "example.org"])
    assert result.exit_code == 2
    assert "sender 'security@example.com' is not on an official domain (example.org)" in (
        result.output
    )
    both = ["--official-domain", "example.org", "--sender", "security@mail.example.org"]
    _ok(["incident", "set", ws, *both])  # a subdomain of an official domain is on it


def test_a_new_workspace_holds_no_demo_values(workspace: Path) -> None:
    shown = json.loads(_ok(["incident", "show", str(workspace), "--json"]))
    assert shown["company"] == "" and shown["official_domains"] == [] and shown["sender"] == ""
    assert shown["verify_url"] == "" and shown["contact_email"] == ""
    settings = (workspace / "breachdesk.toml").read_text()
    assert "example.com" not in settings and "Example" not in settings


def test_the_identity_measures_and_facts_are_recorded_audited_and_replayed(
    workspace: Path,
) -> None:
    ws = str(workspace)
    _ok(["incident", "set", ws, "--company", "Acme Cloud", "--controller",
         "Acme Cloud SRL, Str. Exemplu 1, București", "--dpo", "Dana Pop, dpo@acme.ro",
         "--official-domain", "example.com", "--sender", "security@example.com",
         "--contact-email", "privacy@example.com", "--verify-url",
         "https://example.com/security/notice", "--vendor-incident-start",
         "2026-11-01T08:00:00Z", "--vendor-incident-end", "2026-11-08T18:00:00+02:00",
         "--own-systems-breached", "false", "--by", "ana"])  # fmt: skip
    measured = runner.invoke(app, ["incident", "event", ws, "--measure", "--at",
                                   "2026-11-10T08:00:00Z", "--summary",
                                   "We removed the   SDK\nfrom our website."])  # fmt: skip
    assert measured.exit_code == 0 and "measure at" in measured.output
    _ok(["incident", "event", ws, "--at", "2026-11-10T09:00:00Z", "--summary", "Call with vendor"])
    shown = json.loads(_ok(["incident", "show", ws, "--json"]))
    assert shown["company"] == "Acme Cloud" and shown["dpo"] == "Dana Pop, dpo@acme.ro"
    assert shown["own_systems_breached"] is False
    assert shown["vendor_incident_end"].startswith("2026-11-08T16:00:00")
    assert [m["summary"] for m in shown["measures"]] == ["We removed the SDK from our website."]
    timeline = json.loads(_ok(["incident", "timeline", ws, "--json"]))
    assert {e["kind"] for e in timeline} >= {"measure", "event"}
    assert _ok(["audit", "verify", ws])
    # a row edited behind breachdesk's back disagrees with the log
    import sqlite3

    with sqlite3.connect(workspace / "desk.db") as db:
        db.execute("UPDATE incident SET company = 'Other', own_systems_breached = 1")
        db.execute("UPDATE timeline_event SET measure = 0")
    verdict = runner.invoke(app, ["audit", "verify", ws])
    assert verdict.exit_code == 1
    for what in ("incident company", "incident own_systems_breached", "timeline_event"):
        assert what in verdict.output, verdict.output


def test_a_measure_naming_another_host_is_refused(workspace: Path) -> None:
    result = runner.invoke(app, ["incident", "event", str(workspace), "--measure", "--at",
                                 "2026-11-10T08:00:00Z", "--summary",
                                 "We blocked evil.example"])  # fmt: skip
    assert result.exit_code == 2
    assert "names the host evil.example" in result.output
