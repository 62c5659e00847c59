"""The demo incident against its generator's ground truth: exactly equal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from breachdesk.services.demo import DemoRequest, run_demo


def test_demo_matches_ground_truth(tmp_path: Path) -> None:
    result = run_demo(DemoRequest(tmp_path / "demo", users=2500, events=25_000, seed=3, workers=2))
    truth = json.loads(result.truth_path.read_text())
    ws = result.assess.workspace
    with (ws / "affected_users.csv").open(newline="") as fh:
        users = {r["user_id"]: sorted(r["exposed"].split(";")) for r in csv.DictReader(fh)}
    assert users == truth["affected_users"]
    with (ws / "affected_organizations.csv").open(newline="") as fh:
        orgs = {
            r["org_id"]: {
                "affected_members": int(r["affected_members"]),
                "admins_to_notify": [a for a in r["admins_to_notify"].split(";") if a],
            }
            for r in csv.DictReader(fh)
        }
    assert orgs == truth["affected_organizations"]
    impact = result.assess.impact
    for key in (
        "admins_to_notify",
        "unmatched_identities",
        "users_without_mfa",
        "users_mfa_unknown",
    ):
        assert impact["affected"][key] == truth[key], key
    for key in ("unmatched_records", "anonymous", "stitched", "read", "rejected"):
        assert impact["records"][key] == truth[key], key
    found = {(f["kind"], f["count"]) for f in impact["findings"] if f["count"]}
    planted: dict[str, int] = {}
    for plant in truth["planted"]:
        planted[plant["kind"]] = planted.get(plant["kind"], 0) + 1
    assert found == set(planted.items())
    with (ws / "findings.csv").open(newline="") as fh:
        lines = sorted(int(r["line"]) for r in csv.DictReader(fh))
    assert lines == sorted(p["line"] for p in truth["planted"])
    assert result.assess.exit_code == 1
    report = (ws / "report.html").read_text()
    assert "<script" not in report.lower() and "absent: " in report
