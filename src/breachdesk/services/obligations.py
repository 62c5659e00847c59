"""The obligations use case: the workspace's affected people and the incident's awareness
times, through every regime's rule, to outcomes and deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from breachdesk.impact import read_impact
from breachdesk.obligations.evaluate import (
    NOT_LEGAL_ADVICE,
    HumanDecision,
    ObligationResult,
    evaluate,
    group_people,
)
from breachdesk.obligations.rules import builtin_rules
from breachdesk.services.incident import open_workspace_store, show
from breachdesk.services.workspace import table_rows
from breachdesk.store import models as m


@dataclass(frozen=True)
class ObligationsReport:
    results: list[ObligationResult]
    timezone: str
    notice: str = NOT_LEGAL_ADVICE


def obligations(workspace: Path) -> ObligationsReport:
    read_impact(workspace / "impact.json")  # refuses a workspace of an unknown schema
    incident = show(workspace)
    people = table_rows(workspace, "affected_users.csv")
    groups = group_people((r["country"], r["region"], r["exposed"]) for r in people)
    store = open_workspace_store(workspace)
    try:
        with store.session() as session:
            rows = session.scalars(select(m.Decision).order_by(m.Decision.id)).all()
            decisions = {
                d.subject: HumanDecision(d.decision, d.rationale, d.decided_by) for d in rows
            }  # the latest decision on a subject wins
    finally:
        store.close()
    awareness = {a.party: a.aware_at for a in incident.awareness}
    results = evaluate(builtin_rules(), groups, awareness, incident.timezone, decisions)
    return ObligationsReport(results, incident.timezone)
