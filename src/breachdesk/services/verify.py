"""Publishing what the public notice check needs, and nothing more: keyed hashes of the
reference codes of the notices that were sent, each with its sent date.

``codes.json`` (``breachdesk.verify/1``) holds a fresh random key and, per sent notice,
HMAC-SHA256(key, code) → the date it was sent (UTC). No address, name or count per person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import orjson

from breachdesk.errors import InputError
from breachdesk.services.workspace import Workspace
from breachdesk.store import append_event, outbox

SCHEMA = "breachdesk.verify/1"
_ALPHABET = set("ABCDEFGHJKMNPQRSTVWXYZ23456789")


def normalise(code: str) -> str | None:
    """A typed code in its canonical form (BD-XXXXX-XXXXX), or None when it cannot be one."""
    letters = "".join(c for c in code.upper() if c.isalnum())
    if letters.startswith("BD"):
        letters = letters[2:]
    if len(letters) != 10 or not set(letters) <= _ALPHABET:
        return None
    return f"BD-{letters[:5]}-{letters[5:]}"


def code_hash(key: bytes, code: str) -> str:
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Published:
    path: Path
    codes: int


def publish(ws: Workspace, out: Path) -> Published:
    store = ws.store
    rows = outbox.sent_references(store)
    if not rows:
        raise InputError(f"{ws.path}: no notice has been sent yet; nothing to publish")
    key = secrets.token_bytes(32)
    codes = {code_hash(key, ref): sent.date().isoformat() for ref, _email, sent in rows}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "codes.json"
    body = orjson.dumps(
        {"schema": SCHEMA, "key": base64.b64encode(key).decode(), "codes": codes},
        option=orjson.OPT_SORT_KEYS,
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)  # public by design
    with os.fdopen(fd, "wb") as fh:
        fh.write(body)
    os.replace(tmp, path)
    from breachdesk.services.phishing import publish_basis

    publish_basis(ws, out)  # what the message check beside it needs: public keys, domains
    append_event(store, "verify.published", {"codes": len(codes)})
    return Published(path, len(codes))


def load(folder: Path) -> tuple[bytes, dict[str, str]]:
    path = folder / "codes.json"
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None
    if data.get("schema") != SCHEMA:
        raise InputError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA}")
    return base64.b64decode(data["key"]), dict(data["codes"])
