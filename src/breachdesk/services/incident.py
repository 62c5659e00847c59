"""The incident use case: the incident's details, who became aware when, the timeline, tasks
and decisions — every change an entry of the workspace's hash-chained audit log."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from breachdesk.domain.incident import (
    Decision,
    IncidentView,
    Task,
    TimelineEntry,
    check_zone,
    parse_instant,
)
from breachdesk.errors import InputError
from breachdesk.services.workspace import Workspace
from breachdesk.store import incident as record
from breachdesk.store import read_events

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


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
) -> IncidentView:
    """Change the incident's details; every time must carry its zone and lie in the past."""
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = _required(title, "the title")
    if vendor is not None:
        changes["vendor"] = vendor.strip()
    if timezone is not None:
        changes["timezone"] = check_zone(timezone)
    if dataset_arrived is not None:
        changes["dataset_arrived_at"] = parse_instant(dataset_arrived, "dataset arrived", past=True)
    if official_domains is not None:
        domains = [d.strip().lower().rstrip(".") for d in official_domains]
        bad = [d for d in domains if not _DOMAIN.match(d)]
        if bad:
            raise InputError(f"official domain {bad[0]!r} is not a host name")
        changes["official_domains"] = domains
    if sender is not None:
        changes["sender"] = sender.strip()
    awareness = {
        _required(party, "the party"): parse_instant(at, f"awareness of {party}", past=True)
        for party, at in (aware or {}).items()
    }
    record.update(ws.store, actor, changes, awareness)
    return show(ws)


def add_event(ws: Workspace, at: str, summary: str, actor: str) -> TimelineEntry:
    when = parse_instant(at, "event time", past=True)
    return record.add_event(ws.store, when, _required(summary, "the event summary"), actor)


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
                    f", {aff.get('users', 0):,} affected users,"
                    f" {aff.get('organizations', 0):,} organizations"
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
