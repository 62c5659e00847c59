"""The relay's bounded on-disk spool: upstream requests kept while a vendor is down.

One file per request (``<ns>-<n>.req``: a JSON header line, then the body), written 0600
under a temporary name and renamed, so a killed relay leaves whole requests only, which
the next one sends. The spool of a vendor never grows past ``max_bytes``: a request that
does not fit is refused (the caller counts it and says the bound was hit).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import orjson

from breachdesk.vendors.protocols import UpstreamRequest


class Spool:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        self._seq = itertools.count()
        self.bytes = 0
        self.files = 0
        self.events = 0
        for path in folder.glob("*.tmp"):
            path.unlink(missing_ok=True)  # a write cut short by a crash
        for path in self._paths():
            self.bytes += path.stat().st_size
            self.files += 1
            self.events += self._header(path).get("events", 0)

    def _paths(self) -> list[Path]:
        return sorted(self.folder.glob("*.req"))

    @staticmethod
    def _header(path: Path) -> dict[str, int]:
        try:
            with path.open("rb") as fh:
                found = orjson.loads(fh.readline())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return found if isinstance(found, dict) else {}

    def put(self, request: UpstreamRequest) -> bool:
        """Keep one request; False (nothing written) when it would pass the bound."""
        header = orjson.dumps(
            {"path": request.path, "headers": request.headers, "events": request.events}
        )
        data = header + b"\n" + request.body
        if self.bytes + len(data) > self.max_bytes:
            return False
        name = f"{time.time_ns():020d}-{next(self._seq):06d}.req"
        tmp = self.folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        tmp.replace(self.folder / name)
        self.bytes += len(data)
        self.files += 1
        self.events += request.events
        return True

    def oldest(self) -> tuple[Path, UpstreamRequest] | None:
        """The request spooled first (and its file), or None when the spool is empty."""
        for path in self._paths():
            try:
                raw = path.read_bytes()
            except OSError:
                continue
            head, _, body = raw.partition(b"\n")
            try:
                meta = orjson.loads(head)
                request = UpstreamRequest(
                    meta["path"], body, tuple((k, v) for k, v in meta["headers"]), meta["events"]
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                self.remove(path)  # not ours, or damaged: never retried forever
                continue
            return path, request
        return None

    def remove(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            events = self._header(path).get("events", 0)
            path.unlink()
        except OSError:
            return
        self.bytes -= size
        self.files -= 1
        self.events -= events

    def purge(self) -> int:
        """Remove everything (a vendor cut off); the number of events removed."""
        removed = self.events
        for path in self._paths():
            self.remove(path)
        return removed
