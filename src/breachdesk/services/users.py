"""Managing the dashboard's users from the command line (the admin role manages users)."""

from __future__ import annotations

from pathlib import Path

from breachdesk.services.incident import open_workspace_store
from breachdesk.store import append_event
from breachdesk.web import auth


def add(
    workspace: Path, username: str, password: str, role: str, store_url: str | None = None
) -> None:
    store = open_workspace_store(workspace, store_url)
    try:
        auth.add_user(store, username, password, role)
        append_event(store, "desk.user_added", {"user": username, "role": role})
    finally:
        store.close()


def remove(workspace: Path, username: str, store_url: str | None = None) -> None:
    store = open_workspace_store(workspace, store_url)
    try:
        auth.remove_user(store, username)
        append_event(store, "desk.user_removed", {"user": username})
    finally:
        store.close()


def role(workspace: Path, username: str, new_role: str, store_url: str | None = None) -> None:
    store = open_workspace_store(workspace, store_url)
    try:
        auth.set_role(store, username, new_role)
        append_event(store, "desk.user_role", {"user": username, "role": new_role})
    finally:
        store.close()


def listing(workspace: Path, store_url: str | None = None) -> list[tuple[str, str, bool]]:
    store = open_workspace_store(workspace, store_url)
    try:
        return auth.list_users(store)
    finally:
        store.close()
