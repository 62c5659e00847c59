"""What the dashboard shows, read from the workspace and its store: the same files and
services the CLI uses, cached while the files do not change."""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_left
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel import Locale

from breachdesk.directory.loader import read_contacts
from breachdesk.directory.rows import DIRECTORY_STEMS, directory_digest, table_path
from breachdesk.domain.identity import mask_email
from breachdesk.domain.incident import Decision, Task, TimelineEntry
from breachdesk.errors import DirectoryError
from breachdesk.impact import read_impact
from breachdesk.notify.locales import negotiate
from breachdesk.obligations.evaluate import ACTIONABLE
from breachdesk.report import tables
from breachdesk.services import incident as incident_service
from breachdesk.services.duties import DutyList, join
from breachdesk.services.obligations import ObligationsReport, obligations
from breachdesk.services.workspace import Workspace, current_run, table_rows
from breachdesk.store import duties as store_duties
from breachdesk.store import incident as record
from breachdesk.store import outbox, read_events, verify_chain
from breachdesk.taxonomy import PERSONAL, label

PAGE = 50
_PEOPLE = frozenset({"event", "aware", "decision", "task", "duty"})  # what people did
_SHOWN = frozenset(c.value for c in PERSONAL)  # categories about a person


def _mask_name(name: str) -> str:
    """``Ana Maria Pop`` -> ``A*** M*** P***``."""
    return " ".join(word[:1] + "***" for word in name.split()) or "—"


def _duty_line(action: str, payload: dict[str, Any]) -> str:
    what = action.removeprefix("duty.").replace("_", " ")
    line = f"duty {payload.get('rule', '')}: {what}, now {payload.get('state', '')}"
    filing = payload.get("filing")
    if filing:
        line += f" (filed {filing['filed_at'][:16]} via {filing['channel']}, {filing['reference']})"
    return line


@dataclass
class _Cached:
    stamp: tuple[Any, ...] = ()
    value: Any = None


@dataclass
class Desk:
    """One workspace as the dashboard sees it."""

    ws: Workspace
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _counting: threading.Lock = field(default_factory=threading.Lock)

    @property
    def workspace(self) -> Path:
        return self.ws.path

    def _cached(self, key: str, paths: list[Path], build: Any, extra: tuple[Any, ...] = ()) -> Any:
        run = current_run(self.ws.path)  # a new assess switches the run: follow it
        if run != self.ws.outputs:
            self.ws.outputs = run
            paths = [run / p.name for p in paths]
        stamp = (str(run), *extra, *(p.stat().st_mtime if p.exists() else 0.0 for p in paths))
        found = self._cache.setdefault(key, _Cached())
        if found.stamp != stamp or found.value is None:
            found.value, found.stamp = build(), stamp
        return found.value

    def warm(self) -> None:
        """Fill every cache (the duties over every affected person, the organization index,
        the notice counts): seconds for a million people, paid once at start."""
        self.overview()
        self.obligations()
        self.organizations()
        self.findings()

    # -- the picture ------------------------------------------------------------------------

    def impact(self) -> dict[str, Any]:
        path = self.ws.output("impact.json")
        return self._cached(  # type: ignore[no-any-return]
            "impact", [path], lambda: read_impact(self.ws.output("impact.json"))
        )

    def _assessment(self) -> ObligationsReport:
        """Every regime's assessment: the costly part (a pass over every affected person),
        rebuilt when a run or a decision changes it, in every worker (the key is read from
        the store, not remembered by the process that made the change)."""
        return self._cached(  # type: ignore[no-any-return]
            "obligations", [self.ws.output("impact.json")], lambda: obligations(self.ws),
            (record.last_decision(self.ws.store),),
        )  # fmt: skip

    def duties(self) -> DutyList:
        """The assessment joined with the duties' states, read fresh on every request (a few
        rows): a duty moved on one page shows on every page at once."""
        return join(self._assessment(), store_duties.records(self.ws.store))

    def obligations(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        rows = []
        for d in self.duties().duties:
            waiting = d.state.value in ("open", "in_progress") and d.result.outcome in ACTIONABLE
            rows.append({
                "rule": d.rule, "title": d.result.title, "outcome": d.result.outcome,
                "people": d.result.people, "deadline": d.deadline,
                "deadline_local": d.result.deadline_local, "notify": d.result.notify,
                "state": d.state.value, "overdue": d.overdue, "late": d.late,
                "left": _left(d.deadline - now) if d.deadline and waiting else "",
            })  # fmt: skip
        return rows

    def alerts(self) -> dict[str, Any]:
        """What needs doing now, on every page: overdue duties and overdue open tasks."""
        now = datetime.now(UTC)
        late = [t.title for t in record.tasks(self.ws.store)
                if t.status == "open" and t.due_at is not None and t.due_at < now]  # fmt: skip
        return {"duties": [d.rule for d in self.duties().overdue], "tasks": late}

    def progress(self) -> dict[str, Any]:
        """Notices per state. Counting a million rows takes a while, so no request waits for
        it but the very first: a stale count is returned at once while one background thread
        counts again. Stale means older than a second, or five times what counting took (so
        counting never takes more than a sixth of a core, whatever the campaign's size)."""
        cached = self._cache.get("progress")
        if cached is None:
            with self._counting:
                cached = self._cache.get("progress")
                if cached is None:
                    self._recount()
                    cached = self._cache["progress"]
        elif time.monotonic() - cached.stamp[0] >= max(
            1.0, 5 * cached.stamp[1]
        ) and self._counting.acquire(blocking=False):
            threading.Thread(target=self._recount_and_release, daemon=True).start()
        return cached.value  # type: ignore[no-any-return]

    def _recount(self) -> None:
        started = time.monotonic()
        value = self._count_notices()
        self._cache["progress"] = _Cached((time.monotonic(), time.monotonic() - started), value)

    def _recount_and_release(self) -> None:
        try:
            self._recount()
        finally:
            self._counting.release()

    def _count_notices(self) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        by_language: dict[str, Counter[str]] = {}
        for _kind, locale, state, n in outbox.counts(self.ws.store):
            totals[state] += n
            by_language.setdefault(negotiate(locale), Counter())[state] += n
        done, to_send = outbox.progress(totals)
        return {
            "totals": dict(totals), "to_send": to_send, "done": done,
            "percent": round(100 * done / to_send) if to_send else 0,
            "by_language": {k: dict(v) for k, v in sorted(by_language.items())},
        }  # fmt: skip

    def overview(self) -> dict[str, Any]:
        impact = self.impact()
        return {
            "affected": impact.get("affected") or {},
            "records": impact["records"],
            "findings": [
                {
                    "kind": f["kind"],
                    "count": f["count"],
                    "distinct": f["distinct_values"],
                    "statement": f["statement"],
                }
                for f in impact["findings"]
            ],
            "notices": self.progress(),
        }

    def exposure(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(category, affected users) and (country, affected users), largest first."""

        def build() -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
            categories: Counter[str] = Counter()
            for user in tables.affected_users(self.ws.outputs):
                categories.update(c for c in user.exposed if c in _SHOWN)
            names = Locale("en").territories
            countries = Counter(
                {(f"{names.get(c, c)} ({c})" if c else "unknown"): int(v["users"])
                 for c, v in self.impact().get("by_country", {}).items()}
            )  # fmt: skip
            return [(label(c), n) for c, n in categories.most_common()], countries.most_common()

        return self._cached("exposure", [self.ws.output("impact.json")], build)  # type: ignore[no-any-return]

    def organizations(self, query: str = "", page: int = 1) -> tuple[list[dict[str, Any]], int]:
        """Affected organizations whose id or name contains ``query`` (case-insensitive),
        most affected first; one page of them and how many matched."""
        index: _OrgIndex = self._cached(
            "organizations", [self.ws.output("impact.json")], self._load_orgs
        )
        start = (page - 1) * PAGE
        found, total = index.search(query, first=start + PAGE)
        return [index.rows[i] for i in found[start:]], total

    def _load_orgs(self) -> _OrgIndex:
        names = {}
        directory = (self.impact()["provenance"].get("directory") or {}).get("path")
        if directory:
            path = Path(directory) / "organizations.csv"
            if path.exists():
                names = {r["org_id"]: r["name"] for r in table_rows(path.parent, path.name)}
        rows: list[dict[str, Any]] = []
        for o in tables.affected_organizations(self.ws.outputs):
            name = names.get(o.org_id, "")
            rows.append({"org_id": o.org_id, "name": name,
                         "affected_members": o.affected_members,
                         "admins": len(o.admins_to_notify),
                         "key": f"{o.org_id} {name}".casefold()})  # fmt: skip
        rows.sort(key=lambda r: (-r["affected_members"], r["org_id"]))
        return _OrgIndex(rows)

    def findings(self) -> list[dict[str, Any]]:
        """Findings grouped by the distinct value to revoke (its keyed fingerprint)."""

        def build() -> list[dict[str, Any]]:
            groups: dict[str, dict[str, Any]] = {}
            for r in tables.findings(self.ws.outputs):
                g = groups.get(r.fingerprint)
                if g is None:
                    g = groups[r.fingerprint] = {
                        "fingerprint": r.fingerprint[:16], "kind": r.kind,
                        "rule": r.rule, "masked": r.masked_value, "count": 0,
                        "fields": set(), "users": set(),
                    }  # fmt: skip
                g["count"] += 1
                g["fields"].add(r.field)
                g["users"].update(r.user_ids)
            return sorted(
                ({**g, "fields": ", ".join(sorted(g["fields"])), "users": len(g["users"])}
                 for g in groups.values()),
                key=lambda g: (-g["count"], g["kind"], g["fingerprint"]),
            )  # fmt: skip

        return self._cached("findings", [self.ws.output("impact.json")], build)  # type: ignore[no-any-return]

    def notice_failures(self) -> list[tuple[str, str, int]]:
        return outbox.failures(self.ws.store, limit=50)

    def retry_failed(self, actor: str) -> int:
        """Failed notices go back to the queue with a fresh count of attempts."""
        return outbox.retry_failed(self.ws.store, actor)

    def audit(self, last: int = 200) -> tuple[bool, int, str, list[Any]]:
        check = verify_chain(self.ws.store)
        events = list(read_events(self.ws.store, last=last))
        events.reverse()
        return check.intact, check.entries, check.broken, events

    def decisions(self) -> list[Decision]:
        return record.decisions(self.ws.store, newest_first=True)

    def tasks(self) -> list[Task]:
        """Open tasks first, the earliest due (so the overdue) first; done ones last."""
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(
            record.tasks(self.ws.store), key=lambda t: (t.status != "open", t.due_at or far, t.id)
        )

    def timeline(self, everything: bool = False) -> list[TimelineEntry]:
        """People's actions (events, awareness, decisions, tasks, duties); the machinery's
        entries (assess runs, notify campaigns) only with ``everything``, and then one line
        per campaign instead of one per batch."""
        entries = list(incident_service.timeline(self.ws))
        for e in read_events(self.ws.store):
            if e.action.startswith("duty."):
                at = datetime.fromisoformat(e.at)
                entries.append(TimelineEntry(at, "duty", _duty_line(e.action, e.payload), e.actor))
        entries.sort(key=lambda e: (e.at, e.kind, e.summary))
        if not everything:
            return [e for e in entries if e.kind in _PEOPLE]
        shown: list[TimelineEntry] = []
        batches = 0
        for entry in entries:
            if entry.summary in ("notify.batch_leased", "notify.batch_done"):
                batches += entry.summary == "notify.batch_done"
                continue
            if entry.summary.startswith("notify.campaign_") and batches:
                summary = f"{entry.summary} ({batches:,} batches sent before)"
                entry = TimelineEntry(entry.at, entry.kind, summary, entry.actor)
                batches = 0
            shown.append(entry)
        return shown

    def organization(self, org_id: str) -> dict[str, Any] | None:
        """One affected organization: its affected members and its admins to notify, masked
        (a***@example.org, A*** P***); None when it is not affected."""
        org = next(
            (o for o in tables.affected_organizations(self.ws.outputs) if o.org_id == org_id),
            None,
        )
        if org is None:
            return None
        members = sorted(
            (u for u in tables.affected_users(self.ws.outputs) if org_id in u.organizations),
            key=lambda u: u.user_id,
        )[: PAGE * 4]
        ids = {u.user_id for u in members} | set(org.admins_to_notify)
        recorded = self.impact()["provenance"].get("directory") or {}
        contacts: dict[str, tuple[str, str, str, bool]] = {}
        changed = False
        if recorded.get("path") and ids:
            folder = Path(recorded["path"])
            # the people assess matched, or none: notify plan refuses a changed directory too
            changed = self._directory_digest(folder) != recorded.get("sha256")
            if not changed:
                contacts = read_contacts(folder, ids)
        rows, _ = self.organizations(org_id)
        name = next((r["name"] for r in rows if r["org_id"] == org_id), "")

        def person(user_id: str) -> dict[str, str]:
            email, full, _locale, _active = contacts.get(user_id, ("", "", "", True))
            return {"user_id": user_id, "email": mask_email(email) if email else "—",
                    "name": _mask_name(full)}  # fmt: skip

        return {
            "org_id": org_id, "name": name, "affected_members": org.affected_members,
            "members": [
                {**person(u.user_id), "mfa": u.mfa_enabled or "unknown",
                 "exposed": ", ".join(label(c) for c in u.exposed if c in _SHOWN)}
                for u in members
            ],
            "admins": [person(a) for a in org.admins_to_notify],
            "directory_changed": changed,
        }  # fmt: skip

    def _directory_digest(self, folder: Path) -> str | None:
        """The directory's digest, computed again only when one of its files changed (a
        page view must not read a directory of millions of users); None when it is gone."""
        try:
            stamp = tuple(
                (str(path), path.stat().st_size, path.stat().st_mtime_ns)
                for path in (table_path(folder, stem) for stem in DIRECTORY_STEMS)
            )
            return str(
                self._cached("directory-digest", [], lambda: directory_digest(folder), stamp)
            )
        except (OSError, DirectoryError):
            return None


class _OrgIndex:
    """Organizations in display order (most affected first) and an index of the words of
    their ids and names: a search finds the organizations in which every word typed starts
    a word of the id or name ("acme lab" finds "Acme Labs 12"), without a scan of every row.
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        postings: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            for word in set(_words(row["key"])):
                postings.setdefault(word, []).append(i)
        self.vocabulary = sorted(postings)
        self.postings = postings
        # recent prefixes ("\0" + prefix) and searches -> matching rows, in display order
        self._recent: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()  # pages are served from several threads

    def _prefixed(self, prefix: str) -> list[int]:
        """The rows (in display order) with a word starting with ``prefix``."""
        found = self._recalled("\0" + prefix)
        if found is not None:
            return found
        start = bisect_left(self.vocabulary, prefix)
        end = bisect_left(self.vocabulary, prefix + "\U0010ffff", lo=start)
        if end - start == 1:
            found = self.postings[self.vocabulary[start]]
        else:
            union: set[int] = set()
            for word in self.vocabulary[start:end]:
                union.update(self.postings[word])
            found = sorted(union)
        self._remember("\0" + prefix, found)
        return found

    def search(self, query: str, first: int | None = None) -> tuple[list[int], int]:
        """The first ``first`` matches in display order (all when None) and how many."""
        words = tuple(dict.fromkeys(_words(query)))
        if not words:
            everything = range(len(self.rows))
            return list(everything if first is None else everything[:first]), len(self.rows)
        if len(words) == 1:  # a posting list is already in display order
            rows = self._prefixed(words[0])
            return (rows if first is None else rows[:first]), len(rows)
        key = " ".join(sorted(words))
        found = self._recalled(key)
        if found is None:  # the next page of the same search costs nothing
            sets = sorted((self._prefixed(w) for w in words), key=len)
            matched = set(sets[0])
            for other in sets[1:]:
                matched.intersection_update(other)
                if not matched:
                    break
            found = sorted(matched)
            self._remember(key, found)
        return (found if first is None else found[:first]), len(found)

    def _recalled(self, key: str) -> list[int] | None:
        with self._lock:
            found = self._recent.get(key)
            if found is not None:
                self._recent.move_to_end(key)
            return found

    def _remember(self, key: str, found: list[int]) -> None:
        with self._lock:
            self._recent[key] = found
            if len(self._recent) > 512:
                self._recent.popitem(last=False)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _left(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    sign = "" if seconds >= 0 else "overdue by "
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{sign}{days}d {hours}h {rest // 60}m" if days else f"{sign}{hours}h {rest // 60}m"
