"""Editing a task (its status, owner and due time) from the dashboard: one write with its
audit entry, whose payload holds the task's fields after the change (replayed by
:mod:`breachdesk.store.replay`)."""

from __future__ import annotations

from datetime import UTC, datetime

from breachdesk.domain.incident import Task
from breachdesk.errors import InputError
from breachdesk.store import models as m
from breachdesk.store.db import Store
from breachdesk.store.models import instant_text

STATUSES = ("open", "done")


def update_task(
    store: Store,
    task_id: int,
    actor: str,
    *,
    status: str,
    owner: str,
    due: datetime | None,
) -> Task:
    if status not in STATUSES:
        raise InputError(f"task status {status!r}: expected one of {', '.join(STATUSES)}")
    now = datetime.now(UTC)
    with store.write() as tx:
        row = tx.session.get(m.Task, task_id)
        if row is None or row.incident_id != store.incident:
            raise InputError(f"there is no task {task_id}")
        if status == "done" and row.status != "done":
            row.closed_at = now
        elif status == "open":
            row.closed_at = None
        row.status, row.owner, row.due_at = status, owner, due
        tx.audit(
            "task.updated",
            {"id": task_id, "status": status, "owner": owner,
             "due": instant_text(due) if due else None, "at": instant_text(now)},
            actor=actor,
        )  # fmt: skip
        task = Task(row.id, row.title, row.owner, row.due_at, row.status, row.created_at)
    return task
