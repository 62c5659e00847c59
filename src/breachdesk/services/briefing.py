"""The briefing report.html opens with, assembled when assess writes the report: the
incident as recorded, the duties with their deadlines (the obligations service over this
run's affected people), and what to do next — each step a command a person can run.

The report is written once per run; decisions and awareness times recorded later change
the duties, so the briefing says when it was written and points to ``breachdesk
obligations`` for the current view.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from breachdesk.directory import read_organization_names
from breachdesk.domain.duties import DutyState
from breachdesk.engine.aggregate import RunAggregate
from breachdesk.errors import BreachdeskError
from breachdesk.impact import Impact
from breachdesk.obligations.evaluate import ACTIONABLE, PeopleGroup
from breachdesk.report.briefing import Briefing, DutyLine
from breachdesk.services.changes import CHANGES_CSV, Changes
from breachdesk.services.duties import join
from breachdesk.services.incident import resolve_identity
from breachdesk.services.obligations import obligations_of
from breachdesk.services.workspace import RUNS, Workspace
from breachdesk.store import duties as store_duties
from breachdesk.store import incident as record
from breachdesk.store.outbox import counts as notice_counts
from breachdesk.taxonomy import Category, label


def brief(
    ws: Workspace,
    impact: Impact | None,
    aggregate: RunAggregate,
    directory: Path | None,
    run: int,
    changes: Changes | None = None,
) -> Briefing:
    view = record.view(ws.store)
    zone = ZoneInfo(view.timezone or "UTC")
    now = datetime.now(UTC)

    def local(when: datetime | None) -> str:
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if when else ""

    total = aggregate.total
    events = [datetime.fromtimestamp(t, UTC) if t is not None else None
              for t in (total.time_first, total.time_last)]  # fmt: skip
    dates = [
        ("first event in the export", local(events[0])),
        ("last event in the export", local(events[1])),
        ("vendor's incident began", local(view.vendor_incident_start)),
        ("vendor's incident ended", local(view.vendor_incident_end)),
        *((f"{a.party} became aware", local(a.aware_at)) for a in view.awareness),
        ("dataset arrived", local(view.dataset_arrived_at)),
    ]
    duties: list[DutyLine] = []
    other = 0
    duties_note = ""
    uncovered: list[str] = []
    if impact is not None:
        groups = _groups(impact)
        listed = join(obligations_of(ws.store, groups), store_duties.records(ws.store), now)
        for d in listed.duties:  # overdue first, then by deadline
            r = d.result
            if r.outcome not in ACTIONABLE or d.state is DutyState.NOT_REQUIRED:
                other += 1
                continue
            # without any awareness time the note under the table says it once for all
            note = "; ".join(r.undecided) if r.undecided and view.awareness else _plain(r.reason)
            deadline = r.deadline_local or (
                "without undue delay" if r.deadline_kind == "without_undue_delay" else ""
            )
            duties.append(DutyLine(r.title, r.jurisdiction, r.outcome, r.triggering, deadline,
                                   d.overdue, note, d.state.value.replace("_", " ")))  # fmt: skip
        uncovered = [f"{u.place or 'unknown'} {u.people:,} ({u.why})" for u in listed.not_covered]
        if not view.awareness:
            duties_note = (
                "No awareness time is recorded, so no deadline can be computed: record when the "
                f"company became aware (breachdesk incident set {ws.path} --aware "
                f"company=TIME), then run breachdesk obligations {ws.path}."
            )
    names: dict[str, str] = {}
    if directory is not None:
        try:
            names = read_organization_names(directory)
        except BreachdeskError:
            names = {}  # the match read the directory: its errors were reported there
    return Briefing(
        title=view.title,
        vendor=view.vendor,
        timezone=view.timezone or "UTC",
        run=run,
        written=local(now),
        dates=tuple((what, when) for what, when in dates if when),
        duties=tuple(duties),
        other_duties=other,
        duties_note=duties_note,
        steps=tuple(_steps(ws, impact, aggregate, changes, run)),
        changes=tuple(changes.lines()) if changes is not None else (),
        org_names=names,
        not_covered=tuple(uncovered),
    )


def _plain(reason: str) -> str:
    """A rule's reason with data category keys in plain words (``user.contact.email`` is
    "email addresses")."""
    for key in sorted((c.value for c in Category), key=len, reverse=True):
        reason = reason.replace(key, label(key))
    return reason


def _groups(impact: Impact) -> Counter[PeopleGroup]:
    table = impact.users.group_by(["country", "region", "exposed"]).aggregate(
        [("user_id", "count")]
    )
    groups: Counter[PeopleGroup] = Counter()
    for row in table.to_pylist():
        exposed = frozenset(c for c in str(row["exposed"]).split(";") if c)
        groups[PeopleGroup(str(row["country"]), str(row["region"]), exposed)] += int(
            row["user_id_count"]
        )
    return groups


def _steps(
    ws: Workspace,
    impact: Impact | None,
    aggregate: RunAggregate,
    changes: Changes | None,
    run: int,
) -> list[str]:
    """What to do next, most urgent first; each names the command that does it."""
    path = ws.path
    view = record.view(ws.store)
    steps: list[str] = []
    if impact is None:
        steps.append(
            "Match the export against the company directory to know whom it affects: "
            f"breachdesk assess EXPORT --directory DIR --out {path} --replace."
        )
    if not view.awareness:
        steps.append(
            f"Record when the company became aware: breachdesk incident set {path} "
            "--aware company=TIME (the deadlines start then)."
        )
    secrets = Counter(f.kind for f in aggregate.total.findings if f.kind.sensitive)
    if secrets:
        distinct = len(
            {f.fingerprint for f in aggregate.total.findings if f.kind.sensitive}
        )  # one value seen in many records is one thing to revoke
        kinds = ", ".join(f"{k.value.replace('_', ' ')} {n:,}" for k, n in sorted(secrets.items()))
        steps.append(
            f"Revoke or rotate the {distinct:,} distinct secrets found (values seen: {kinds}): "
            "findings.csv lists each, masked, with its fingerprint."
        )
    if changes is not None and not changes.none and not changes.note:
        steps.append(
            f"Read what changed since run {changes.previous_run} ({RUNS}/{run}/{CHANGES_CSV}): "
            "plan notices for the newly affected and decide about the others."
        )
    if impact is not None and impact.user_count:
        missing = resolve_identity(view, ws.settings).missing_for_notices()
        if missing or not view.measures:
            what = " ".join(f"{option} …" for option, _ in missing)
            steps.append(
                "Record what notices state: the company's identity "
                f"(breachdesk incident set {path} {what}) and the measures taken (breachdesk "
                f"incident event {path} --measure …)."
                if missing
                else f"Record the measures taken (breachdesk incident event {path} --measure …)."
            )
        planned = sum(n for _, _, _, n in notice_counts(ws.store))
        if not planned:
            admins = f"{impact.admins_to_notify:,} admins"
            if impact.admin_notices != impact.admins_to_notify:
                admins += (
                    f" receiving {impact.admin_notices:,} notices, one per organization "
                    "they administer"
                )
            steps.append(
                f"Plan, preview and send the notices: breachdesk notify plan {path}, then "
                f"notify preview and notify send --live ({impact.user_count:,} users, {admins})."
            )
        without = impact.users_without_mfa
        if without:
            steps.append(
                f"{without:,} affected users have no MFA: their notices ask them to turn it on "
                "first; consider requiring it."
            )
    unread = len(aggregate.total.rejects)
    if unread:
        too_large = sum(1 for r in aggregate.total.rejects if r.reason.value == "too_large")
        steps.append(
            f"{unread:,} records could not be read and were not scanned ({too_large:,} too large):"
            " rejected.csv lists them; ask the vendor for a clean copy if they matter."
        )
    steps.append(f"Check the duties as they stand now: breachdesk obligations {path}.")
    return steps
