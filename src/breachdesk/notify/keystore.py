"""What the workspace knows about each DKIM selector beyond its private key: when it was
created, when it was retired, and its public key (the TXT record), in
``WORKSPACE/keys/dkim/keys.json`` (schema ``breachdesk.dkim-keys/1``).

The message check verifies signatures against these records, each within its validity
window: a notice signed while its selector was in service stays verifiable after the
selector is retired (its private key is deleted then; the public key stays here), and a
signature dated after the retirement is refused. A key file without an entry (made before
this file existed) counts as in service since an unknown time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from breachdesk.errors import NoticeError, SchemaError
from breachdesk.notify.dkim import dns_record, key_path
from breachdesk.private import write_private

SCHEMA = "breachdesk.dkim-keys/1"


@dataclass(frozen=True)
class KeyRecord:
    """One selector: its algorithm, its public TXT record, when it was created and
    retired (None: unknown, or not retired)."""

    selector: str
    algorithm: str
    public: str
    created: datetime | None
    retired: datetime | None


def _folder(workspace: Path) -> Path:
    return workspace / "keys" / "dkim"


def _file(workspace: Path) -> Path:
    return _folder(workspace) / "keys.json"


@contextlib.contextmanager
def _locked(workspace: Path) -> Iterator[None]:
    """Writers of keys.json one at a time (two ``notify keys`` at once lose nothing)."""
    folder = _folder(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".keys.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _read_file(workspace: Path) -> dict[str, KeyRecord]:
    path = _file(workspace)
    if not path.exists():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("schema") != SCHEMA:
            raise SchemaError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA}")
        return {
            name: KeyRecord(
                name,
                str(entry["algorithm"]),
                str(entry["public"]),
                _when(entry.get("created")),
                _when(entry.get("retired")),
            )
            for name, entry in data["selectors"].items()
        }
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # JSON errors included
        raise NoticeError(f"{path}: not a readable key record ({type(exc).__name__})") from None


def _write_file(workspace: Path, records: dict[str, KeyRecord]) -> None:
    body = {
        "schema": SCHEMA,
        "selectors": {
            name: {
                "algorithm": r.algorithm,
                "public": r.public,
                "created": r.created.isoformat() if r.created else None,
                "retired": r.retired.isoformat() if r.retired else None,
            }
            for name, r in sorted(records.items())
        },
    }
    write_private(_file(workspace), orjson.dumps(body, option=orjson.OPT_INDENT_2))


def _from_pem(workspace: Path, selector: str) -> KeyRecord | None:
    path = key_path(workspace, selector)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return KeyRecord(selector, "ed25519-sha256", dns_record(key), None, None)
    if isinstance(key, rsa.RSAPrivateKey):
        return KeyRecord(selector, "rsa-sha256", dns_record(key), None, None)
    return None


def read_keys(workspace: Path) -> dict[str, KeyRecord]:
    """Every selector the workspace holds a key for, or held one for (retired)."""
    records = _read_file(workspace)
    folder = _folder(workspace)
    if folder.is_dir():
        for pem in sorted(folder.glob("*.pem")):
            if pem.stem not in records:
                found = _from_pem(workspace, pem.stem)
                if found is not None:
                    records[pem.stem] = found
    return records


def record_key(workspace: Path, selector: str, created: datetime | None) -> KeyRecord:
    """Note the selector's key (its file must exist) with its creation time; an entry that
    exists is kept as it is."""
    with _locked(workspace):
        records = _read_file(workspace)
        if selector in records:
            return records[selector]
        found = _from_pem(workspace, selector)
        if found is None:
            raise NoticeError(f"{key_path(workspace, selector)}: no readable DKIM key")
        records[selector] = replace(found, created=created)
        _write_file(workspace, records)
        return records[selector]


def retire_key(workspace: Path, selector: str, when: datetime | None = None) -> KeyRecord:
    """Mark the selector retired (now, unless ``when``): its public key stays, so that
    what it signed before stays verifiable; its private key is deleted, so that it never
    signs again."""
    moment = when or datetime.now(UTC)
    with _locked(workspace):
        records = _read_file(workspace)
        current = records.get(selector) or _from_pem(workspace, selector)
        if current is None:
            raise NoticeError(f"no DKIM key for selector {selector!r} in {_folder(workspace)}")
        if current.retired is not None:
            raise NoticeError(
                f"DKIM selector {selector!r} was retired on {current.retired:%Y-%m-%d}"
            )
        records[selector] = replace(current, retired=moment)
        _write_file(workspace, records)
        key_path(workspace, selector).unlink(missing_ok=True)
        return records[selector]
