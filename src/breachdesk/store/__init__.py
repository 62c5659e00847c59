"""The workspace store: SQLAlchemy models, Alembic migrations, the keyed audit chain, and
every query the rest of breachdesk runs (no module outside this package writes SQL)."""

from breachdesk.store.audit import (
    AuditEntry,
    AuditKey,
    ChainCheck,
    Head,
    append_event,
    read_events,
    verify_chain,
)
from breachdesk.store.db import Store, Tx, open_store

__all__ = [
    "AuditEntry",
    "AuditKey",
    "ChainCheck",
    "Head",
    "Store",
    "Tx",
    "append_event",
    "open_store",
    "read_events",
    "verify_chain",
]
