"""The report-for-the-authority use case: the facts of one regime's notification gathered from
the workspace (the incident's details, the duty and its filings, the people per country, the
categories in plain words, the measures, the findings and their absent statements), laid out
in the regime's terms (:mod:`breachdesk.report.authority_layouts`) as Markdown and PDF, and an
evidence bundle (the verified audit log, impact.json, every SHA-256) as one zip."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from babel import Locale

from breachdesk.domain.incident import iso
from breachdesk.errors import InputError, StoreError
from breachdesk.impact import read_impact
from breachdesk.obligations.evaluate import NOT_LEGAL_ADVICE
from breachdesk.obligations.rules import builtin_rules
from breachdesk.private import write_private
from breachdesk.report.authority_layouts import Facts, layout
from breachdesk.report.tables import affected_users
from breachdesk.services.duties import duty_list
from breachdesk.services.workspace import Workspace
from breachdesk.store import incident as record
from breachdesk.store import outbox
from breachdesk.store.audit import entry_json, head_json, read_events, verify_chain
from breachdesk.store.measures import measures
from breachdesk.taxonomy import PERSONAL, Category, label

CONSEQUENCES = {
    "user.contact.email": "targeted phishing of the people affected, with their name and employer",
    "user.authorization.credentials": "account takeover with the leaked tokens or keys until "
    "they are revoked",
    "user.financial.credit_card": "card fraud",
    "user.financial.bank_account": "fraudulent debits or payment redirection",
    "user.government_id": "identity theft",
    "user.location.imprecise": "profiling by city and country",
    "user.behavior.browsing_history": "disclosure of the pages people visited in the product",
}  # fmt: skip
_OPTIONAL = ("company", "controller", "dpo", "contact_email")  # incident details, when recorded


@dataclass(frozen=True)
class AuthorityFiles:
    markdown: Path
    pdf: Path
    bundle: Path
    chain_entries: int
    headings: tuple[str, ...] = ()
    draft: bool = False


def authority_report(
    ws: Workspace, regime: str, out: Path | None = None, draft: bool = False
) -> AuthorityFiles:
    """The report for ``regime``'s authority (or, for GDPR Art. 34, the communication to the
    people affected). A notification past its deadline must carry the reasons for the delay:
    without them recorded it is refused, unless ``draft`` (then marked DRAFT throughout)."""
    rules = {r.id: r for r in builtin_rules()}
    if regime not in rules:
        raise InputError(f"no regime {regime!r}; known: {', '.join(sorted(rules))}")
    impact = read_impact(ws.output("impact.json"))
    check = verify_chain(ws.store)
    if not check.intact:
        raise StoreError(f"the audit log does not verify ({check.broken}); no evidence bundle made")
    facts = gather_facts(ws, regime, impact, check.head)
    if facts.late and not facts.delay_reason and not draft:
        raise InputError(
            f"{regime} is past its deadline ({facts.deadline}) and no reasons for the delay are "
            f"recorded: breachdesk duty delay-reason {ws.path} {regime} --reason ... "
            "(or --draft for a draft marked as such)"
        )
    report = layout(facts)
    folder = out or ws.path / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    markdown = folder / f"authority-{regime}.md"
    pdf = folder / f"authority-{regime}.pdf"
    md_bytes = report.markdown().encode("utf-8")
    pdf_bytes = report.pdf()
    write_private(markdown, md_bytes)
    write_private(pdf, pdf_bytes)
    bundle = folder / f"evidence-{regime}.zip"
    events = list(read_events(ws.store))
    write_private(
        bundle,
        _bundle(ws, impact, events, check.entries, {markdown.name: md_bytes, pdf.name: pdf_bytes}),
    )
    return AuthorityFiles(
        markdown, pdf, bundle, check.entries, tuple(report.headings()), bool(facts.missing)
    )


def gather_facts(
    ws: Workspace, regime: str, impact: dict[str, Any], head: Any, now: datetime | None = None
) -> Facts:
    """Everything the layouts may say, read once from the workspace and its store."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    listed = duty_list(ws, now)
    duty = listed.get(regime)
    result = duty.result
    rule = next(r for r in builtin_rules() if r.id == regime)
    j = rule.jurisdiction
    incident = record.view(ws.store)
    details = {name: str(getattr(incident, name, "") or "").strip() for name in _OPTIONAL}
    exposure: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    for user in affected_users(ws.outputs):
        if user.country in j.countries or user.region in j.regions:
            exposure.update(user.exposed)
            countries[user.region if user.region in j.regions else user.country] += 1
    names = Locale("en").territories
    by_country = tuple(
        (f"{names[code]} ({code})" if code in names else code, n)
        for code, n in sorted(countries.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    scanned = impact["records"]
    absent = tuple(
        f"{label(f['kind'])}: none found ({f['statement'].removeprefix('absent: ')})"
        for f in impact["findings"] if not f["count"]
    )  # fmt: skip
    present = tuple(
        f"{label(f['kind'])}: {f['statement'].removeprefix('present: ')}"
        for f in impact["findings"] if f["count"]
    )  # fmt: skip
    found_measures, _flagged = measures(ws.store)
    window = (impact["provenance"].get("event_time") or {}) if impact.get("provenance") else {}
    notices = _notices(ws)
    missing = []
    if not details["controller"] and not details["company"]:
        missing.append("the controller (breachdesk incident set --controller)")
    if duty.late and not duty.delay_reason:
        missing.append(f"the reasons for the delay (breachdesk duty delay-reason ... {regime})")
    deadline = (
        f"{iso(result.deadline_utc)} ({result.deadline_local})"
        if result.deadline_utc
        else "without undue delay"
    )
    return Facts(
        regime=regime, title=rule.title, jurisdiction=j.name, notify=rule.notify,
        citations=tuple(rule.citations), content=tuple(rule.content), outcome=result.outcome,
        reason=_plain(result.reason), deadline=deadline, late=duty.late,
        duty_state=duty.state.value, filings=duty.filings, delay_reason=duty.delay_reason,
        incident=incident.title, vendor=incident.vendor,
        dataset_arrived=iso(incident.dataset_arrived_at) if incident.dataset_arrived_at else "",
        awareness=tuple((a.party, iso(a.aware_at)) for a in incident.awareness),
        controller=details["controller"] or details["company"], dpo=details["dpo"],
        contact=details["contact_email"] or incident.sender,
        event_first=str(window.get("first") or ""), event_last=str(window.get("last") or ""),
        people=result.people, named=result.triggering,
        affected_total=int((impact.get("affected") or {}).get("users", 0)),
        by_country=by_country, records_read=int(scanned["read"]),
        records_rejected=int(scanned["rejected"]),
        categories=tuple(
            (label(key), n) for key, n in exposure.most_common() if key in _PERSONAL_KEYS
        ),
        technical_data=bool(exposure.get(Category.OPERATIONS.value)),
        absent=absent, present=present,
        consequences=tuple(text for key, text in CONSEQUENCES.items() if exposure.get(key)),
        measures=tuple(f"{iso(when)}: {summary}" for when, summary in found_measures),
        measures_hint="record each with breachdesk incident event --measure (other timeline "
        "events are not listed as measures)",
        decisions=tuple(
            f"{iso(d.decided_at)}: {d.subject} — {d.decision} ({d.rationale})"
            for d in record.decisions(ws.store)
        ),
        notices=notices,
        other_duties=tuple(
            f"{d.rule}: {d.state.value.replace('_', ' ')}" for d in listed.duties
            if d.rule != regime and d.result.outcome in ("required", "likely", "cannot_tell")
        ),
        prepared=iso(now), audit_head=str(head), notice=NOT_LEGAL_ADVICE,
        missing=tuple(missing),
        uncovered=tuple(
            (f"{names[u.place]} ({u.place})" if u.place in names else u.place or "unknown")
            + f": {u.people:,} ({u.why})"
            for u in listed.not_covered
        ),
    )  # fmt: skip


_PERSONAL_KEYS = frozenset(c.value for c in PERSONAL)


def _plain(reason: str) -> str:
    """A reason with category keys in it ("exposed: user.authorization.credentials"), in words."""
    for key in sorted(_PERSONAL_KEYS | {Category.OPERATIONS.value}, key=len, reverse=True):
        reason = reason.replace(key, label(key))
    return reason


def _notices(ws: Workspace) -> tuple[str, ...]:
    states: dict[str, Counter[str]] = {}
    for kind, _locale, state, n in outbox.counts(ws.store):
        states.setdefault(kind, Counter())[state] += n
    lines = []
    for kind, what in (("user", "people affected"), ("admin", "organisation administrators")):
        counts = states.get(kind)
        if counts:
            parts = ", ".join(f"{n:,} {state}" for state, n in sorted(counts.items()))
            lines.append(f"{sum(counts.values()):,} notices to {what} by email: {parts}")
    return tuple(lines)


def _bundle(
    ws: Workspace,
    impact: dict[str, Any],
    events: list[Any],
    entries: int,
    reports: dict[str, bytes],
) -> bytes:
    files: dict[str, bytes] = dict(reports)
    files["impact.json"] = ws.output("impact.json").read_bytes()
    head = verify_chain(ws.store).head
    files["audit-log.jsonl"] = b"".join(entry_json(e) for e in events) + head_json(head)
    last_outputs: dict[str, str] = next(
        (e.payload.get("outputs", {}) for e in reversed(events) if e.action == "assess.finished"),
        {},
    )
    hashes = {
        "inputs": {i["path"]: i["sha256"] for i in impact["provenance"]["inputs"]},
        "containers": {
            c["path"]: c["sha256"] for c in impact["provenance"].get("containers") or ()
        },
        "directory": impact["provenance"]["directory"],
        "assess_outputs": last_outputs,
        "bundle": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "audit_chain": {
            "intact": True,
            "entries": entries,
            "last_hash": events[-1].hash if events else None,
            "head": str(head) if head else None,
        },
    }
    files["hashes.json"] = orjson.dumps(hashes, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()
