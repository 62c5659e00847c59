"""The incident record rebuilt from the audit log, and compared with its tables.

Every change to the incident (its details and the company's identity, awareness, timeline
events and measures, tasks, decisions, duties and their filings, vendor reviews) is written
together with an audit entry whose payload says all of it. Replaying the log therefore gives
what the tables must hold; a row edited in the database without going through breachdesk — a
decision flipped from "not required" to "required" — shows up as a disagreement even though
the chain itself is intact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select

from breachdesk.store import duties as duty_store
from breachdesk.store import models as m
from breachdesk.store import vendors as vendor_store
from breachdesk.store.audit import read_events
from breachdesk.store.db import Store
from breachdesk.store.models import instant_text

_INCIDENT_FIELDS = ("title", "vendor", "timezone", "dataset_arrived_at", "official_domains",
                    "sender", "company", "controller", "dpo", "contact_email", "verify_url",
                    "vendor_incident_start", "vendor_incident_end",
                    "own_systems_breached")  # fmt: skip
_INSTANTS = ("dataset_arrived_at", "vendor_incident_start", "vendor_incident_end")


_DUTY_ACTIONS = frozenset(duty_store.ACTIONS.values())


@dataclass(frozen=True)
class Disagreement:
    table: str
    key: str
    what: str

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.what}"


@dataclass
class Replayed:
    incident: dict[str, Any] = field(default_factory=dict)
    awareness: dict[str, str] = field(default_factory=dict)
    events: Counter[tuple[str, str, str, bool, str]] = field(default_factory=Counter)
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    decisions: list[tuple[int | None, tuple[str, ...]]] = field(default_factory=list)
    duties: dict[str, dict[str, Any]] = field(default_factory=dict)
    filings: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, dict[str, Any]] = field(default_factory=dict)


def _instant(value: object) -> str | None:
    """Any ISO time the log holds, in the store's one form (older entries used seconds)."""
    if value in (None, ""):
        return None
    return instant_text(datetime.fromisoformat(str(value)))


def replay(store: Store) -> Replayed:
    state = Replayed()
    for entry in read_events(store):
        p = entry.payload
        if entry.action == "incident.updated":
            for name in _INCIDENT_FIELDS:
                if name in p:
                    value = p[name]
                    if name == "official_domains" and isinstance(value, str):
                        value = orjson.loads(value)  # older entries held the JSON text
                    if name in _INSTANTS:
                        value = _instant(value)
                    state.incident[name] = value
            for party, at in (p.get("aware") or {}).items():
                state.awareness[party] = _instant(at) or ""
        elif entry.action == "incident.event":
            key = (
                _instant(p["at"]) or "", p["summary"], entry.actor, bool(p.get("measure")),
                str(p.get("language") or ""),
            )  # fmt: skip
            state.events[key] += 1
        elif entry.action == "task.added":
            state.tasks[int(p["id"])] = {
                "title": p["title"], "owner": p["owner"], "due": _instant(p.get("due")),
                "status": "open",
            }  # fmt: skip
        elif entry.action == "task.done":
            task = state.tasks.setdefault(int(p["id"]), {})
            task["status"] = "done"
        elif entry.action == "task.updated":
            task = state.tasks.setdefault(int(p["id"]), {})
            task.update(status=p["status"], owner=p["owner"], due=_instant(p.get("due")))
        elif entry.action == "decision.recorded":
            ident = int(p["id"]) if "id" in p else None
            values = (p["subject"], p["decision"], p["rationale"], entry.actor)
            state.decisions.append((ident, values))
        elif entry.action in _DUTY_ACTIONS:
            state.duties[p["rule"]] = {k: v for k, v in p.items() if k != "filing"}
            if "filing" in p:
                state.filings[int(p["filing"]["id"])] = p["filing"]
        elif entry.action == "vendor.reviewed" and "id" in p:
            state.reviews[int(p["id"])] = vendor_store.logged_review(p, entry.actor)
    return state


def compare_tables(store: Store) -> list[Disagreement]:
    """Every difference between the incident's tables and what the log says they hold."""
    want = replay(store)
    found: list[Disagreement] = []
    with store.read() as session:
        incident = session.get(m.Incident, store.incident)
        if incident is not None:
            for name, value in want.incident.items():
                actual: Any = getattr(incident, name)
                if name == "official_domains":
                    actual = orjson.loads(actual)
                elif name in _INSTANTS:
                    actual = instant_text(actual) if actual is not None else None
                if actual != value:
                    found.append(Disagreement("incident", name, "differs from the log"))
        awareness = {a.party: instant_text(a.aware_at) for a in session.scalars(
            select(m.Awareness))}  # fmt: skip
        for party in sorted(set(awareness) | set(want.awareness)):
            if awareness.get(party) != want.awareness.get(party):
                found.append(Disagreement("awareness", party, "differs from the log"))
        events = Counter(
            (instant_text(e.occurred_at), e.summary, e.actor, bool(e.measure), e.language or "")
            for e in session.scalars(select(m.TimelineEvent))
        )
        if events != want.events:
            extra = sum((events - want.events).values())
            missing = sum((want.events - events).values())
            found.append(
                Disagreement("timeline_event", "*", f"{extra} not in the log, {missing} missing")
            )
        tasks = {t.id: t for t in session.scalars(select(m.Task))}
        for ident in sorted(set(tasks) | set(want.tasks)):
            row, logged = tasks.get(ident), want.tasks.get(ident)
            if row is None or logged is None:
                found.append(Disagreement("task", str(ident), "in one of table and log only"))
                continue
            actual_task = {"title": row.title, "owner": row.owner, "status": row.status,
                           "due": instant_text(row.due_at) if row.due_at else None}  # fmt: skip
            if any(actual_task[k] != v for k, v in logged.items()):
                found.append(Disagreement("task", str(ident), "differs from the log"))
        decided = list(session.scalars(select(m.Decision).order_by(m.Decision.id)))
        found.extend(_decisions_against_log(decided, want.decisions))
    duties, filings = duty_store.tables(store)
    for table, rows, logged_rows in (("duty", duties, want.duties),
                                     ("duty_filing", filings, want.filings)):  # fmt: skip
        for key in sorted(set(rows) | set(logged_rows), key=str):
            row, logged = rows.get(key), logged_rows.get(key)  # type: ignore[call-overload]
            if row is None or logged is None:
                found.append(Disagreement(table, str(key), "in one of table and log only"))
            elif row != logged:
                found.append(Disagreement(table, str(key), "differs from the log"))
    for ident, review in sorted(vendor_store.review_tables(store).items()):
        logged_review = want.reviews.pop(ident, None)
        if logged_review is None:
            found.append(Disagreement("vendor_review", str(ident), "in one of table and log only"))
        elif any(review.get(k) != v for k, v in logged_review.items()):
            found.append(Disagreement("vendor_review", str(ident), "differs from the log"))
    found.extend(
        Disagreement("vendor_review", str(i), "in one of table and log only") for i in want.reviews
    )
    return found


def _decisions_against_log(
    decided: list[m.Decision], logged: list[tuple[int | None, tuple[str, ...]]]
) -> list[Disagreement]:
    """Rows against entries by the id each entry names (on PostgreSQL two writers may take
    ids in one order and append their entries in the other); entries from before ids were
    logged pair with rows in order."""
    found: list[Disagreement] = []
    if len(decided) != len(logged):
        found.append(
            Disagreement("decision", "*", f"{len(decided)} rows, {len(logged)} in the log")
        )
    by_id = {ident: values for ident, values in logged if ident is not None}
    unnamed = iter(values for ident, values in logged if ident is None)
    for d in decided:
        values = by_id.pop(d.id, None)
        if values is None:
            values = next(unnamed, None)
        actual = (d.subject, d.decision, d.rationale, d.decided_by)
        if values is None:
            found.append(Disagreement("decision", str(d.id), "in one of table and log only"))
        elif actual != values:
            found.append(Disagreement("decision", str(d.id), "differs from the log"))
    found.extend(Disagreement("decision", str(i), "in one of table and log only") for i in by_id)
    return found
