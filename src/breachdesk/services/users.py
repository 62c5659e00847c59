"""Managing the dashboard's users from the command line (the admin role manages users)."""

from __future__ import annotations

from pathlib import Path

from breachdesk.services import accounts
from breachdesk.services.accounts import DeskUser
from breachdesk.services.incident import open_workspace_store


def add(
    workspace: Path, username: str, password: str, role: str, store_url: str | None = None
) -> None:
    store = open_workspace_store(workspace, store_url)
    try:
        accounts.add_user(store, username, password, role)
    finally:
        store.close()


def remove(workspace: Path, username: str, store_url: str | None = None) -> None:
    store = open_workspace_store(workspace, store_url)
    try:
        accounts.remove_user(store, username)
    finally:
        store.close()


def role(workspace: Path, username: str, new_role: str, store_url: str | None = None) -> None:
    store = open_workspace_store(workspace, store_url)
    try:
        accounts.set_role(store, username, new_role)
    finally:
        store.close()


def listing(workspace: Path, store_url: str | None = None) -> list[DeskUser]:
    store = open_workspace_store(workspace, store_url)
    try:
        return accounts.list_users(store)
    finally:
        store.close()
