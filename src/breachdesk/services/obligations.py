"""The obligations use case: the workspace's affected people and the incident's awareness
times, through every regime's rule, to outcomes and deadlines; and the places with affected
people that no rule covers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from breachdesk.impact import read_impact
from breachdesk.obligations.coverage import Uncovered, not_covered
from breachdesk.obligations.evaluate import (
    NOT_LEGAL_ADVICE,
    HumanDecision,
    ObligationResult,
    PeopleGroup,
    evaluate,
    group_people,
)
from breachdesk.obligations.rules import ObligationRule, builtin_rules
from breachdesk.report.tables import affected_users
from breachdesk.services.workspace import Workspace
from breachdesk.store import Store
from breachdesk.store import incident as record


@dataclass(frozen=True)
class ObligationsReport:
    results: list[ObligationResult]
    timezone: str
    notice: str = NOT_LEGAL_ADVICE
    not_covered: list[Uncovered] = field(default_factory=list)


def people_groups(ws: Workspace) -> Counter[PeopleGroup]:
    return group_people(
        (u.country, u.region, ";".join(u.exposed)) for u in affected_users(ws.outputs)
    )


def obligations(ws: Workspace, rules: list[ObligationRule] | None = None) -> ObligationsReport:
    read_impact(ws.output("impact.json"))  # refuses a workspace of an unknown schema
    return obligations_of(ws.store, people_groups(ws), rules)


def obligations_of(
    store: Store, groups: Counter[PeopleGroup], rules: list[ObligationRule] | None = None
) -> ObligationsReport:
    """The duties for ``groups`` of affected people, with the incident's awareness times and
    decisions (assess uses it for the report it writes, before its run is in force)."""
    incident = record.view(store)
    rules = builtin_rules() if rules is None else rules
    # the latest decision on a subject wins
    decisions = {
        d.subject: HumanDecision(d.decision, d.rationale, d.decided_by)
        for d in record.decisions(store)
    }
    awareness = {a.party: a.aware_at for a in incident.awareness}
    results = evaluate(rules, groups, awareness, incident.timezone, decisions)
    return ObligationsReport(results, incident.timezone, not_covered=not_covered(rules, groups))
