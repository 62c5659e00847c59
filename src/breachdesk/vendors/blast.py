"""The blast radius of one vendor's breach: what it holds, about how many people, which
duties a breach would trigger, and how severe it would be — and the same after the flows'
minimisation (``--what-if``). Pure: the services feed it the counts and categories.

The duties are the obligations evaluator's own outcomes on people grouped exactly as
``breachdesk obligations`` groups them (country, region, categories exposed): with a matched
sample, each person's own categories as assess found them; without one, the categories that
flow to the vendor for everyone. Categories found in a few values whose people are unknown
are never spread over everyone: what they would change is stated apart, as a condition."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from breachdesk.detect.classifier import category_from_name
from breachdesk.obligations.evaluate import ObligationResult, PeopleGroup, evaluate
from breachdesk.obligations.rules import ObligationRule
from breachdesk.taxonomy import Category
from breachdesk.vendors.model import FieldOp, Vendor

C = Category
CRITICAL = {
    C.CREDENTIALS: "credentials: each one must be revoked",
    C.CREDIT_CARD: "payment cards",
    C.BANK_ACCOUNT: "bank accounts",
    C.GOVERNMENT_ID: "government ids",
}
KIT = (C.NAME, C.EMAIL, C.ORGANIZATION_ID)
DIRECT = (C.EMAIL, C.NAME, C.PHONE, C.UNIQUE_ID, C.IP_ADDRESS, C.LOCATION_PRECISE, C.CONTENT,
          C.BROWSING_HISTORY)  # fmt: skip
SEVERITIES = ("critical", "high", "medium", "low", "none")
# what a field's category becomes once the relay's operation has run (None: gone)
AFTER_OP: dict[FieldOp, Category | None] = {
    FieldOp.DROP: None,
    FieldOp.PSEUDONYMISE: C.COOKIE_ID,  # a keyed pseudonym: still personal, not linkable
    FieldOp.STRIP_QUERY: C.BROWSING_HISTORY,
    FieldOp.TRUNCATE_IP: C.LOCATION_IMPRECISE,
    FieldOp.COARSEN_UA: C.USER_AGENT,
}


@dataclass(frozen=True)
class Duty:
    rule: str
    title: str
    outcome: str
    people: int
    deadline: str
    # empty: the evaluator's outcome on what the vendor holds; else what it hinges on
    condition: str = ""


@dataclass(frozen=True)
class Severity:
    level: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Holding:
    """What a vendor holds: categories and the field that brings each."""

    categories: frozenset[Category]
    by_field: tuple[tuple[str, str | None, str], ...]  # field, category, source


@dataclass(frozen=True)
class Exposure:
    categories: tuple[str, ...]
    severity: Severity
    duties: tuple[Duty, ...]  # required or likely, as ``breachdesk obligations`` says them
    outcomes: tuple[tuple[str, str], ...] = ()  # every regime: (rule id, evaluator's outcome)
    # regimes whose outcome would change if the findings' categories concerned everyone
    conditional: tuple[Duty, ...] = ()

    def outcome(self, rule: str) -> str | None:
        return dict(self.outcomes).get(rule)


@dataclass(frozen=True)
class VendorBlast:
    vendor: str
    name: str
    tier: int
    status: str
    dpa: str
    users: int
    organizations: int
    admins: int
    upper_bound: bool  # no sample: every active user of the directory
    by_country: dict[str, int]
    declared: tuple[str, ...]
    observed: tuple[str, ...]
    fields: tuple[tuple[str, str | None, str], ...]
    exposure: Exposure
    what_if: Exposure | None = None


def declared_categories(vendor: Vendor) -> dict[str, Category | None]:
    """Each declared field (not dropped) and its category, from the assess classifier."""
    return {
        name: category_from_name(name)
        for name, op in vendor.declared_fields().items()
        if op is not FieldOp.DROP
    }


def severity(categories: Iterable[Category]) -> Severity:
    held = set(categories)
    reasons = [f"{c.value}: {why}" for c, why in CRITICAL.items() if c in held]
    if reasons:
        return Severity("critical", tuple(reasons))
    located = held & {C.LOCATION_IMPRECISE, C.LOCATION_PRECISE}
    if all(c in held for c in KIT) and located:
        return Severity("high", ("name + email + organization id + location together: a "
                                 "spear-phishing kit",))  # fmt: skip
    if C.NAME in held and C.EMAIL in held:
        return Severity("high", ("name + email: convincing phishing",))
    if C.LOCATION_PRECISE in held:
        return Severity("high", ("precise location",))
    direct = [c.value for c in DIRECT if c in held]
    if direct:
        return Severity("medium", (f"identifies people: {', '.join(direct)}",))
    personal = sorted(c.value for c in held if c.personal)
    if personal:
        return Severity("low", (f"pseudonymous or coarse only: {', '.join(personal)}",))
    return Severity("none", ("no personal data",))


def _deadline(rule: ObligationRule) -> str:
    d = rule.deadline
    if d.kind == "without_undue_delay":
        return "without undue delay"
    unit = {"hours": "h", "days": " days", "business_days": " business days"}[d.kind]
    return f"{d.amount}{unit} from {d.from_}'s awareness"


def _groups(
    flowing: frozenset[str], people: Iterable[tuple[str, str, frozenset[str]]]
) -> Counter[PeopleGroup]:
    groups: Counter[PeopleGroup] = Counter()
    for country, region, own in people:
        groups[PeopleGroup(country, region, flowing | own)] += 1
    return groups


def _duty(result: ObligationResult, rule: ObligationRule, condition: str = "") -> Duty:
    return Duty(result.rule, result.title, result.outcome, result.triggering, _deadline(rule),
                condition)  # fmt: skip


def exposure(
    categories: Iterable[Category],
    people: Iterable[tuple[str, str, frozenset[str]]],
    rules: list[ObligationRule],
    flowing: Iterable[Category] = (),
    found: Iterable[Category] = (),
) -> Exposure:
    """``categories``: all the vendor holds (for the severity); ``people``: (country, region,
    categories exposed for that person); ``flowing``: categories that reach the vendor for
    every one of them; ``found``: categories of findings in a few values whose people are
    unknown (stated as conditional duties, never given to everyone)."""
    held = frozenset(categories)
    people = list(people)
    every = frozenset(c.value for c in flowing)
    by_id = {r.id: r for r in rules}
    results = evaluate(rules, _groups(every, people), {}, "UTC")
    found_values = frozenset(c.value for c in found) - every
    conditional: list[Duty] = []
    if found_values:
        named = ", ".join(sorted(found_values))
        for was, would in zip(
            results, evaluate(rules, _groups(every | found_values, people), {}, "UTC"), strict=True
        ):
            if would.outcome != was.outcome and would.outcome in ("required", "likely"):
                conditional.append(_duty(would, by_id[would.rule], f"if the {named} found "
                                         "concern them"))  # fmt: skip
    return Exposure(
        tuple(sorted(c.value for c in held)),
        severity(held),
        tuple(_duty(r, by_id[r.rule]) for r in results if r.outcome in ("required", "likely")),
        tuple((r.rule, r.outcome) for r in results),
        tuple(conditional),
    )


def after_minimisation(
    vendor: Vendor, observed: Mapping[str, Category | None], findings: Mapping[str, Category]
) -> frozenset[Category]:
    """The categories left once the relay runs: undeclared fields dropped (default deny),
    each declared one after its operation; findings stay only in fields kept as they are."""
    ops = vendor.declared_fields()
    left: set[Category] = set()
    for name, op in ops.items():
        category = observed.get(name) or category_from_name(name)
        if op is FieldOp.KEEP:
            if category is not None:
                left.add(category)
        elif (after := AFTER_OP[op]) is not None:
            left.add(after)
    for name, category in findings.items():
        if ops.get(name) is FieldOp.KEEP:
            left.add(category)
    return frozenset(left)


def rank(blasts: Iterable[VendorBlast]) -> list[VendorBlast]:
    return sorted(
        blasts,
        key=lambda b: (SEVERITIES.index(b.exposure.severity.level), -b.users, b.tier, b.vendor),
    )
