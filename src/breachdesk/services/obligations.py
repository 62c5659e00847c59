"""The obligations use case: the workspace's affected people and the incident's awareness
times, through every regime's rule, to outcomes and deadlines."""

from __future__ import annotations

from dataclasses import dataclass

from breachdesk.impact import read_impact
from breachdesk.obligations.evaluate import (
    NOT_LEGAL_ADVICE,
    HumanDecision,
    ObligationResult,
    evaluate,
    group_people,
)
from breachdesk.obligations.rules import builtin_rules
from breachdesk.report.tables import affected_users
from breachdesk.services.workspace import Workspace
from breachdesk.store import incident as record


@dataclass(frozen=True)
class ObligationsReport:
    results: list[ObligationResult]
    timezone: str
    notice: str = NOT_LEGAL_ADVICE


def obligations(ws: Workspace) -> ObligationsReport:
    read_impact(ws.output("impact.json"))  # refuses a workspace of an unknown schema
    incident = record.view(ws.store)
    groups = group_people(
        (u.country, u.region, ";".join(u.exposed)) for u in affected_users(ws.outputs)
    )
    # the latest decision on a subject wins
    decisions = {
        d.subject: HumanDecision(d.decision, d.rationale, d.decided_by)
        for d in record.decisions(ws.store)
    }
    awareness = {a.party: a.aware_at for a in incident.awareness}
    results = evaluate(builtin_rules(), groups, awareness, incident.timezone, decisions)
    return ObligationsReport(results, incident.timezone)
