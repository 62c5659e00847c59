"""The fast pass: which lines of a block might hold a finding.

Every rule's keywords or prefilter pattern, the URL patterns and the JSON-escape markers
are compiled into one multi-pattern database and run over whole blocks of raw bytes:
Hyperscan where its wheel is installed (hundreds of MB/s), else Python's ``re`` (correct,
slower). Only the lines it reports reach the confirming patterns and validators.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

_hs: Any
try:  # an optional speed-up: the scan is the same without it, only slower
    import hyperscan as _hs
except ImportError:  # pragma: no cover - exercised where the wheel is missing
    _hs = None


class Prefilter:
    """Multi-pattern search over raw bytes, reporting candidate line indexes."""

    def __init__(self, patterns: Sequence[bytes], use_hyperscan: bool = True) -> None:
        self.patterns = list(patterns)
        # case-sensitive: a pattern that wants otherwise says so with (?i:...)
        self._re = re.compile(b"|".join(b"(?:" + p + b")" for p in self.patterns))
        self._db: Any = None
        if use_hyperscan and _hs is not None:
            db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
            flags = _hs.HS_FLAG_ALLOWEMPTY
            db.compile(
                expressions=self.patterns,
                ids=list(range(len(self.patterns))),
                elements=len(self.patterns),
                flags=[flags] * len(self.patterns),
            )
            self._db = db

    @property
    def engine(self) -> str:
        return "hyperscan" if self._db is not None else "re"

    def search(self, data: bytes) -> bool:
        """True when anything in ``data`` matches (one value or one record)."""
        return self._re.search(data) is not None

    def candidate_lines(self, data: bytes, starts: Sequence[int]) -> set[int]:
        """Indexes of the lines (starting at byte offsets ``starts``) holding a match."""
        found: set[int] = set()
        if self._db is not None:

            def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
                found.add(bisect_right(starts, max(end - 1, 0)) - 1)

            self._db.scan(data, match_event_handler=on_match)
            return found
        for match in self._re.finditer(data):
            found.add(bisect_right(starts, match.start()) - 1)
        return found
