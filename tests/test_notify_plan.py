"""Planning notices: one per affected user, one per organization for each admin, held where
a person must decide, idempotent, refused when the directory changed since assess and until
the company's identity and a measure are recorded; never dropped or re-addressed by a plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.store import models as m
from breachdesk.store import read_events
from conftest import IDENTITY_ARGS, record_identity
from helpers import open_ws, store_of

runner = CliRunner()


@pytest.fixture
def workspace(small: tuple[Path, Path], tmp_path: Path) -> Path:
    export, directory = small
    users = directory / "users.csv"
    # u7 is affected and now deactivated: a person decides whether to write to them
    users.write_text(users.read_text().replace("u7,grace@example.com,Grace,en-US,US,true,active",
                                               "u7,grace@example.com,Grace,en-US,US,true,deactivated"))  # fmt: skip
    assess(AssessRequest([export], tmp_path / "ws", directory=directory, workers=1))
    with open_ws(tmp_path / "ws") as ws:
        record_identity(ws)
    return tmp_path / "ws"


def _notices(ws: Path) -> list[m.Notice]:
    store = store_of(ws)
    with store.session() as session:
        rows = list(
            session.scalars(
                select(m.Notice).order_by(m.Notice.kind, m.Notice.user_id, m.Notice.org_id)
            )
        )
        session.expunge_all()
    store.close()
    return rows


def test_plan_is_complete_held_and_idempotent(workspace: Path) -> None:
    first = runner.invoke(app, ["notify", "plan", str(workspace)])
    assert first.exit_code == 0, first.output
    notices = _notices(workspace)
    users = {n.user_id: n for n in notices if n.kind == "user"}
    admins = {(n.user_id, n.org_id): n for n in notices if n.kind == "admin"}
    assert sorted(users) == ["42", "u1", "u10", "u2", "u3", "u5", "u6", "u7", "u9"]
    # o1: u1, u2; o2: u5 (owner u4 deactivated); o3: u6; o4: u9; o6: u11; o5 has no admin
    assert sorted(admins) == [("u1", "o1"), ("u11", "o6"), ("u2", "o1"), ("u5", "o2"),
                              ("u6", "o3"), ("u9", "o4")]  # fmt: skip
    assert (
        users["u1"].status == "planned" and ("u1", "o1") in admins
    )  # a user who is an admin gets both
    assert users["u7"].status == "held" and "deactivated" in users["u7"].hold_reason
    # the address as the directory writes it (normalised only to match)
    assert users["u2"].email == "Bob.Builder@Example.org" and users["u5"].locale == "pt-BR"
    facts = json.loads(admins[("u1", "o1")].facts)
    assert facts["affected_members"] == 3 and facts["members_without_mfa"] == 1
    assert "user.contact.email" in facts["categories"]
    # the organization by its name; members without MFA by name, for their own admin only;
    # never an address
    assert facts["org_name"] == "Acme" and facts["without_mfa_names"] == ["Bob Builder"]
    assert "@" not in admins[("u1", "o1")].facts
    # credentials to replace, counted per kind from the findings tied to the recipient
    assert json.loads(users["42"].facts)["credentials"] == {"credential": 1}
    assert "credentials" not in json.loads(users["u9"].facts)  # a card is not rotated
    assert json.loads(admins[("u5", "o2")].facts)["credentials"] == {"credential": 1}
    assert json.loads(admins[("u11", "o6")].facts)["affected_members"] == 0
    assert len({n.reference for n in notices}) == len(notices)
    assert all(n.reference.startswith("BD-") and len(n.reference) == 14 for n in notices)
    # the status says why notices are held, on screen and in JSON
    shown = runner.invoke(app, ["notify", "status", str(workspace)])
    assert "held: 1 — deactivated user: decide, then plan with --include-deactivated" in (
        " ".join(shown.stdout.split())
    )
    held = json.loads(runner.invoke(app, ["notify", "status", str(workspace), "--json"]).stdout)
    assert held["held"] == [["deactivated user: decide, then plan with --include-deactivated", 1]]
    second = runner.invoke(app, ["notify", "plan", str(workspace)])
    assert second.exit_code == 0 and len(_notices(workspace)) == len(notices)
    assert "already planned" in second.stdout
    released = runner.invoke(app, ["notify", "plan", str(workspace), "--include-deactivated"])
    assert released.exit_code == 0
    assert {n.user_id: n.status for n in _notices(workspace) if n.kind == "user"}["u7"] == "planned"
    store = store_of(workspace)
    assert [e.action for e in read_events(store)].count("notify.planned") == 3
    store.close()


MISSING = [
    ([], "missing: a measure taken"),
    (["--company", ""], "missing: company"),
    (["--contact-email", ""], "missing: contact email"),
    (["--verify-url", ""], "missing: verify URL"),
    (["--sender", ""], "missing: sender"),
]  # fmt: skip


@pytest.mark.parametrize(("unset", "named"), MISSING)
@pytest.mark.parametrize("command", [["plan"], ["preview"], ["send"]])
def test_notices_wait_for_the_incidents_details(
    small_ws: Path, unset: list[str], named: str, command: list[str]
) -> None:
    ws = small_ws
    nothing = runner.invoke(app, ["notify", *command, str(ws)])
    assert nothing.exit_code == 2
    assert "missing: vendor, company, official domain, sender, contact email, verify URL, a "\
           "measure taken" in nothing.output  # fmt: skip
    ok = runner.invoke(app, ["incident", "set", str(ws), "--vendor", "Mixpanel", *IDENTITY_ARGS])
    assert ok.exit_code == 0, ok.output
    if unset:
        runner.invoke(app, ["incident", "set", str(ws), *unset])
        runner.invoke(app, ["incident", "event", str(ws), "--measure", "--at",
                            "2026-11-20T15:00:00Z", "--summary", "SDK removed"])  # fmt: skip
    refused = runner.invoke(app, ["notify", *command, str(ws)])
    assert refused.exit_code == 2 and named in refused.output, refused.output
    assert len([line for line in refused.output.splitlines() if line.strip()]) == 1


def test_a_changed_directory_is_refused_unless_rematched(
    workspace: Path, small: tuple[Path, Path]
) -> None:
    _, directory = small
    users = directory / "users.csv"
    users.write_text(users.read_text() + "u12,new@example.com,New,en,US,true,active,,\n")
    refused = runner.invoke(app, ["notify", "plan", str(workspace)])
    assert refused.exit_code == 2 and "changed since assess" in refused.output
    rematched = runner.invoke(app, ["notify", "plan", str(workspace), "--rematch"])
    assert rematched.exit_code == 0, rematched.output
    assert _notices(workspace)


def test_plan_needs_a_directory(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, _ = small
    assess(AssessRequest([export], tmp_path / "ws", workers=1))
    result = runner.invoke(app, ["notify", "plan", str(tmp_path / "ws")])
    assert result.exit_code == 2 and "without a directory" in result.output
