"""Duties: the lifecycle (each move as a table row, with what it refuses), the audit entries
and their replay, overdue and its end when filed, the "not covered" list with planted
places, and US people without a region making every state rule "cannot tell"."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.domain.duties import DutyState
from breachdesk.errors import InputError
from breachdesk.obligations.coverage import not_covered
from breachdesk.obligations.evaluate import PeopleGroup, evaluate
from breachdesk.obligations.rules import builtin_rules
from breachdesk.services import duties
from breachdesk.services.incident import update as update_incident
from breachdesk.services.workspace import Workspace
from breachdesk.store import models as m
from breachdesk.store import read_events
from breachdesk.store.replay import compare_tables
from helpers import open_ws, within

RULES = builtin_rules()
US_STATES = sorted(r.id for r in RULES if r.jurisdiction.country == "US")
NAME_EMAIL = frozenset({"user.name", "user.contact.email", "user.unique_id"})
runner = CliRunner()


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import build_small_export

    root = tmp_path_factory.mktemp("duties")
    export, directory = build_small_export(root)
    assess(AssessRequest([export], root / "ws", directory=directory, workers=1))
    # the company learnt of it ten days ago: every dated duty is overdue
    aware = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    within(root / "ws", update_incident, "test", aware={"company": aware})
    return root / "ws"


@pytest.fixture
def workspace(assessed: Path, tmp_path: Path) -> Path:
    """A copy of the assessed workspace (assess runs once for the module)."""
    shutil.copytree(assessed, tmp_path / "ws", symlinks=True)
    return tmp_path / "ws"


# -- coverage and "cannot tell" ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("places", "expected"),
    [
        ([("DE", ""), ("US", "US-CA")], []),  # both covered
        ([("MX", "")], [("MX", 3, "no rule for this country")]),
        ([("US", "US-AZ")], [("US-AZ", 3, "no rule for this region")]),
        ([("US", "")], [("US", 3, "no region recorded: the rules of its regions cannot tell")]),
        ([("", "")], [("", 3, "no country recorded: no rule can be chosen")]),
        ([("DE", "DE-BY")], []),  # a region inside a country-wide rule's country
        ([("", "US-WA")], []),  # a region known without its country is still covered
        ([("MX", ""), ("KR", ""), ("MX", "")], [("MX", 6, "no rule for this country"),
                                                ("KR", 3, "no rule for this country")]),
    ],
)  # fmt: skip
def test_places_no_rule_covers(places: list[tuple[str, str]], expected: list[object]) -> None:
    groups: Counter[PeopleGroup] = Counter()
    for country, region in places:
        groups[PeopleGroup(country, region, NAME_EMAIL)] += 3
    assert [(u.place, u.people, u.why) for u in not_covered(RULES, groups)] == expected


@pytest.mark.parametrize("extra", [frozenset(), frozenset({"user.authorization.credentials"})])
def test_us_people_without_a_region_make_every_state_rule_cannot_tell(
    extra: frozenset[str],
) -> None:
    groups = Counter({PeopleGroup("US", "", NAME_EMAIL | extra): 40})
    results = {r.rule: r for r in evaluate(RULES, groups, {}, "UTC")}
    for rule in US_STATES:
        assert results[rule].outcome == "cannot_tell", rule
        assert results[rule].cannot_place == 40
        assert "40 affected people in US have no region" in results[rule].reason
    # once placed, the same people give the law's own answer
    placed = Counter({PeopleGroup("US", "US-CA", NAME_EMAIL): 40})
    assert {r.rule: r.outcome for r in evaluate(RULES, placed, {}, "UTC")}["us-ca-1798-82"] == (
        "not_required"
    )


def test_a_directory_without_region_never_says_not_required(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    export, directory = small
    users = directory / "users.csv"
    with users.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with users.open("w", encoding="utf-8", newline="") as fh:
        fields = [f for f in rows[0] if f != "region"]
        writer = csv.DictWriter(fh, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    assess(AssessRequest([export], tmp_path / "ws", directory=directory, workers=1))
    listed = within(tmp_path / "ws", duties.duty_list)
    us = [d for d in listed.duties if d.rule in US_STATES]
    assert len(us) == len(US_STATES)
    assert {d.result.outcome for d in us} == {"cannot_tell"}
    assert all(d.state is DutyState.OPEN for d in us)
    assert [(u.place, u.people) for u in listed.not_covered if u.country == "US"] == [("US", 2)]
    out = json.loads(_ok(["obligations", str(tmp_path / "ws"), "--json"]))
    assert {d["outcome"] for d in out["duties"] if d["rule"] in US_STATES} == {"cannot_tell"}


# -- the lifecycle -------------------------------------------------------------------------------

FILED = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def _move(target: Path | Workspace, step: str) -> None:
    """One move on gdpr-art33, by the service a command or the dashboard calls."""
    if isinstance(target, Path):
        with open_ws(target) as ws:
            _move(ws, step)
        return
    moves = {
        "start": lambda: duties.start(target, "gdpr-art33", "dpo", "ana"),
        "done": lambda: duties.done(target, "gdpr-art33", FILED, "ANSPDCP portal", "RO-2026-118",
                                    "ana", delay_reason="the vendor's dataset arrived on day 4"),
        "follow_up": lambda: duties.follow_up(target, "gdpr-art33", FILED, "email",
                                              "RO-2026-118/2", "ana"),
        "final": lambda: duties.follow_up(target, "gdpr-art33", FILED, "email", "RO-2026-118/3",
                                          "ana", final=True),
        "not_required": lambda: duties.not_required(target, "gdpr-art33",
                                                    "EDPB 9/2022 example: low risk", "dpo"),
        "reopen": lambda: duties.reopen(target, "gdpr-art33", "new facts from the vendor", "dpo"),
    }  # fmt: skip
    moves[step]()


@pytest.mark.parametrize(
    ("steps", "state", "filings", "refused"),
    [
        (["start"], "in_progress", 0, ""),
        (["start", "done"], "done", 1, ""),
        (["done"], "done", 1, ""),  # filed without marking it started first
        (["done", "follow_up", "final"], "done", 3, ""),
        (["start", "start"], "in_progress", 0, ""),  # a new owner
        (["not_required"], "not_required", 0, ""),
        (["not_required", "reopen", "start"], "in_progress", 0, ""),
        (["done", "reopen"], "open", 1, ""),  # the filing stays on record
        (["follow_up"], "open", 0, "cannot follow-up: it is open"),
        (["done", "done"], "done", 1, "cannot done: it was filed"),
        (["done", "not_required"], "done", 1, "cannot not-required: it was filed"),
        (["not_required", "start"], "not_required", 0, "cannot start: it was recorded as not"),
    ],
)  # fmt: skip
def test_lifecycle(
    workspace: Path, steps: list[str], state: str, filings: int, refused: str
) -> None:
    with open_ws(workspace) as ws:
        for i, step in enumerate(steps):
            if refused and i == len(steps) - 1:
                with pytest.raises(InputError, match=refused):
                    _move(ws, step)
            else:
                _move(ws, step)
        duty = duties.duty_list(ws).get("gdpr-art33")
        assert (duty.state.value, len(duty.filings)) == (state, filings)
        # every move is one audit entry holding the row; the log rebuilds both tables
        moves = [e for e in read_events(ws.store) if e.action.startswith("duty.")]
        assert len(moves) == len(steps) - (1 if refused else 0)
        assert compare_tables(ws.store) == []


def test_a_filed_duty_is_no_longer_overdue(workspace: Path) -> None:
    listed = within(workspace, duties.duty_list)
    assert listed.duties[0].overdue and listed.duties[0].rule in {d.rule for d in listed.overdue}
    # overdue first, most overdue first, then by deadline, closed ones last
    order = [d.rule for d in listed.duties]
    dated = [d for d in listed.duties if d.overdue]
    assert order[: len(dated)] == [d.rule for d in sorted(dated, key=lambda d: d.deadline)]  # type: ignore[arg-type, return-value]
    assert listed.get("gdpr-art33").overdue
    with open_ws(workspace) as ws, pytest.raises(InputError, match="reasons for the delay"):
        duties.done(ws, "gdpr-art33", FILED, "portal", "REF-1", "ana")  # late, no reason
    _move(workspace, "done")
    after = within(workspace, duties.duty_list)
    art33 = after.get("gdpr-art33")
    assert not art33.overdue and art33.late and art33.state is DutyState.DONE
    assert art33.delay_reason == "the vendor's dataset arrived on day 4"
    assert [d.rule for d in after.duties].index("gdpr-art33") > len(after.overdue) - 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["duty", "done", "{ws}", "gdpr-art99", "--filed-at", FILED, "--channel", "x",
          "--reference", "y"], "no regime 'gdpr-art99'"),
        (["duty", "done", "{ws}", "uk-gdpr", "--filed-at", "2026-01-01T10:00", "--channel", "x",
          "--reference", "y"], "has no time zone"),
        (["duty", "done", "{ws}", "uk-gdpr", "--filed-at", "2999-01-01T10:00Z", "--channel",
          "x", "--reference", "y"], "is in the future"),
        (["duty", "not-required", "{ws}", "uk-gdpr", "--rationale", " "], "rationale is required"),
        (["duty", "start", "{ws}", "uk-gdpr", "--owner", ""], "the owner is required"),
    ],
)  # fmt: skip
def test_bad_moves_are_one_line_errors(workspace: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [a.replace("{ws}", str(workspace)) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_commands_and_the_json(workspace: Path) -> None:
    ws = str(workspace)
    _ok(["duty", "start", ws, "uk-gdpr", "--owner", "dpo", "--by", "ana"])
    _ok(["duty", "delay-reason", ws, "uk-gdpr", "--reason", "scope unknown until day 9"])
    _ok(["duty", "done", ws, "uk-gdpr", "--filed-at", FILED, "--channel", "ICO online form",
         "--reference", "IC-123456"])  # fmt: skip
    _ok(["duty", "follow-up", ws, "uk-gdpr", "--filed-at", FILED, "--channel", "email",
         "--reference", "IC-123456", "--note", "numbers per country", "--final"])  # fmt: skip
    shown = json.loads(_ok(["duty", "show", ws, "uk-gdpr", "--json"]))
    assert shown["state"] == "done" and not shown["overdue"] and shown["late"]
    assert [f["phase"] for f in shown["filings"]] == ["notification", "final"]
    assert shown["delay_reason"] == "scope unknown until day 9"
    listed = json.loads(_ok(["obligations", ws, "--json"]))
    assert {d["rule"] for d in listed["duties"]} == {r.id for r in RULES}
    assert listed["duties"][0]["overdue"]  # overdue first
    assert next(d for d in listed["duties"] if d["rule"] == "uk-gdpr")["state"] == "done"
    text = _ok(["obligations", ws])
    assert "OVERDUE" in text and "not covered" in text
    verify = runner.invoke(app, ["audit", "verify", ws])
    assert verify.exit_code == 0, verify.output


def test_a_duty_edited_behind_the_log_is_caught(workspace: Path) -> None:
    _move(workspace, "not_required")
    with open_ws(workspace) as ws:
        with ws.store.write() as tx:  # flipped in the database, not through breachdesk
            tx.session.execute(update(m.Duty).values(state="done"))
            tx.session.execute(update(m.Duty).values(rationale="edited"))
        found = compare_tables(ws.store)
    assert [str(d) for d in found] == ["duty gdpr-art33: differs from the log"]
    verify = runner.invoke(app, ["audit", "verify", str(workspace)])
    assert verify.exit_code != 0 and "duty gdpr-art33" in verify.output


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout
