"""Coverage: the places where affected people live that no rule speaks for.

A duty list that only shows the regimes it knows reads as complete when it is not. Every
country (or, for a country whose rules are per region such as the US, every region) with
affected people that no rule covers is listed with its count, and so are the people whose
country or region is unknown, so that nothing is silently left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from breachdesk.obligations.evaluate import PeopleGroup
from breachdesk.obligations.rules import ObligationRule


@dataclass(frozen=True)
class Uncovered:
    """Affected people in one place that no rule covers."""

    place: str  # ISO 3166-1 alpha-2 (DE), ISO 3166-2 (US-AZ), "US" (region unknown) or ""
    country: str
    region: str
    people: int
    why: str


def not_covered(rules: Iterable[ObligationRule], groups: Counter[PeopleGroup]) -> list[Uncovered]:
    """Every place with affected people that no rule covers, most people first."""
    rules = list(rules)
    countries = {c for r in rules for c in r.jurisdiction.countries}
    regions = {g for r in rules for g in r.jurisdiction.regions}
    # countries whose rules are per region: there a person is covered by their region only
    by_region = {r.jurisdiction.country for r in rules if r.jurisdiction.regions} - {None}
    counts: Counter[tuple[str, str, str]] = Counter()
    for group, n in groups.items():
        country, region = group.country, group.region
        if country in countries or (region and region in regions):
            continue
        if not country:
            counts[("", "", "no country recorded: no rule can be chosen")] += n
        elif country in by_region and not region:
            counts[(country, "", "no region recorded: the rules of its regions cannot tell")] += n
        elif country in by_region:
            counts[(country, region, "no rule for this region")] += n
        else:
            counts[(country, "", "no rule for this country")] += n
    found = [
        Uncovered(region or country, country, region, n, why)
        for (country, region, why), n in counts.items()
    ]
    return sorted(found, key=lambda u: (-u.people, u.place))
