"""The small hand-written incident: every reader form and every matching rule, checked
value by value against what docs/ARCHITECTURE.md says the outputs must be."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest

from breachdesk import AssessRequest, assess


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def workspace(small_assessed: tuple[Path, int]) -> tuple[Path, int]:
    """The small incident, assessed once per engine."""
    return small_assessed


def test_affected_users_follow_every_matching_rule(workspace: tuple[Path, int]) -> None:
    ws, _ = workspace
    users = {r["user_id"]: r for r in _rows(ws / "affected_users.csv")}
    # u1 id; u2 email-shaped id + other_emails; u3 SHA-256 of email; u6 MD5 of email;
    # u5/u7 people JSONL (u7 upper-case email); 42 integer id; u9 $user_id; u10 paged
    assert sorted(users) == ["42", "u1", "u10", "u2", "u3", "u5", "u6", "u7", "u9"]
    assert "u4" not in users and "u11" not in users
    assert users["u1"]["organizations"] == "o1"
    assert users["u1"]["mfa_enabled"] == "true"
    assert users["u3"]["mfa_enabled"] == ""  # unknown is never read as false
    assert users["u5"]["locale"] == "pt-BR"
    assert users["u1"]["region"] == "US-CA"
    u1 = set(users["u1"]["exposed"].split(";"))
    assert u1 == {
        "system.operations",
        "user.unique_id",
        "user.behavior.browsing_history",
        "user.location.imprecise",
        "user.device.user_agent",
        "user.account.organization_id",
        "user.contact.email",
        "user.name",
    }
    # the sentinel "$direct" and "" are empty: no browsing history or phone for these two
    assert "user.behavior.browsing_history" not in users["u5"]["exposed"]
    assert "user.contact.phone_number" not in users["u7"]["exposed"]
    # a leaked reset token makes credentials exposed for that user; a card number, cards
    assert "user.authorization.credentials" in users["42"]["exposed"].split(";")
    assert "user.financial.credit_card" in users["u9"]["exposed"].split(";")


def test_organizations_and_admins(workspace: tuple[Path, int]) -> None:
    ws, _ = workspace
    orgs = {r["org_id"]: r for r in _rows(ws / "affected_organizations.csv")}
    # o6 only through an org key list in an anonymous record; o-unknown is not ours;
    # o7's only member is not affected
    assert sorted(orgs) == ["o1", "o2", "o3", "o4", "o5", "o6"]
    assert orgs["o1"]["affected_members"] == "3"
    assert orgs["o1"]["admins_to_notify"] == "u1;u2"
    assert orgs["o2"]["admins_to_notify"] == "u5"  # the owner u4 is deactivated
    assert orgs["o5"]["admins_to_notify"] == ""  # "billing" is read as member
    assert orgs["o6"]["affected_members"] == "0"
    assert orgs["o6"]["admins_to_notify"] == "u11"
    impact = json.loads((ws / "impact.json").read_text())
    assert impact["affected"] == {
        "users": 9,
        "organizations": 6,
        "admins_to_notify": 6,
        "unmatched_identities": 5,
        "unmatched_identity_records": 5,
        "users_without_mfa": 3,
        "users_mfa_unknown": 2,
    }


def test_records_rejects_and_skips(workspace: tuple[Path, int]) -> None:
    ws, exit_code = workspace
    impact = json.loads((ws / "impact.json").read_text())
    records = impact["records"]
    assert records["rejected"] == 5
    assert records["anonymous"] == 2
    assert records["unmatched_records"] == 3  # ghost-7, =1+1, nobody-1
    assert records["lines"] == records["read"] + records["rejected"] + 1  # one blank line
    rejected = [(r["source"], r["line"], r["reason"]) for r in _rows(ws / "rejected.csv")]
    assert rejected == [
        ("events.jsonl", "9", "invalid_json"),
        ("events.jsonl", "10", "not_an_object"),
        ("events.jsonl", "12", "unknown_shape"),
        ("people.csv", "5", "wrong_field_count"),
        ("people_page.json", "12", "not_an_object"),
    ]
    assert [r["source"] for r in _rows(ws / "skipped.csv")] == ["README.txt"]
    readers = {
        i["path"].rsplit("/export/", 1)[1]: i["reader"] for i in impact["provenance"]["inputs"]
    }
    assert readers == {
        "events.jsonl": "mixpanel.events",
        "events2.jsonl.gz": "mixpanel.events",
        "more.zip!inner/people2.jsonl": "mixpanel.people",
        "people.csv": "mixpanel.csv",
        "people.jsonl": "mixpanel.people",
        "people_page.json": "mixpanel.people_paged",
    }
    assert impact["provenance"]["event_time"] == {
        "first": "2023-11-14T22:13:20+00:00",
        "last": "2023-11-14T22:15:01+00:00",
    }
    assert exit_code == 1  # a reset token and a card number are sensitive


def test_unmatched_are_masked_and_formula_safe(workspace: tuple[Path, int]) -> None:
    ws, _ = workspace
    rows = _rows(ws / "unmatched.csv")
    kinds = sorted((r["kind"], r["records"]) for r in rows)
    assert kinds == [
        ("email", "1"),
        ("email", "1"),
        ("user_id", "1"),
        ("user_id", "1"),
        ("user_id", "1"),
    ]
    text = (ws / "unmatched.csv").read_text()
    for raw in ("ghost@nowhere.example", "nobody@example.com", "ghost-7", "nobody-1"):
        assert raw not in text
    assert "'=***" in text  # the id "=1+1" masked, then guarded against formula injection
    assert "identity" not in text.splitlines()[0].split(",")


def test_findings_rows(workspace: tuple[Path, int]) -> None:
    ws, _ = workspace
    rows = _rows(ws / "findings.csv")
    got = [(r["source"], r["line"], r["record"], r["field"], r["kind"], r["user_id"]) for r in rows]
    assert got == [
        ("events.jsonl", "11", "10", "$current_url", "credential", "42"),
        ("events2.jsonl.gz", "1", "1", "card_number", "payment_card", "u9"),
    ]
    text = (ws / "findings.csv").read_text()
    assert "Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu" not in text
    assert "4111111111111111" not in text
    assert rows[1]["masked_value"] == "…1111"


def test_files_are_private_and_reruns_identical(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    ws = tmp_path / "ws"
    assess(AssessRequest([export], ws, directory=directory, workers=1))
    first = {p.name: p.read_bytes() for p in ws.glob("*.csv")}
    assess(AssessRequest([export], ws, directory=directory, workers=2, replace=True))
    second = {p.name: p.read_bytes() for p in ws.glob("*.csv")}
    assert first == second
    for path in ws.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE((ws / "keys" / "hmac.key").stat().st_mode) == 0o600
    assert not list(ws.glob(".*.tmp"))


def test_without_directory_inventories_and_scans(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, _ = small
    result = assess(AssessRequest([export], tmp_path / "ws", workers=1))
    impact = result.impact
    assert impact["affected"] is None
    assert impact["provenance"]["directory"] is None
    assert impact["records"]["unmatched_records"] is None
    paths = {f["path"]: f for f in impact["fields"]}
    assert paths["$email"]["category"] == "user.contact.email"
    assert paths["$phone"]["present"] == 0
    assert paths["org_id[]"]["category"] == "user.account.organization_id"
    kinds = {f["kind"]: f for f in impact["findings"]}
    assert kinds["government_id"]["statement"].startswith("absent: ")
    assert kinds["credential"]["count"] == 1
