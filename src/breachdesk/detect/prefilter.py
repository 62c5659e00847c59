"""The fast pass: which patterns fire on which lines of a block.

Every rule's keywords or prefilter pattern, its context words, the URL triggers and the
triggers of the decoding layers are compiled into one multi-pattern database and run over
whole blocks of raw bytes: Hyperscan where its wheel is installed (hundreds of MB/s), else
Python's ``re`` (correct, slower). Each match reports its pattern and where it ends, so a
line's match names the rule to confirm there; nothing else is confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_hs: Any
try:  # an optional speed-up: the scan is the same without it, only slower
    import hyperscan as _hs
except ImportError:  # pragma: no cover - exercised where the wheel is missing
    _hs = None


class Prefilter:
    """Multi-pattern search over raw bytes, reporting (line, pattern) pairs."""

    def __init__(self, patterns: Sequence[bytes], use_hyperscan: bool = True) -> None:
        self.patterns = list(patterns)
        # case-sensitive: a pattern that wants otherwise says so with (?i:...)
        self._each = [re.compile(p) for p in self.patterns]
        self._any = re.compile(b"|".join(b"(?:" + p + b")" for p in self.patterns))
        self._db: Any = None
        if use_hyperscan and _hs is not None:
            # each prefilter has its own database and scratch (a scan writes to its scratch)
            db = _hs.loadb(_compiled(tuple(self.patterns)), _hs.HS_MODE_BLOCK)
            db.scratch = _hs.Scratch(db)
            self._db = db

    @property
    def engine(self) -> str:
        return "hyperscan" if self._db is not None else "re"

    def search(self, data: bytes) -> bool:
        """True when anything in ``data`` matches (one value or one record)."""
        return self._any.search(data) is not None

    def fired(self, data: bytes) -> set[int]:
        """The ids of the patterns that match anywhere in ``data``."""
        found: set[int] = set()
        if self._db is not None:

            def on_match(pattern: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
                found.add(pattern)

            self._db.scan(data, match_event_handler=on_match)
            return found
        return {i for i, p in enumerate(self._each) if p.search(data)}

    def line_hits(self, data: bytes) -> dict[int, set[int]]:
        """Line index (0-based, counted in ``data``) -> ids of the patterns matching on it.

        A match is placed on the line of its last byte; patterns never span a newline that
        separates records (a JSON line holds none). Lines are counted from one match to the
        next, so the cost follows the matches, not the lines."""
        found: dict[int, set[int]] = {}
        # [offset counted up to, lines before it, the set of the line at that offset]
        state: list[Any] = [0, 0, None, -1]
        count = data.count

        def place(pattern: int, at: int) -> None:
            if at < state[0]:  # out of order: count again from the start
                state[0:4] = [0, 0, None, -1]
            line = state[1] + count(b"\n", state[0], at)
            state[0], state[1] = at, line
            if line != state[3]:
                state[2] = found.setdefault(line, set())
                state[3] = line
            state[2].add(pattern)

        if self._db is not None:

            def on_match(pattern: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
                place(pattern, max(end - 1, 0))

            self._db.scan(data, match_event_handler=on_match)
            return found
        matches = sorted(
            (max(m.end() - 1, m.start()), i)
            for i, pattern in enumerate(self._each)
            for m in pattern.finditer(data)
        )
        for at, i in matches:
            place(i, at)
        return found


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[bytes, ...]) -> bytes:
    """The Hyperscan database of ``patterns``, serialised: compiling takes a fifth of a second
    for the built-in rules, loading a copy a few microseconds, and a process that assesses
    again (a test run, the dashboard) scans with the same rules."""
    db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
    db.compile(
        expressions=list(patterns),
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[_hs.HS_FLAG_ALLOWEMPTY] * len(patterns),
    )
    return bytes(_hs.dumpb(db))
