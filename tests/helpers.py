"""Helpers the tests share: opening a workspace's store the way the commands do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from breachdesk.services.workspace import Workspace
from breachdesk.store import Store

T = TypeVar("T")


def open_ws(path: Path, store_url: str | None = None) -> Workspace:
    """The workspace at ``path``, open whatever the state of its last assess."""
    return Workspace.open(path, store_url, require_finished=False)


def store_of(path: Path, store_url: str | None = None) -> Store:
    """The store of the workspace at ``path`` (close it when done)."""
    return open_ws(path, store_url).store


def within(path: Path, service: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``service(workspace, *args, **kwargs)`` with the workspace open, then close it;
    ``store_url`` among the keywords picks the store, as --store does."""
    with open_ws(path, kwargs.pop("store_url", None)) as ws:
        return service(ws, *args, **kwargs)


def directory_outcome(load: Callable[[Path, bool], object], folder: Path, allow: bool) -> object:
    """What a directory reader makes of ``folder``: its tables, organization ids and notes,
    or its error's text (readers held to agree are compared on this)."""
    from breachdesk.directory.model import Directory
    from breachdesk.errors import DirectoryError

    try:
        d = load(folder, allow)
    except DirectoryError as exc:
        return str(exc)
    assert isinstance(d, Directory)
    return (d.users.to_pylist(), d.memberships.to_pylist(), d.org_ids, d.notes, d.users.schema)
