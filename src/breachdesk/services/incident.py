"""The incident use case: the incident's details, who became aware when, the timeline, tasks
and decisions — every change an entry of the workspace's hash-chained audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from breachdesk.display import count_of
from breachdesk.domain.company import MAX_TEXT, CompanyIdentity, text_problems
from breachdesk.domain.incident import (
    Decision,
    IncidentView,
    Task,
    TimelineEntry,
    check_zone,
    parse_instant,
)
from breachdesk.errors import InputError
from breachdesk.notify.locales import LANGUAGES
from breachdesk.services.workspace import Workspace
from breachdesk.settings import Settings
from breachdesk.store import incident as record
from breachdesk.store import read_events


def _required(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise InputError(f"{what} is required and may not be empty")
    return text


def show(ws: Workspace) -> IncidentView:
    from dataclasses import replace

    from breachdesk.store.vendors import vendor_cuts

    view = record.view(ws.store)
    company = next((a.aware_at for a in view.awareness if a.party == "company"), None)
    return replace(view, vendor_cuts=vendor_cuts(ws.store, company))


def update(
    ws: Workspace,
    actor: str,
    *,
    title: str | None = None,
    vendor: str | None = None,
    timezone: str | None = None,
    dataset_arrived: str | None = None,
    official_domains: Sequence[str] | None = None,
    sender: str | None = None,
    aware: Mapping[str, str] | None = None,
    company: str | None = None,
    controller: str | None = None,
    dpo: str | None = None,
    contact_email: str | None = None,
    verify_url: str | None = None,
    vendor_incident_start: str | None = None,
    vendor_incident_end: str | None = None,
    own_systems_breached: bool | None = None,
) -> IncidentView:
    """Change the incident's details; every time must carry its zone and lie in the past.

    The company's identity is checked as a whole, as it will stand after the change: the
    sender, the contact address and the verify URL on an official domain, the verify URL
    https, no host name in the company's name that is not official. The first problem is
    refused in one line, and nothing is changed."""
    current = record.view(ws.store)
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = _required(title, "the title")
    if vendor is not None:
        changes["vendor"] = vendor.strip()
    if timezone is not None:
        changes["timezone"] = check_zone(timezone)
    if dataset_arrived is not None:
        changes["dataset_arrived_at"] = parse_instant(dataset_arrived, "dataset arrived", past=True)
    proposed: dict[str, object] = {}  # the identity's fields, as they will stand
    for name, text in (("company", company), ("controller", controller), ("dpo", dpo)):
        if text is not None:
            proposed[name] = " ".join(text.split())  # one line, as notices and reports show it
    for name, text in (("contact_email", contact_email), ("verify_url", verify_url),
                       ("sender", sender)):  # fmt: skip
        if text is not None:
            proposed[name] = text.strip()
    if official_domains is not None:
        proposed["official_domains"] = tuple(
            d.strip().lower().rstrip(".") for d in official_domains
        )
    problems = replace(identity(ws), **proposed).problems()  # type: ignore[arg-type]
    if problems:
        raise InputError(problems[0])
    changes.update(proposed)
    if vendor_incident_start is not None:
        changes["vendor_incident_start"] = parse_instant(
            vendor_incident_start, "vendor incident start", past=True
        )
    if vendor_incident_end is not None:
        changes["vendor_incident_end"] = parse_instant(
            vendor_incident_end, "vendor incident end", past=True
        )
    start = changes.get("vendor_incident_start", current.vendor_incident_start)
    end = changes.get("vendor_incident_end", current.vendor_incident_end)
    if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
        raise InputError("the vendor's incident ends before it starts")
    if own_systems_breached is not None:
        changes["own_systems_breached"] = own_systems_breached
    awareness = {
        _required(party, "the party"): parse_instant(at, f"awareness of {party}", past=True)
        for party, at in (aware or {}).items()
    }
    record.update(ws.store, actor, changes, awareness)
    return show(ws)


def identity(ws: Workspace) -> CompanyIdentity:
    """The company's identity in force (see :func:`resolve_identity`)."""
    return resolve_identity(record.view(ws.store), ws.settings)


def resolve_identity(view: IncidentView, settings: Settings) -> CompanyIdentity:
    """The incident record's identity and, where it holds nothing, the workspace's settings
    (a team may keep its sender and domains in breachdesk.toml)."""
    recorded = view.identity()
    return replace(
        recorded,
        company=recorded.company or settings.notify.company.strip(),
        official_domains=recorded.official_domains
        or tuple(d.strip().lower().rstrip(".") for d in settings.official_domains),
        sender=recorded.sender or settings.sender.strip(),
        verify_url=recorded.verify_url or settings.notify.verify_url.strip(),
    )


def ready_for_notices(view: IncidentView, settings: Settings, workspace: Path) -> CompanyIdentity:
    """The identity notices state, when everything they need is recorded and consistent;
    otherwise InputError naming every detail still missing and how to set it (one line)."""
    found = resolve_identity(view, settings)
    missing = found.missing_for_notices()
    if not view.vendor.strip():
        missing.insert(0, ("--vendor", "vendor"))
    steps = []
    if missing:
        options = " ".join(f"{option} …" for option, _ in missing)
        steps.append(f"breachdesk incident set {workspace} {options}")
    # the measures in the company's own words: what every notice without a text of its own
    # language states (so there must be one)
    stated = any(not m.language for m in view.measures)
    if not stated:
        steps.append(f"breachdesk incident event {workspace} --measure --at TIME --summary …")
    if steps:
        what = [words for _, words in missing]
        if not stated:
            what.append(
                "a measure taken without --language (notices say what was done)"
                if view.measures
                else "a measure taken (notices say what was done)"
            )
        raise InputError(
            f"notices need the incident's details first; missing: {', '.join(what)}; "
            f"run {' and '.join(steps)}"
        )
    problems = found.problems()
    if problems:
        raise InputError(f"the company's identity is inconsistent: {problems[0]}")
    return found


def require_for_notices(ws: Workspace) -> CompanyIdentity:
    return ready_for_notices(record.view(ws.store), ws.settings, ws.path)


def add_event(
    ws: Workspace, at: str, summary: str, actor: str, measure: bool = False, language: str = ""
) -> TimelineEntry:
    """An event on the timeline; ``measure``: a measure taken, which notices state under
    "What we did" (so it is one line of plain text, as a reader will see it). ``language``:
    the notice language a measure is written in — notices in that language state it instead
    of the measures recorded without one (the company's own words, stated everywhere else)."""
    when = parse_instant(at, "event time", past=True)
    text = _required(summary, "the event summary")
    language = language.strip().lower()
    if language and not measure:
        raise InputError("--language is for a measure (notices state measures): add --measure")
    if language and language not in LANGUAGES:
        raise InputError(f"--language {language!r}: notices are written in {', '.join(LANGUAGES)}")
    if measure:
        text = " ".join(text.split())
        problems = text_problems("a measure", text, MAX_TEXT, identity(ws).official_domains)
        if problems:
            raise InputError(f"{problems[0]} (measures are stated in every notice)")
    return record.add_event(ws.store, when, text, actor, measure, language)


def add_task(ws: Workspace, title: str, owner: str, due: str | None, actor: str) -> Task:
    text = _required(title, "the task title")
    who = _required(owner, "the task owner")
    due_at = parse_instant(due, "due time") if due else None
    return record.add_task(ws.store, text, who, due_at, actor)


def close_task(ws: Workspace, task_id: int, actor: str) -> Task:
    return record.close_task(ws.store, task_id, actor)


def decide(ws: Workspace, subject: str, decision: str, rationale: str, by: str) -> Decision:
    """Record a decision; one without its rationale is refused."""
    return record.decide(
        ws.store,
        _required(subject, "the decision's subject"),
        _required(decision, "the decision"),
        _required(rationale, "the rationale"),
        _required(by, "who decided"),
    )


def decisions(ws: Workspace) -> list[Decision]:
    """Every decision, newest first."""
    return record.decisions(ws.store, newest_first=True)


def tasks(ws: Workspace) -> list[Task]:
    return record.tasks(ws.store)


def timeline(ws: Workspace) -> list[TimelineEntry]:
    """Events, tasks, decisions and the runs of assess (from the audit log), in time order."""
    entries = record.timeline_rows(ws.store)
    for entry in read_events(ws.store):
        at = datetime.fromisoformat(entry.at)
        if entry.action == "assess.finished":
            rec = entry.payload.get("records") or {}
            aff = entry.payload.get("affected") or {}
            summary = f"assess: {rec.get('read', 0):,} records read"
            if aff:
                summary += (
                    f", {count_of(aff.get('users', 0), 'affected user')},"
                    f" {count_of(aff.get('organizations', 0), 'organization')}"
                )
            entries.append(TimelineEntry(at, "assess", summary, entry.actor))
        elif entry.action == "task.added":
            task = entry.payload
            summary = f"task {task['id']} added: {task['title']} ({task['owner']})"
            entries.append(TimelineEntry(at, "task", summary, entry.actor))
        elif entry.action == "task.done":
            entries.append(
                TimelineEntry(at, "task", f"task {entry.payload['id']} done", entry.actor)
            )
        elif entry.action in ("vendor.cut", "vendor.restored"):
            what = "cut off" if entry.action == "vendor.cut" else "restored"
            summary = f"vendor {entry.payload.get('vendor')} {what}: {entry.payload.get('why')}"
            entries.append(TimelineEntry(at, "vendor", summary, entry.actor))
        elif entry.action.startswith("notify."):
            entries.append(TimelineEntry(at, "notify", entry.action, entry.actor))
    return sorted(entries, key=lambda e: (e.at, e.kind, e.summary))
