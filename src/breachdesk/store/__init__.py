"""The workspace store: SQLAlchemy models, Alembic migrations, the hash-chained audit log."""

from breachdesk.store.audit import AuditEntry, append_event, read_events, verify_chain
from breachdesk.store.db import Store, open_store

__all__ = ["AuditEntry", "Store", "append_event", "open_store", "read_events", "verify_chain"]
