"""What every vendor's demo export shares: who each event is for, the devices people use, the
stitching cases, the malformed lines and the planted secrets, and writing the events in
sequence into the vendor's files.

An event is one of: a signed-in person's (most), the same person's before sign-in on their
own device (stitched to them), an anonymous visitor's on a device nobody signs in on, or a
former user's the directory no longer knows. Two members of a family (ids 74k+1 and 74k+38)
share a device, so an event before sign-in on it counts for both. Each vendor module says how
an event looks and how its files are packed; the ground truth is kept as events are written.
"""

from __future__ import annotations

import gzip
import random
import string
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ClassVar

import orjson

from breachdesk.demo.people import CITIES, DemoOrg, DemoUser
from breachdesk.demo.truth import Truth, leaf_categories

SITE = "https://app.devplatform.example"
PAGES = ["/dashboard", "/settings/profile", "/orgs/{org}/members", "/docs/api", "/billing",
         "/projects/new", "/settings/tokens"]  # fmt: skip
REFERRERS = ["https://www.google.com/", "https://github.com/", "https://duckduckgo.com/"]
COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "DE": "Germany",
                 "RO": "Romania", "JP": "Japan", "BR": "Brazil", "FR": "France",
                 "ES": "Spain", "CA": "Canada", "AU": "Australia"}  # fmt: skip
UNKNOWN_COUNTRY = "Atlantis"  # a name no list knows: counted, never guessed
AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
]
CREDENTIALS = "user.authorization.credentials"
# the categories the vendors' field tables use most, by short name
WEB, DEV, MAIL, GEO, OPS, AGENT = (
    "user.behavior.browsing_history", "user.device.cookie_id", "user.contact.email",
    "user.location.imprecise", "system.operations", "user.device.user_agent",
)  # fmt: skip
T0 = 1_714_521_600  # 2024-05-01T00:00:00Z


@dataclass(frozen=True)
class Event:
    """One event to write: its number, its kind, the person it is for (or was, before
    signing in) and the former user's id for a ghost."""

    index: int
    kind: str  # user | before_sign_in | anonymous | ghost | malformed
    user: DemoUser | None
    ghost: str = ""
    plant: str = ""  # reset | api_key: a secret written into this event

    @property
    def seconds(self) -> int:
        return T0 + self.index * 7


class VendorWriter:
    """Writes one vendor's events; subclasses say what an event holds and how files are packed."""

    vendor: ClassVar[str]
    namespace: ClassVar[str]
    FIELDS: ClassVar[dict[str, str]]  # path -> category ("" for none), the generator's own
    files_per_export: ClassVar[int] = 4

    def __init__(self, rng: random.Random, users: list[DemoUser], orgs: list[DemoOrg]) -> None:
        self.rng = rng
        self.users = users
        self.orgs = orgs
        self.truth = Truth()
        self._devices: dict[str, str] = {}
        self._places: dict[str, tuple[str, str]] = {}
        self.n_events = 0

    # -- people and their devices ----------------------------------------------------
    def device_of(self, user: DemoUser) -> str:
        n = int(user.user_id)
        if n % 37 == 1:
            return f"family-{n // 74:05d}"
        found = self._devices.get(user.user_id)
        if found is None:
            found = self._devices[user.user_id] = str(uuid.UUID(int=self.rng.getrandbits(128)))
        return found

    def place_of(self, user: DemoUser) -> tuple[str, str]:
        found = self._places.get(user.user_id)
        if found is None:
            found = self._places[user.user_id] = self.rng.choice(CITIES[user.country])
        return found

    def org_of(self, user: DemoUser) -> str:
        return user.orgs[0] if user.orgs else ""

    def page(self, user: DemoUser | None) -> str:
        org = self.org_of(user) if user else ""
        return self.rng.choice(PAGES).replace("{org}", org or "none")

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def secret(self) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(40))

    @staticmethod
    def iso(seconds: float, sep: str = "T", zone: str = "Z") -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f") + zone

    # -- the plan --------------------------------------------------------------------
    def plan(self, exported: list[DemoUser], n_events: int, ghosts: list[str]) -> Iterator[Event]:
        rng = self.rng
        weights = [1.0 / (1 + (i % 50)) for i in range(len(exported))]
        chosen = rng.choices(range(len(exported)), weights, k=n_events)
        plants = {int(n_events * 0.31): "reset", int(n_events * 0.67): "api_key"}
        bad = {int(n_events * f) for f in (0.13, 0.77)}
        for i in range(n_events):
            user = exported[chosen[i]]
            if i in bad:
                yield Event(i, "malformed", None)
                continue
            roll = rng.random()
            if i in plants:
                # the API key is planted before sign-in: it reaches the person by stitching
                kind = "before_sign_in" if plants[i] == "api_key" else "user"
                yield Event(i, kind, user, plant=plants[i])
            elif roll < 0.06:
                yield Event(i, "before_sign_in", user)
            elif roll < 0.09:
                yield Event(i, "anonymous", None)
            elif roll < 0.11 and ghosts:
                yield Event(i, "ghost", None, ghost=ghosts[rng.randrange(len(ghosts))])
            else:
                yield Event(i, "user", user)

    def export(
        self, folder: Path, exported: list[DemoUser], n_events: int, ghosts: list[str]
    ) -> None:
        """Write ``n_events`` events of ``exported`` people (and ``ghosts``) under ``folder``."""
        self.n_events = n_events
        self.write(folder, self.plan(exported, n_events, ghosts))

    def export_plain(
        self, path: Path, exported: list[DemoUser], n_events: int, ghosts: list[str]
    ) -> None:
        """The same events as one plain JSON Lines file (what the benchmarks compare: the
        reader, without its vendor's packing)."""
        self.n_events = n_events
        with path.open("wb") as fh:
            for _, run in self.lines(self.plan(exported, n_events, ghosts), 1, n_events):
                for line, event, data in run:
                    if event.plant:
                        self.planted(event, path.name, line)
                    fh.write(data)

    # -- what subclasses provide -----------------------------------------------------
    def event(self, event: Event) -> dict[str, Any]:
        """The event as the vendor writes it; also tells the truth about it."""
        raise NotImplementedError

    def write(self, folder: Path, events: Iterator[Event]) -> None:
        """Write the vendor's files under ``folder``."""
        raise NotImplementedError

    # -- helpers for subclasses ------------------------------------------------------
    def tell(
        self,
        event: Event,
        record: dict[str, Any],
        orgs: list[Any],
        devices: set[str],
        identities: list[tuple[str, str]] | None = None,
        unmapped: bool = False,
    ) -> None:
        categories = leaf_categories(record, self.FIELDS)
        if event.plant:
            categories.add(CREDENTIALS)
        if unmapped:
            self.truth.country_unmapped += 1
        directed = event.user.user_id if event.kind == "user" and event.user else None
        named = {f"{self.namespace}:{d}" for d in devices if d}
        self.truth.record(directed, categories, orgs, identities or [], named)

    def planted(self, event: Event, source: str, line: int) -> None:
        kind = "api_key" if event.plant == "api_key" else "credential"
        self.truth.planted.append(
            {"kind": kind, "source": source, "line": line, "plant": event.plant}
        )

    def ghost_identities(self, ghost: str) -> list[tuple[str, str]]:
        if "@" in ghost:
            return [("email", ghost.casefold())]
        return [("user_id", ghost)]

    def lines(
        self, events: Iterator[Event], n_files: int, n_events: int
    ) -> Iterator[tuple[int, Iterator[tuple[int, Event, bytes]]]]:
        """Events cut into ``n_files`` runs: (file number, its (line, event, bytes))."""
        pending = next(events, None)
        for k in range(n_files):
            end = (k + 1) * n_events // n_files

            def run(k: int = k, end: int = end) -> Iterator[tuple[int, Event, bytes]]:
                nonlocal pending
                line = 0
                while pending is not None and pending.index < end:
                    event, pending = pending, next(events, None)
                    line += 1
                    if event.kind == "malformed":
                        self.truth.rejected += 1
                        yield line, event, b'{"truncated": "in the middle of a wri\n'
                        continue
                    yield line, event, orjson.dumps(self.event(event)) + b"\n"

            yield k, run()


@contextmanager
def gzip_file(target: Path | IO[bytes]) -> Iterator[IO[bytes]]:
    """A gzip stream (fixed mtime: the same demo, the same bytes) into a file or a stream."""
    with (
        target.open("wb") if isinstance(target, Path) else nullcontext(target) as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        yield gz  # type: ignore[misc]
