"""report.html: one self-contained page a person reads first. No JavaScript, no network;
every value that came from the export is escaped by Jinja2's autoescape."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from breachdesk.display import finalize
from breachdesk.report.svg import bar_chart
from breachdesk.taxonomy import FindingKind

if TYPE_CHECKING:
    from breachdesk.report.outputs import AssessOutputs

_ENV = Environment(
    loader=PackageLoader("breachdesk.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=finalize,  # bidi controls shown, never obeyed
)


def render_report(impact: dict[str, Any], out: AssessOutputs) -> str:
    total = out.aggregate.total
    by_category: Counter[str] = Counter()
    orgs: list[tuple[str, int]] = []
    no_mfa: list[str] = []
    no_mfa_count = 0
    if out.impact is not None:
        by_category = out.impact.exposure_counts()
        no_mfa = out.impact.user_ids_without_mfa(100)
        no_mfa_count = out.impact.users_without_mfa
        orgs = sorted(
            ((o.org_id, o.affected_members) for o in out.impact.organizations),
            key=lambda kv: (-kv[1], kv[0]),
        )
    else:
        for field in out.inventory:
            if field.category is not None:
                by_category[field.category.value] += field.present
    countries = sorted(
        ((c, v["users"]) for c, v in impact["by_country"].items()), key=lambda kv: (-kv[1], kv[0])
    )
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"count": 0, "fields": set(), "sources": set()}
    )
    for finding in total.findings:
        group = groups[finding.fingerprint]
        group.update(kind=finding.kind.value, rule=finding.rule, masked=finding.masked)
        group["count"] += 1
        group["fields"].add(finding.field)
        group["sources"].add(out.sources[finding.source])
    distinct = sorted(
        (
            {**g, "fingerprint": fp, "fields": sorted(g["fields"]), "sources": sorted(g["sources"])}
            for fp, g in groups.items()
        ),
        key=lambda g: (-g["count"], g["kind"], g["fingerprint"]),
    )
    sensitive = any(FindingKind(f["kind"]).sensitive and f["count"] for f in impact["findings"])
    reject_reasons = Counter(r.reason.value for r in total.rejects)
    template = _ENV.get_template("report.html.j2")
    return template.render(
        impact=impact,
        category_chart=bar_chart(
            "Affected users by exposed category" if out.impact else "Records by data category",
            by_category.most_common(),
        ),
        country_chart=bar_chart("Affected users by country", countries),
        org_chart=bar_chart("Organizations by affected members", orgs[:25]),
        orgs=orgs[:50],
        org_count=len(orgs),
        no_mfa=no_mfa,
        no_mfa_count=no_mfa_count,
        distinct=distinct[:200],
        distinct_count=len(distinct),
        sensitive=sensitive,
        reject_reasons=sorted(reject_reasons.items()),
        skipped=out.skipped,
    )
