"""The audit use cases: export a workspace's log as JSON Lines with its chain verified, and
verify it against the head file, a head the caller expects, and the tables it explains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from breachdesk.errors import StoreError
from breachdesk.private import private_file
from breachdesk.services.workspace import Workspace
from breachdesk.store.audit import (
    ChainCheck,
    Head,
    entry_json,
    head_json,
    read_events,
    verify_chain,
)
from breachdesk.store.replay import Disagreement, compare_tables


@dataclass(frozen=True)
class AuditExport:
    path: Path
    entries: int
    intact: bool
    broken: str
    head: Head | None


def export_audit(ws: Workspace, out: Path) -> AuditExport:
    """Write every entry (sequence, time, actor, action, payload, hashes) to ``out``, then
    one last line with the head it was verified against.

    The file is written even when the chain is broken — it is the evidence — and the result
    says where the chain breaks; the caller decides what that means.
    """
    check = verify_chain(ws.store)
    try:
        with private_file(out) as fh:
            for e in read_events(ws.store):
                fh.write(entry_json(e))
            fh.write(head_json(check.head))
    except OSError as exc:
        raise StoreError(f"{out}: cannot be written: {exc.strerror}") from None
    return AuditExport(out, check.entries, check.intact, check.broken, check.head)


@dataclass(frozen=True)
class AuditVerdict:
    chain: ChainCheck
    disagreements: list[Disagreement]

    @property
    def ok(self) -> bool:
        return self.chain.intact and not self.disagreements


def verify_audit(ws: Workspace, expected: Head | None = None) -> AuditVerdict:
    """The chain (links, keyed hashes, the head file, ``expected``), then whether the
    incident's tables say what the log recorded."""
    chain = verify_chain(ws.store, expected)
    return AuditVerdict(chain, compare_tables(ws.store) if chain.intact else [])
