"""report.html: one self-contained page a person reads first. No JavaScript, no network;
every value is escaped by Jinja2's autoescape (and bidirectional controls shown).

It opens with the briefing (:mod:`breachdesk.report.briefing`): the incident, its dates, the
headline numbers, the duties with their deadlines and what to do next, then links to the
run's files (relative, so they work from the workspace and from ``runs/<n>/``). Below come
the findings — every "absent" stated beside the records that could not be scanned — the
charts, organizations by name, the inventory and the provenance."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from breachdesk.display import finalize
from breachdesk.report.svg import bar_chart
from breachdesk.taxonomy import FindingKind, label

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
    names = dict(out.briefing.org_names) if out.briefing is not None else {}
    by_category: Counter[str] = Counter()
    orgs: list[tuple[str, int]] = []
    org_rows: list[tuple[str, str, int, int]] = []  # name, id, affected members, admins
    no_mfa: list[str] = []
    no_mfa_count = 0
    if out.impact is not None:
        by_category = out.impact.exposure_counts()
        no_mfa = out.impact.user_ids_without_mfa(100)
        no_mfa_count = out.impact.users_without_mfa
        ranked = sorted(out.impact.organizations, key=lambda o: (-o.affected_members, o.org_id))
        orgs = [(_org_label(o.org_id, names), o.affected_members) for o in ranked]
        org_rows = [
            (names.get(o.org_id, ""), o.org_id, o.affected_members, len(o.admins_to_notify))
            for o in ranked[:50]
        ]
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
    unscanned = ""
    if total.rejects:
        reasons = ", ".join(f"{n:,} {r}" for r, n in sorted(reject_reasons.items()))
        unscanned = f"{len(total.rejects):,} records not scanned ({reasons}: rejected.csv)"
    files = list(FILES)  # every run writes them all
    if out.briefing is not None and out.briefing.changes:
        files += ["changes.csv", "changes.json"]
    template = _ENV.get_template("report.html.j2")
    return template.render(
        impact=impact,
        briefing=out.briefing,
        files=files,
        unscanned=unscanned,
        secrets=len({f.fingerprint for f in total.findings if f.kind.sensitive}),
        org_rows=org_rows,
        category_chart=bar_chart(
            "Affected users by exposed category" if out.impact else "Records by data category",
            [(plain_category(c), n) for c, n in by_category.most_common()],
        ),
        country_chart=bar_chart("Affected users by country", countries),
        org_chart=bar_chart("Organizations by affected members", orgs[:25]),
        org_count=len(orgs),
        no_mfa=no_mfa,
        no_mfa_count=no_mfa_count,
        distinct=distinct[:200],
        distinct_count=len(distinct),
        sensitive=sensitive,
        reject_reasons=sorted(reject_reasons.items()),
        skipped=out.skipped,
    )


# the run's files for people, linked from the report (relative: beside report.html)
FILES = ("affected_users.csv", "affected_organizations.csv", "findings.csv", "unmatched.csv",
         "rejected.csv", "skipped.csv", "impact.json")  # fmt: skip


def plain_category(key: str) -> str:
    """A data category in plain words."""
    return label(key)


def _org_label(org_id: str, names: dict[str, str]) -> str:
    name = names.get(org_id, "").strip()
    return f"{name} ({org_id})" if name else org_id
