"""The append-only, hash-chained audit log.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON
(sequence, time, actor, action, payload), so changing, removing or reordering any entry
breaks every hash after it. Payloads carry counts, ids and hashes, never personal values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy import text as sql

from breachdesk.store.db import Store
from breachdesk.store.models import AuditEvent, Incident

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


def _entry_hash(prev: str, seq: int, at: str, actor: str, action: str, payload: str) -> str:
    body = orjson.dumps([seq, at, actor, action, payload])
    return hashlib.sha256(prev.encode() + body).hexdigest()


def append_event(
    store: Store, action: str, payload: dict[str, Any], actor: str = "breachdesk"
) -> AuditEntry:
    """Append one entry. Writers serialise (a table lock on PostgreSQL; SQLite has one writer
    at a time anyway), so each reads the chain's true end."""
    text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    incident = store.incident_id()
    with store.session() as session, session.begin():
        if store.engine.dialect.name == "postgresql":
            # one writer at a time reads the chain's end and appends (readers are not held)
            session.execute(sql("LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE"))
        session.execute(select(Incident.id).where(Incident.id == incident).with_for_update())
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
        seq = last.seq + 1 if last else 1
        prev = last.hash if last else GENESIS
        digest = _entry_hash(prev, seq, at, actor, action, text)
        session.add(
            AuditEvent(
                seq=seq, incident_id=incident, at=at, actor=actor, action=action,
                payload=text, prev_hash=prev, hash=digest,
            )
        )  # fmt: skip
    return AuditEntry(seq, at, actor, action, payload, prev, digest)


def entry_json(entry: AuditEntry) -> bytes:
    """One entry as a line of the exported log (JSON Lines)."""
    return (
        orjson.dumps(
            {
                "seq": entry.seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "payload": entry.payload,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        )
        + b"\n"
    )


def read_events(store: Store) -> Iterator[AuditEntry]:
    with store.session() as session:
        for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            yield AuditEntry(
                row.seq, row.at, row.actor, row.action, orjson.loads(row.payload),
                row.prev_hash, row.hash,
            )  # fmt: skip


def verify_chain(store: Store) -> tuple[bool, int, str]:
    """(intact, entries checked, what broke)."""
    prev = GENESIS
    count = 0
    with store.session() as session:
        for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            count += 1
            if row.seq != count:
                return False, count, f"entry {row.seq}: expected sequence {count}"
            if row.prev_hash != prev:
                return False, count, f"entry {row.seq}: does not follow entry {row.seq - 1}"
            digest = _entry_hash(prev, row.seq, row.at, row.actor, row.action, row.payload)
            if digest != row.hash:
                return False, count, f"entry {row.seq}: content does not match its hash"
            prev = row.hash
    return True, count, ""
