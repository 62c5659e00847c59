"""The tasks use case beyond adding and closing (:mod:`breachdesk.services.incident`):
editing a task's status, owner and due time, as a responder does on the dashboard."""

from __future__ import annotations

from breachdesk.domain.incident import Task, parse_instant
from breachdesk.errors import InputError
from breachdesk.services.workspace import Workspace
from breachdesk.store.tasks import update_task


def edit_task(ws: Workspace, task_id: int, status: str, owner: str, due: str, actor: str) -> Task:
    """Set all three at once (a form sends them together); an empty ``due`` clears it."""
    who = owner.strip()
    if not who:
        raise InputError("the task owner is required and may not be empty")
    due_at = parse_instant(due, "due time") if due.strip() else None
    return update_task(ws.store, task_id, actor, status=status.strip(), owner=who, due=due_at)
