"""The evaluator: from who was affected (country, region, exposed categories) and when each
party became aware, each regime's outcome, reason, questions and deadline.

It never decides what it cannot: people without a country or region are counted and named
in the result instead of being guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from breachdesk.obligations.deadlines import add_business_days, add_days, add_hours
from breachdesk.obligations.rules import ObligationRule
from breachdesk.taxonomy import PERSONAL, label

OUTCOMES = ("required", "likely", "not_required", "record_only", "cannot_tell")
# outcomes that leave something to do (a notice, or an answer to find) and so run a clock
ACTIONABLE = ("required", "likely", "cannot_tell")
NOT_LEGAL_ADVICE = (
    "Not legal advice: a first reading of the cited texts against the impact model, for the "
    "people who decide."
)


@dataclass(frozen=True)
class PeopleGroup:
    """Affected people sharing a country, a region and a set of exposed categories."""

    country: str
    region: str
    exposed: frozenset[str]


@dataclass(frozen=True)
class HumanDecision:
    decision: str
    rationale: str
    decided_by: str


@dataclass(frozen=True)
class ObligationResult:
    rule: str
    title: str
    jurisdiction: str
    outcome: str
    reason: str
    people: int  # affected people in the jurisdiction
    triggering: int  # of those, people whose exposed data the law names
    notify: str
    deadline_kind: str
    deadline_utc: datetime | None
    deadline_local: str | None
    questions: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()
    decision: HumanDecision | None = None
    citations: tuple[str, ...] = ()
    content: tuple[str, ...] = field(default=())
    cannot_place: int = 0  # affected people in the rule's country whose region is unknown


def group_people(rows: Iterable[tuple[str, str, str]]) -> Counter[PeopleGroup]:
    """(country, region, ';'-joined exposed categories) per person -> groups with counts."""
    groups: Counter[PeopleGroup] = Counter()
    for country, region, exposed in rows:
        groups[PeopleGroup(country, region, frozenset(c for c in exposed.split(";") if c))] += 1
    return groups


def _triggers(rule: ObligationRule, exposed: frozenset[str]) -> bool:
    if rule.any_personal and exposed & {c.value for c in PERSONAL}:
        return True
    return any({c.value for c in combo} <= exposed for combo in rule.triggers)


def _deadline(
    rule: ObligationRule, awareness: Mapping[str, datetime], zone: str
) -> tuple[datetime | None, str | None, tuple[str, ...]]:
    kind = rule.deadline.kind
    if kind == "without_undue_delay":
        return None, None, ()
    start = awareness.get(rule.deadline.from_)
    if start is None:
        return None, None, (f"no awareness time recorded for {rule.deadline.from_!r}: "
                            "set it with breachdesk incident set --aware",)  # fmt: skip
    if kind == "hours":
        due = add_hours(start, rule.deadline.amount)
    elif kind == "days":
        due = add_days(start, rule.deadline.amount, zone)
    else:
        due = add_business_days(start, rule.deadline.amount, zone)
    local = due.astimezone(ZoneInfo(zone))
    return due.astimezone(ZoneInfo("UTC")), local.strftime("%Y-%m-%d %H:%M %Z"), ()


def evaluate(
    rules: Iterable[ObligationRule],
    groups: Counter[PeopleGroup],
    awareness: Mapping[str, datetime],
    zone: str,
    decisions: Mapping[str, HumanDecision] | None = None,
) -> list[ObligationResult]:
    results = []
    for rule in rules:
        j = rule.jurisdiction
        inside = [
            (g, n) for g, n in groups.items() if g.country in j.countries or g.region in j.regions
        ]
        people = sum(n for _, n in inside)
        triggering = [(g, n) for g, n in inside if _triggers(rule, g.exposed)]
        count = sum(n for _, n in triggering)
        undecided: list[str] = []
        questions = list(rule.questions)
        unplaced = unplaced_named = 0
        if j.regions and j.country:
            # people of the rule's country whose region is unknown may live in its region:
            # whatever their data, the rule cannot say "not required" for them
            for g, n in groups.items():
                if g.country == j.country and not g.region:
                    unplaced += n
                    unplaced_named += n if _triggers(rule, g.exposed) else 0
            if unplaced:
                undecided.append(
                    f"{unplaced:,} affected people in {j.country} have no region in the directory"
                )
        unknown = sum(n for g, n in groups.items() if not g.country)
        if unknown and not j.regions:
            undecided.append(f"{unknown:,} affected people have no known country")
        if count == 0:
            if unplaced:
                outcome = "cannot_tell"
                named = (
                    f"{unplaced_named:,} of them with data this law names exposed"
                    if unplaced_named
                    else "none of them with data this law names exposed"
                )
                reason = (
                    f"cannot tell: {unplaced:,} affected people in {j.country} have no region "
                    f"in the directory ({named}); whether any live in {j.name} is unknown"
                )
                questions = [
                    f"Are any of the {unplaced:,} people without a region residents of {j.name}? "
                    "Add `region` to the directory and assess again, or record the answer "
                    "(breachdesk duty not-required --rationale ...)."
                ]
            elif people == 0:
                outcome, reason = "not_required", f"no affected people in {j.name}"
                questions = []
            else:
                outcome = "record_only" if rule.record_only_otherwise else "not_required"
                reason = rule.not_required_reason
                questions = []
        else:
            exposed = frozenset().union(*(g.exposed for g, _ in triggering))
            heavy = sorted(c.value for c in rule.required_when if c.value in exposed)
            if heavy:
                outcome, reason = "required", f"exposed: {', '.join(label(c) for c in heavy)}"
                questions = []
            elif rule.required_from is not None and count >= rule.required_from:
                outcome = "required"
                reason = f"{count:,} people affected (a report is due from {rule.required_from:,})"
                questions = []
            else:
                outcome = rule.default
                if outcome == "likely":
                    reason = (
                        "personal data exposed; whether the risk threshold is met is for people to "
                        "decide"
                    )
                else:
                    reason = "the exposed data elements are those this law names"
                    questions = []
        decision = (decisions or {}).get(rule.id)
        if decision is not None and decision.decision.strip().lower() in OUTCOMES:
            outcome = decision.decision.strip().lower()
            reason = f"decided by {decision.decided_by}: {decision.rationale}"
        due_utc = due_local = None
        if outcome in ACTIONABLE:  # a decision that makes a duty required starts its clock too
            due_utc, due_local, missing = _deadline(rule, awareness, zone)
            undecided.extend(missing)
        also = tuple(t.duty for t in rule.all_thresholds if count and count >= t.residents)
        results.append(
            ObligationResult(
                rule=rule.id,
                title=rule.title,
                jurisdiction=j.name,
                outcome=outcome,
                reason=reason,
                people=people,
                triggering=count,
                notify=rule.notify,
                deadline_kind=rule.deadline.kind,
                deadline_utc=due_utc,
                deadline_local=due_local,
                questions=tuple(questions),
                also=also,
                undecided=tuple(undecided),
                decision=decision,
                citations=tuple(rule.citations),
                content=tuple(rule.content),
                cannot_place=unplaced,
            )
        )
    return results
