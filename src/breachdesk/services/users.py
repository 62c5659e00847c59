"""Managing the dashboard's users from the command line (the admin role manages users)."""

from __future__ import annotations

from breachdesk.services import accounts
from breachdesk.services.accounts import DeskUser
from breachdesk.services.workspace import Workspace


def add(ws: Workspace, username: str, password: str, role: str) -> None:
    accounts.add_user(ws.store, username, password, role)


def remove(ws: Workspace, username: str) -> None:
    accounts.remove_user(ws.store, username)


def role(ws: Workspace, username: str, new_role: str) -> None:
    accounts.set_role(ws.store, username, new_role)


def listing(ws: Workspace) -> list[DeskUser]:
    return accounts.list_users(ws.store)
