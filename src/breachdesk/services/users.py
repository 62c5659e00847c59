"""Managing the dashboard's users from the command line (the admin role manages users)."""

from __future__ import annotations

from breachdesk.services.workspace import Workspace
from breachdesk.store import append_event
from breachdesk.web import auth


def add(ws: Workspace, username: str, password: str, role: str) -> None:
    auth.add_user(ws.store, username, password, role)
    append_event(ws.store, "desk.user_added", {"user": username, "role": role})


def remove(ws: Workspace, username: str) -> None:
    auth.remove_user(ws.store, username)
    append_event(ws.store, "desk.user_removed", {"user": username})


def role(ws: Workspace, username: str, new_role: str) -> None:
    auth.set_role(ws.store, username, new_role)
    append_event(ws.store, "desk.user_role", {"user": username, "role": new_role})


def listing(ws: Workspace) -> list[tuple[str, str, bool]]:
    return auth.list_users(ws.store)
