"""The incident use case: the incident's details, who became aware when, the timeline, tasks
and decisions — every change an entry of the workspace's hash-chained audit log."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from breachdesk.domain.incident import (
    Awareness,
    Decision,
    IncidentView,
    Task,
    TimelineEntry,
    check_zone,
    iso,
    parse_instant,
)
from breachdesk.errors import InputError
from breachdesk.settings import SETTINGS_FILE, load_settings
from breachdesk.store import Store, append_event, open_store, read_events
from breachdesk.store import models as m

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def open_workspace_store(workspace: Path, store_url: str | None = None) -> Store:
    """The store of an existing workspace (never creates one by accident): the one its
    settings name, or ``store_url`` when a command was given one (--store)."""
    if not (workspace / SETTINGS_FILE).exists():
        raise InputError(f"{workspace}: not a workspace (breachdesk assess --out creates one)")
    return open_store(store_url or load_settings(workspace).store_url, workspace)


def _required(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise InputError(f"{what} is required and may not be empty")
    return text


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _incident(store: Store, session: Session) -> m.Incident:
    found = session.get(m.Incident, store.incident_id())
    assert found is not None  # incident_id() creates it when missing
    return found


def show(workspace: Path) -> IncidentView:
    store = open_workspace_store(workspace)
    try:
        with store.session() as session:
            incident = _incident(store, session)
            awareness = session.scalars(
                select(m.Awareness)
                .where(m.Awareness.incident_id == incident.id)
                .order_by(m.Awareness.aware_at)
            ).all()
            tasks = session.scalars(
                select(m.Task)
                .where(m.Task.incident_id == incident.id, m.Task.status == "open")
                .order_by(m.Task.due_at, m.Task.id)
            ).all()
            decisions = session.scalars(
                select(m.Decision.id).where(m.Decision.incident_id == incident.id)
            ).all()
            return IncidentView(
                id=incident.id,
                title=incident.title,
                vendor=incident.vendor,
                timezone=incident.timezone,
                dataset_arrived_at=_instant(incident.dataset_arrived_at)
                if incident.dataset_arrived_at
                else None,
                official_domains=tuple(orjson.loads(incident.official_domains)),
                sender=incident.sender,
                awareness=tuple(Awareness(a.party, _instant(a.aware_at)) for a in awareness),
                open_tasks=tuple(_task(t) for t in tasks),
                decisions=len(decisions),
            )
    finally:
        store.close()


def update(
    workspace: Path,
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
        changes["dataset_arrived_at"] = iso(
            parse_instant(dataset_arrived, "dataset arrived", past=True)
        )
    if official_domains is not None:
        domains = [d.strip().lower().rstrip(".") for d in official_domains]
        bad = [d for d in domains if not _DOMAIN.match(d)]
        if bad:
            raise InputError(f"official domain {bad[0]!r} is not a host name")
        changes["official_domains"] = orjson.dumps(domains).decode()
    if sender is not None:
        changes["sender"] = sender.strip()
    awareness = {
        _required(party, "the party"): iso(parse_instant(at, f"awareness of {party}", past=True))
        for party, at in (aware or {}).items()
    }
    store = open_workspace_store(workspace)
    try:
        with store.session() as session, session.begin():
            incident = _incident(store, session)
            for name, value in changes.items():
                setattr(incident, name, value)
            for party, at in awareness.items():
                row = session.scalars(
                    select(m.Awareness).where(
                        m.Awareness.incident_id == incident.id, m.Awareness.party == party
                    )
                ).first()
                if row is None:
                    session.add(m.Awareness(incident_id=incident.id, party=party, aware_at=at))
                else:
                    row.aware_at = at
        if changes or awareness:
            append_event(store, "incident.updated", {**changes, "aware": awareness}, actor=actor)
    finally:
        store.close()
    return show(workspace)


def add_event(workspace: Path, at: str, summary: str, actor: str) -> TimelineEntry:
    when = parse_instant(at, "event time", past=True)
    text = _required(summary, "the event summary")
    store = open_workspace_store(workspace)
    try:
        with store.session() as session, session.begin():
            incident = _incident(store, session)
            session.add(
                m.TimelineEvent(
                    incident_id=incident.id, occurred_at=iso(when), summary=text, actor=actor
                )
            )
        append_event(store, "incident.event", {"at": iso(when), "summary": text}, actor=actor)
    finally:
        store.close()
    return TimelineEntry(when, "event", text, actor)


def add_task(workspace: Path, title: str, owner: str, due: str | None, actor: str) -> Task:
    text = _required(title, "the task title")
    who = _required(owner, "the task owner")
    due_at = iso(parse_instant(due, "due time")) if due else None
    now = iso(datetime.now(UTC))
    store = open_workspace_store(workspace)
    try:
        with store.session() as session, session.begin():
            incident = _incident(store, session)
            row = m.Task(
                incident_id=incident.id, title=text, owner=who, due_at=due_at, status="open",
                created_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            task = _task(row)
        append_event(
            store, "task.added", {"id": task.id, "title": text, "owner": who, "due": due_at},
            actor=actor,
        )  # fmt: skip
    finally:
        store.close()
    return task


def close_task(workspace: Path, task_id: int, actor: str) -> Task:
    store = open_workspace_store(workspace)
    try:
        with store.session() as session, session.begin():
            row = session.get(m.Task, task_id)
            if row is None:
                raise InputError(f"there is no task {task_id}")
            row.status = "done"
            row.closed_at = iso(datetime.now(UTC))
            task = _task(row)
        append_event(store, "task.done", {"id": task_id}, actor=actor)
    finally:
        store.close()
    return task


def decide(workspace: Path, subject: str, decision: str, rationale: str, by: str) -> Decision:
    """Record a decision; one without its rationale is refused."""
    subject = _required(subject, "the decision's subject")
    text = _required(decision, "the decision")
    reason = _required(rationale, "the rationale")
    who = _required(by, "who decided")
    now = datetime.now(UTC).replace(microsecond=0)
    store = open_workspace_store(workspace)
    try:
        with store.session() as session, session.begin():
            incident = _incident(store, session)
            row = m.Decision(
                incident_id=incident.id, subject=subject, decision=text, rationale=reason,
                decided_by=who, decided_at=iso(now),
            )  # fmt: skip
            session.add(row)
            session.flush()
            recorded = Decision(row.id, subject, text, reason, who, now)
        append_event(
            store,
            "decision.recorded",
            {"id": recorded.id, "subject": subject, "decision": text, "rationale": reason},
            actor=who,
        )
    finally:
        store.close()
    return recorded


def timeline(workspace: Path) -> list[TimelineEntry]:
    """Events, tasks, decisions and the runs of assess (from the audit log), in time order."""
    store = open_workspace_store(workspace)
    entries: list[TimelineEntry] = []
    try:
        with store.session() as session:
            incident = _incident(store, session)
            for event in session.scalars(
                select(m.TimelineEvent).where(m.TimelineEvent.incident_id == incident.id)
            ):
                entries.append(
                    TimelineEntry(_instant(event.occurred_at), "event", event.summary, event.actor)
                )
            for party in session.scalars(
                select(m.Awareness).where(m.Awareness.incident_id == incident.id)
            ):
                entries.append(
                    TimelineEntry(
                        _instant(party.aware_at), "aware", f"{party.party} became aware", ""
                    )
                )
            for d in session.scalars(
                select(m.Decision).where(m.Decision.incident_id == incident.id)
            ):
                entries.append(
                    TimelineEntry(
                        _instant(d.decided_at),
                        "decision",
                        f"{d.subject}: {d.decision} — {d.rationale}",
                        d.decided_by,
                    )
                )
        for entry in read_events(store):
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
            elif entry.action.startswith("notify."):
                entries.append(TimelineEntry(at, "notify", entry.action, entry.actor))
    finally:
        store.close()
    return sorted(entries, key=lambda e: (e.at, e.kind, e.summary))


def _task(row: m.Task) -> Task:
    return Task(
        id=row.id,
        title=row.title,
        owner=row.owner,
        due_at=_instant(row.due_at) if row.due_at else None,
        status=row.status,
        created_at=_instant(row.created_at),
    )
