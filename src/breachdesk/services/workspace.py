"""The incident workspace on disk: its folder, key store, store and the tables assess wrote."""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from breachdesk.errors import InputError
from breachdesk.settings import Settings


def prepare_workspace(out: Path) -> Path:
    """Create the workspace folder (owner-only) if needed."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    return out


def hmac_key(workspace: Path, settings: Settings) -> bytes:
    """The workspace's HMAC key (created on first use, 0600): fingerprints and match keys."""
    path = Path(settings.hmac_key_path)
    if not path.is_absolute():
        path = workspace / path
    if path.exists():
        key = path.read_bytes()
        if len(key) < 32:
            raise InputError(f"{path}: HMAC key shorter than 32 bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def table_rows(workspace: Path, name: str) -> Iterator[dict[str, str]]:
    """The rows of one of the CSV tables assess wrote (``affected_users.csv`` …)."""
    path = workspace / name
    if not path.exists():
        raise InputError(f"{path}: missing from the workspace; run assess first")
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)
