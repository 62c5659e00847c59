"""The incident record in the store: details, awareness, timeline events, tasks and
decisions. Every change is written with its audit entry in one transaction; the entry's
payload holds everything needed to rebuild the row (see :mod:`breachdesk.store.replay`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from breachdesk.domain.incident import (
    Awareness,
    Decision,
    IncidentView,
    Task,
    TimelineEntry,
)
from breachdesk.errors import InputError
from breachdesk.store import models as m
from breachdesk.store.db import Store
from breachdesk.store.models import instant_text


def _text(value: datetime | None) -> str | None:
    return instant_text(value) if value is not None else None


def view(store: Store) -> IncidentView:
    with store.read() as session:
        incident = session.get(m.Incident, store.incident)
        assert incident is not None  # open_store creates it
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
        measures = session.scalars(
            select(m.TimelineEvent)
            .where(m.TimelineEvent.incident_id == incident.id, m.TimelineEvent.measure)
            .order_by(m.TimelineEvent.occurred_at, m.TimelineEvent.id)
        ).all()
        return IncidentView(
            id=incident.id,
            title=incident.title,
            vendor=incident.vendor,
            timezone=incident.timezone,
            dataset_arrived_at=incident.dataset_arrived_at,
            official_domains=tuple(orjson.loads(incident.official_domains)),
            sender=incident.sender,
            awareness=tuple(Awareness(a.party, a.aware_at) for a in awareness),
            open_tasks=tuple(_task(t) for t in tasks),
            decisions=len(decisions),
            company=incident.company,
            controller=incident.controller,
            dpo=incident.dpo,
            contact_email=incident.contact_email,
            verify_url=incident.verify_url,
            vendor_incident_start=incident.vendor_incident_start,
            vendor_incident_end=incident.vendor_incident_end,
            own_systems_breached=incident.own_systems_breached,
            measures=tuple(_event(e) for e in measures),
        )


def update(
    store: Store, actor: str, changes: Mapping[str, Any], awareness: Mapping[str, datetime]
) -> None:
    """Set incident fields (``official_domains`` a list) and awareness times."""
    if not changes and not awareness:
        return
    with store.write() as tx:
        incident = tx.session.get(m.Incident, store.incident)
        assert incident is not None
        for name, value in changes.items():
            stored = orjson.dumps(value).decode() if name == "official_domains" else value
            setattr(incident, name, stored)
        for party, at in awareness.items():
            row = tx.session.scalars(
                select(m.Awareness).where(
                    m.Awareness.incident_id == incident.id, m.Awareness.party == party
                )
            ).first()
            if row is None:
                tx.session.add(m.Awareness(incident_id=incident.id, party=party, aware_at=at))
            else:
                row.aware_at = at
        payload = {
            name: (_text(v) if isinstance(v, datetime) else v) for name, v in changes.items()
        }  # every value as set (None clears a time), so the log can rebuild the row
        payload["aware"] = {party: instant_text(at) for party, at in awareness.items()}
        tx.audit("incident.updated", payload, actor=actor)


def add_event(
    store: Store,
    at: datetime,
    summary: str,
    actor: str,
    measure: bool = False,
    language: str = "",
) -> TimelineEntry:
    with store.write() as tx:
        row = m.TimelineEvent(
            incident_id=store.incident, occurred_at=at, summary=summary, actor=actor,
            measure=measure, language=language,
        )  # fmt: skip
        tx.session.add(row)
        tx.session.flush()
        payload: dict[str, object] = {
            "id": row.id, "at": instant_text(at), "summary": summary, "measure": measure,
        }  # fmt: skip
        if language:
            payload["language"] = language
        tx.audit("incident.event", payload, actor=actor)
        return _event(row)


def add_task(store: Store, title: str, owner: str, due: datetime | None, actor: str) -> Task:
    now = datetime.now(UTC)
    with store.write() as tx:
        row = m.Task(
            incident_id=store.incident, title=title, owner=owner, due_at=due, status="open",
            created_at=now,
        )  # fmt: skip
        tx.session.add(row)
        tx.session.flush()
        task = _task(row)
        tx.audit(
            "task.added",
            {"id": task.id, "title": title, "owner": owner, "due": _text(due),
             "created": instant_text(now)},
            actor=actor,
        )  # fmt: skip
    return task


def close_task(store: Store, task_id: int, actor: str) -> Task:
    now = datetime.now(UTC)
    with store.write() as tx:
        row = tx.session.get(m.Task, task_id)
        if row is None:
            raise InputError(f"there is no task {task_id}")
        row.status = "done"
        row.closed_at = now
        task = _task(row)
        tx.audit("task.done", {"id": task_id, "closed": instant_text(now)}, actor=actor)
    return task


def decide(store: Store, subject: str, text: str, rationale: str, by: str) -> Decision:
    now = datetime.now(UTC).replace(microsecond=0)
    with store.write() as tx:
        row = m.Decision(
            incident_id=store.incident, subject=subject, decision=text, rationale=rationale,
            decided_by=by, decided_at=now,
        )  # fmt: skip
        tx.session.add(row)
        tx.session.flush()
        recorded = Decision(row.id, subject, text, rationale, by, now)
        tx.audit(
            "decision.recorded",
            {"id": row.id, "subject": subject, "decision": text, "rationale": rationale,
             "decided_at": instant_text(now)},
            actor=by,
        )  # fmt: skip
    return recorded


def decisions(store: Store, newest_first: bool = False) -> list[Decision]:
    order = m.Decision.id.desc() if newest_first else m.Decision.id
    with store.read() as session:
        return [
            Decision(d.id, d.subject, d.decision, d.rationale, d.decided_by, d.decided_at)
            for d in session.scalars(select(m.Decision).order_by(order))
        ]


def last_decision(store: Store) -> int:
    """The id of the newest decision (0 when none): a cheap "has anything been decided"."""
    with store.read() as session:
        return int(session.scalar(select(func.max(m.Decision.id))) or 0)


def tasks(store: Store) -> list[Task]:
    with store.read() as session:
        return [
            _task(t) for t in session.scalars(select(m.Task).order_by(m.Task.status, m.Task.due_at))
        ]


def timeline_rows(store: Store) -> list[TimelineEntry]:
    """Events, awareness and decisions as recorded in their tables."""
    entries: list[TimelineEntry] = []
    with store.read() as session:
        for event in session.scalars(select(m.TimelineEvent)):
            entries.append(_event(event))
        for party in session.scalars(select(m.Awareness)):
            entries.append(
                TimelineEntry(party.aware_at, "aware", f"{party.party} became aware", "")
            )
        for d in session.scalars(select(m.Decision)):
            entries.append(
                TimelineEntry(
                    d.decided_at, "decision", f"{d.subject}: {d.decision} — {d.rationale}",
                    d.decided_by,
                )
            )  # fmt: skip
    return entries


def events(store: Store) -> list[tuple[datetime, str]]:
    """(when, summary) of the timeline's events, oldest first."""
    with store.read() as session:
        return [
            (e.occurred_at, e.summary)
            for e in session.scalars(select(m.TimelineEvent).order_by(m.TimelineEvent.occurred_at))
        ]


def _event(row: m.TimelineEvent) -> TimelineEntry:
    kind = "measure" if row.measure else "event"
    return TimelineEntry(row.occurred_at, kind, row.summary, row.actor, row.language or "")


def _task(row: m.Task) -> Task:
    return Task(
        id=row.id,
        title=row.title,
        owner=row.owner,
        due_at=row.due_at,
        status=row.status,
        created_at=row.created_at,
    )
