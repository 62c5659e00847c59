"""The audit use case: export a workspace's log as JSON Lines, with its chain verified."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from breachdesk.errors import StoreError
from breachdesk.private import private_file
from breachdesk.services.incident import open_workspace_store
from breachdesk.store.audit import entry_json, read_events, verify_chain


@dataclass(frozen=True)
class AuditExport:
    path: Path
    entries: int
    intact: bool
    broken: str


def export_audit(workspace: Path, out: Path) -> AuditExport:
    """Write every entry (sequence, time, actor, action, payload, hashes) to ``out``.

    The file is written even when the chain is broken — it is the evidence — and the result
    says where the chain breaks; the caller decides what that means.
    """
    store = open_workspace_store(workspace)
    try:
        intact, entries, broken = verify_chain(store)
        try:
            with private_file(out) as fh:
                for e in read_events(store):
                    fh.write(entry_json(e))
        except OSError as exc:
            raise StoreError(f"{out}: cannot be written: {exc.strerror}") from None
    finally:
        store.close()
    return AuditExport(out, entries, intact, broken)
