"""The data engine seam: the scan that turns work units into aggregates, and the engine that
groups identity signatures and joins them to the directory.

``Engine`` is the interface the assess service uses; ``DuckDBEngine`` (embedded, the default)
is the implementation; ``SparkEngine`` (``breachdesk.engine.spark``, the ``spark`` extra) is the
one for exports beyond one machine, held to the same tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from breachdesk.directory.model import Directory
    from breachdesk.impact import Impact


class PairSink(Protocol):
    """Where merged work units put their identity pairs."""

    def add_pairs(self, ipc: bytes, shape_remap: Sequence[int]) -> None:
        """One work unit's (signature, shape, records, country, personal) rows, as Arrow IPC
        (or, for an engine that keeps them where they were made, a reference to them)."""


class Engine(PairSink, Protocol):
    """Holds a run's identity pairs, groups them, and matches them to a directory."""

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

    def hold_directory(self, directory: Directory) -> None:
        """Take in the directory as the engine's own tables: the caller may then let go of
        its Arrow tables (``Directory.release``)."""

    def match(self, org_ids_seen: set[str], wanted_signatures: Sequence[int]) -> Impact:
        """The impact model (the directory ``hold_directory`` took in): affected users,
        organizations, admins, unmatched identities."""

    def close(self) -> None: ...
