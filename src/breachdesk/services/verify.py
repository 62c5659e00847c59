"""Publishing what the public notice check needs, and nothing more — and answering it.

A reader types the reference printed in the message **and the address the message came
to**; the check says "genuine" only for that pair, so that a real reference pasted into a
phishing mail to someone else is worth nothing. What is published:

- ``OUT/codes.json`` (``breachdesk.verify/2``, public): per sent notice,
  HMAC-SHA256(key, code NUL address) → the day it was sent (UTC), where the code is in its
  canonical form and the address normalised as matching compares addresses (see
  :func:`breachdesk.domain.identity.normalize_address`). No key, no address, no name.
- the key, 32 random bytes made afresh by each publication, in a file of its own (0600),
  by default beside the folder (``OUT.key`` for ``OUT/``) and never inside it: the folder
  alone does not let anyone test a (code, address) pair offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson

from breachdesk.domain.identity import normalize_address
from breachdesk.errors import InputError
from breachdesk.private import write_private
from breachdesk.services.workspace import Workspace
from breachdesk.store import append_event, outbox

SCHEMA = "breachdesk.verify/2"
KEY_SCHEMA = "breachdesk.verify-key/1"
MAX_CODE = 64
MAX_ADDRESS = 320
_ALPHABET = set("ABCDEFGHJKMNPQRSTVWXYZ23456789")


def normalise(code: str) -> str | None:
    """A typed code in its canonical form (BD-XXXXX-XXXXX), or None when it cannot be one."""
    letters = "".join(c for c in code.upper() if c.isalnum())
    if letters.startswith("BD"):
        letters = letters[2:]
    if len(letters) != 10 or not set(letters) <= _ALPHABET:
        return None
    return f"BD-{letters[:5]}-{letters[5:]}"


def pair_hash(key: bytes, code: str, address: str) -> str:
    """The published form of one (canonical code, normalised address) pair."""
    return hmac.new(key, f"{code}\0{address}".encode(), hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    """Names the key in codes.json without saying anything about it."""
    return hmac.new(key, b"breachdesk verify key id", hashlib.sha256).hexdigest()[:16]


def default_key_path(out: Path) -> Path:
    """Where the key goes unless told: beside the published folder, ``OUT.key``."""
    folder = out.resolve()
    return folder.with_name(folder.name + ".key")


@dataclass(frozen=True)
class Published:
    path: Path  # codes.json
    key_path: Path
    codes: int


def publish(ws: Workspace, out: Path, key_out: Path | None = None) -> Published:
    key_path = (key_out or default_key_path(out)).resolve()
    if key_path.is_relative_to(out.resolve()):
        raise InputError(f"{key_path}: the key may not be inside the published folder {out}")
    store = ws.store
    sent = outbox.sent_references(store)
    if not sent:
        raise InputError(f"{ws.path}: no notice has been sent yet; nothing to publish")
    key = secrets.token_bytes(32)
    codes = {
        pair_hash(key, reference, normalize_address(email)): at.date().isoformat()
        for reference, email, at in sent
    }
    out.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    write_private(
        key_path,
        orjson.dumps({"schema": KEY_SCHEMA, "key": base64.b64encode(key).decode()}),
    )
    path = out / "codes.json"
    body = orjson.dumps(
        {"schema": SCHEMA, "key_id": _key_id(key), "codes": codes},
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
    return Published(path, key_path, len(codes))


@dataclass(frozen=True)
class NoticeCheck:
    """The published hashes with their key: what the public page answers from."""

    key: bytes
    codes: dict[str, str]

    def sent_on(self, code: str, address: str) -> str | None:
        """The day the notice with this reference was sent to this address, or None. The
        same work for every input: both normalised, one HMAC, one look-up."""
        canonical = normalise(code[:MAX_CODE])
        digest = pair_hash(
            self.key, canonical or code[:MAX_CODE], normalize_address(address[:MAX_ADDRESS])
        )
        sent = self.codes.get(digest)
        return sent if canonical else None


def _read_json(path: Path, what: str) -> dict[str, object]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a {what}")
    return data


def load(folder: Path, key_path: Path | None = None) -> NoticeCheck:
    """The published folder and its key (by default ``FOLDER.key``), checked: the key file
    readable by its owner only, and the one these codes were hashed with."""
    key_path = key_path or default_key_path(folder)
    path = folder / "codes.json"
    data = _read_json(path, "published codes")
    if data.get("schema") == "breachdesk.verify/1":
        raise InputError(
            f"{path}: published by an older breachdesk (its key was public); run verify "
            "publish again"
        )
    if data.get("schema") != SCHEMA:
        raise InputError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA}")
    try:
        mode = key_path.stat().st_mode
    except OSError as exc:
        raise InputError(f"{key_path}: cannot read the key ({exc.strerror}); pass --key") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{key_path}: readable by others; chmod 600 it (it is the key)")
    secret = _read_json(key_path, "key")
    if secret.get("schema") != KEY_SCHEMA or not isinstance(secret.get("key"), str):
        raise InputError(f"{key_path}: not a {KEY_SCHEMA} key file")
    key = base64.b64decode(str(secret["key"]))
    if data.get("key_id") != _key_id(key):
        raise InputError(f"{key_path}: not the key {path} was published with")
    codes = data.get("codes")
    if not isinstance(codes, dict):
        raise InputError(f"{path}: no codes")
    return NoticeCheck(key, {str(k): str(v) for k, v in codes.items()})
