"""The data engine seam: the scan that turns work units into aggregates, and the engine that
groups identity signatures and joins them to the directory.

``Engine`` is the interface the assess service uses; ``DuckDBEngine`` (embedded, the default)
is the implementation. A Spark engine for exports beyond one machine is to implement the
same protocol and pass the same tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from breachdesk.directory.model import Directory
    from breachdesk.impact import Impact


class Engine(Protocol):
    """Holds a run's identity pairs, groups them, and matches them to a directory."""

    def add_pairs(self, ipc: bytes, shape_remap: Sequence[int]) -> None:
        """One work unit's (signature, shape, records, country, personal) rows, as Arrow IPC."""

    def finish(self, shape_masks: Sequence[int], finding_masks: dict[str, int]) -> int:
        """Group the pairs by signature; returns the number of distinct signatures."""

    def signature_ids(self, signatures: Sequence[str]) -> dict[str, int]:
        """The engine's id of each encoded signature (for findings)."""

    def export_countries(self) -> dict[str, int]:
        """Identities per country the export gave (used without a directory)."""

    def device_only_records(self) -> tuple[int, int]:
        """Without a directory: records whose only identifiers are device ids tied to a user
        id or email elsewhere in the export, and the other records without a user id or
        email (anonymous)."""

    def match(
        self, org_ids_seen: set[str], directory: Directory, wanted_signatures: Sequence[int]
    ) -> Impact:
        """The impact model: affected users, organizations, admins, unmatched identities."""

    def close(self) -> None: ...
