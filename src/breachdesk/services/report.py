"""The report-for-the-authority use case: what one regime's notification needs, as Markdown
and PDF, and an evidence bundle (the verified audit log, impact.json, every SHA-256) as one zip."""

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

from breachdesk.errors import InputError, StoreError
from breachdesk.impact import read_impact
from breachdesk.obligations.evaluate import NOT_LEGAL_ADVICE
from breachdesk.obligations.rules import builtin_rules
from breachdesk.private import write_private
from breachdesk.report.authority import AuthorityReport, Section
from breachdesk.report.tables import affected_users
from breachdesk.services.obligations import obligations
from breachdesk.services.workspace import Workspace
from breachdesk.store import incident as record
from breachdesk.store.audit import entry_json, head_json, read_events, verify_chain

CONSEQUENCES = {
    "user.contact.email": "targeted phishing of the people affected, with their name and employer",
    "user.authorization.credentials": "account takeover with the leaked tokens until revoked",
    "user.financial.credit_card": "card fraud",
    "user.financial.bank_account": "fraudulent debits or payment redirection",
    "user.government_id": "identity theft",
    "user.location.imprecise": "profiling by city and country",
    "user.behavior.browsing_history": "disclosure of the pages people visited in the product",
}  # fmt: skip


@dataclass(frozen=True)
class AuthorityFiles:
    markdown: Path
    pdf: Path
    bundle: Path
    chain_entries: int


def authority_report(ws: Workspace, regime: str, out: Path | None = None) -> AuthorityFiles:
    rules = {r.id: r for r in builtin_rules()}
    if regime not in rules:
        raise InputError(f"no regime {regime!r}; known: {', '.join(sorted(rules))}")
    rule = rules[regime]
    workspace = ws.path
    impact = read_impact(ws.output("impact.json"))
    incident = record.view(ws.store)
    result = next(r for r in obligations(ws).results if r.rule == regime)
    j = rule.jurisdiction
    exposure: Counter[str] = Counter()
    for user in affected_users(ws.outputs):
        if user.country in j.countries or user.region in j.regions:
            exposure.update(user.exposed)
    check = verify_chain(ws.store)
    if not check.intact:
        raise StoreError(f"the audit log does not verify ({check.broken}); no evidence bundle made")
    entries = check.entries
    events = list(read_events(ws.store))
    measures = [f"{when.isoformat()}: {summary}" for when, summary in record.events(ws.store)]
    decisions = [
        f"{d.decided_at.isoformat()}: {d.subject} — {d.decision} ({d.rationale})"
        for d in record.decisions(ws.store)
    ]

    now = datetime.now(UTC).replace(microsecond=0)
    deadline = (
        f"{result.deadline_utc.isoformat()} UTC ({result.deadline_local})"
        if result.deadline_utc
        else "without undue delay"
    )
    aware = (
        ", ".join(f"{a.party}: {a.aware_at.isoformat()}" for a in incident.awareness)
        or "not recorded"
    )
    absent = [
        f["statement"].replace("absent: ", f"{f['kind']}: not found in ")
        for f in impact["findings"]
        if not f["count"]
    ]
    present = [f"{f['kind']}: {f['statement']}" for f in impact["findings"] if f["count"]]
    report = AuthorityReport(
        title=f"{rule.title} — {incident.title}",
        lead=[
            f"Regime: {rule.id} ({j.name}); to: {rule.notify}",
            f"Assessment: {result.outcome} — {result.reason}",
            f"Deadline: {deadline}",
            f"Prepared {now.isoformat()} by breachdesk from workspace {workspace.name}",
            f"Audit log head: {check.head} (entries and hash of the last one)",
        ],
        sections=[
            Section(
                "Nature of the breach",
                [
                    f"A third-party vendor ({incident.vendor or 'vendor not recorded'}) was "
                    "breached and a dataset of its records about our users was exported."
                    + (
                        f" The dataset reached us on {incident.dataset_arrived_at.isoformat()}."
                        if incident.dataset_arrived_at
                        else ""
                    ),
                    f"Awareness: {aware}.",
                ],
            ),
            Section(
                "Categories and approximate numbers of people and records",
                [
                    f"People affected in {j.name}: about {result.people:,} "
                    f"({result.triggering:,} whose exposed data this regime names); "
                    f"in all jurisdictions: {(impact['affected'] or {}).get('users', 0):,}.",
                    f"Records in the dataset: {impact['records']['read']:,} read, "
                    f"{impact['records']['rejected']:,} unreadable.",
                ],
                [
                    f"{category}: {n:,} {'person' if n == 1 else 'people'}"
                    for category, n in exposure.most_common()
                ],
            ),
            Section(
                "What the dataset did not contain",
                [],
                absent or ["every kind looked for was found"],
            ),
            Section("Sensitive values found", [], present or ["none"]),
            Section(
                "Likely consequences",
                [],
                [text for key, text in CONSEQUENCES.items() if exposure.get(key)]
                or ["none identified"],
            ),
            Section(
                "Measures taken and proposed",
                ["Recorded on the incident's timeline and in its decisions:"],
                measures + decisions or ["none recorded yet: breachdesk incident event / decide"],
            ),
            Section(
                "Contact point",
                [incident.sender or "not recorded: breachdesk incident set --sender"],
            ),
            Section("Required content (from the regime's rule)", [], list(rule.content)),
            Section("Sources", [NOT_LEGAL_ADVICE], list(rule.citations)),
        ],
    )
    folder = out or workspace / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    markdown = folder / f"authority-{regime}.md"
    pdf = folder / f"authority-{regime}.pdf"
    md_bytes = report.markdown().encode("utf-8")
    pdf_bytes = report.pdf()
    write_private(markdown, md_bytes)
    write_private(pdf, pdf_bytes)
    bundle = folder / f"evidence-{regime}.zip"
    write_private(
        bundle,
        _bundle(ws, impact, events, entries, {markdown.name: md_bytes, pdf.name: pdf_bytes}),
    )
    return AuthorityFiles(markdown, pdf, bundle, entries)


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
