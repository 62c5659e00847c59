"""Each vendor's demo export assessed against its generator's ground truth: exactly equal.

The generators write each vendor's documented shapes (see the reader tests for the pages) and
keep the truth as they write: who each record is for, the categories of its fields by their
own table, stitching cases (events before sign-in on the person's device, a device two people
share, anonymous devices), unmatched former users, malformed lines, unmapped country names
and planted secrets. The Mixpanel demo is held to its truth by ``test_demo_truth``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from breachdesk.services.demo import DemoRequest, run_demo


@pytest.mark.parametrize("vendor", ["segment", "amplitude", "posthog", "ga4"])
def test_vendor_demo_matches_ground_truth(tmp_path: Path, vendor: str) -> None:
    result = run_demo(
        DemoRequest(tmp_path / "demo", users=600, events=6000, seed=5, workers=2, vendor=vendor)
    )
    truth = json.loads(result.truth_path.read_text())
    ws = result.assess.workspace
    impact = result.assess.impact
    assert [i["reader"] for i in impact["provenance"]["inputs"]] == [
        f"{vendor}.{'messages' if vendor == 'segment' else 'events'}"
    ] * len(impact["provenance"]["inputs"])
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
    for key in ("admins_to_notify", "unmatched_identities", "users_without_mfa",
                "users_mfa_unknown"):  # fmt: skip
        assert impact["affected"][key] == truth[key], key
    for key in ("unmatched_records", "anonymous", "stitched", "read", "rejected",
                "country_unmapped"):  # fmt: skip
        assert impact["records"][key] == truth[key], key
    assert truth["stitched"] > 0 and truth["anonymous"] > 0
    found = {(f["kind"], f["count"]) for f in impact["findings"] if f["count"]}
    planted: dict[str, int] = {}
    for plant in truth["planted"]:
        planted[plant["kind"]] = planted.get(plant["kind"], 0) + 1
    assert found == set(planted.items())
    with (ws / "findings.csv").open(newline="") as fh:
        lines = sorted((r["source"], int(r["line"])) for r in csv.DictReader(fh))
    assert lines == sorted((p["source"], p["line"]) for p in truth["planted"])
    assert result.assess.exit_code == 1


def test_demo_command_takes_the_vendor(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from breachdesk.cli import app

    out = tmp_path / "demo"
    args = ["demo", "--vendor", "ga4", "--users", "60", "--events", "300", "--no-notify"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "export").glob("events_*.json*"))
    impact = json.loads((out / "workspace" / "impact.json").read_text())
    assert {i["reader"] for i in impact["provenance"]["inputs"]} == {"ga4.events"}
    refused = CliRunner().invoke(app, ["demo", "--vendor", "hubspot", "--out", str(out)])
    assert refused.exit_code == 2 and "hubspot" in refused.output
