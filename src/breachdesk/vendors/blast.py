"""The blast radius of one vendor's breach: what it holds, about how many people, which
duties a breach would trigger, and how severe it would be — and the same after the flows'
minimisation (``--what-if``). Pure: the services feed it the counts and categories."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from breachdesk.detect.classifier import category_from_name
from breachdesk.obligations.evaluate import PeopleGroup, evaluate
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
    duties: tuple[Duty, ...]


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


def duties(rules: list[ObligationRule], groups: Counter[PeopleGroup]) -> tuple[Duty, ...]:
    """The regimes a breach would trigger (required or likely) on this hypothetical impact."""
    by_id = {r.id: r for r in rules}
    found = []
    for result in evaluate(rules, groups, {}, "UTC"):
        if result.outcome in ("required", "likely"):
            found.append(Duty(result.rule, result.title, result.outcome, result.triggering,
                              _deadline(by_id[result.rule])))  # fmt: skip
    return tuple(found)


def exposure(
    categories: Iterable[Category],
    people: Iterable[tuple[str, str, frozenset[str]]],
    rules: list[ObligationRule],
) -> Exposure:
    """``people``: (country, region, categories of that person beyond the vendor-wide ones)."""
    held = frozenset(categories)
    names = frozenset(c.value for c in held)
    groups: Counter[PeopleGroup] = Counter()
    for country, region, own in people:
        groups[PeopleGroup(country, region, names | own)] += 1
    return Exposure(tuple(sorted(names)), severity(held), duties(rules, groups))


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
