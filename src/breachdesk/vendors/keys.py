"""Per-vendor pseudonym keys: ``keys/vendors/<id>.key`` beside vendors.yaml, 32 random
bytes, 0600, created on first use (two processes creating one at once agree on one)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from breachdesk.errors import SettingsError


def key_path(inventory_path: Path, vendor_id: str) -> Path:
    return inventory_path.resolve().parent / "keys" / "vendors" / f"{vendor_id}.key"


def vendor_key(inventory_path: Path, vendor_id: str) -> bytes:
    path = key_path(inventory_path, vendor_id)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # whole or absent; never a half-written key
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) < 32:
        raise SettingsError(f"{path}: pseudonym key shorter than 32 bytes")
    return key
