"""Planned notices in the store: adding what a plan wants, refreshing what is not sent yet,
with the plan's audit entry in the same transaction.

A notice is never dropped by a later plan, and never re-addressed by one: when the directory
gives another address for a notice not sent yet, the notice keeps the address it was planned
with and is held for a person to decide (an address changed after a breach may be an
attacker's); ``readdress`` is that decision. The same address written differently (letter
case, Unicode form) is simply refreshed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from breachdesk.domain.identity import normalize_email
from breachdesk.errors import StoreError
from breachdesk.store import models as m
from breachdesk.store.db import Store, open_engine, resolve_url
from breachdesk.store.models import NoticeStatus


@dataclass(frozen=True)
class WantedNotice:
    kind: str  # user | admin
    user_id: str
    org_id: str
    email: str
    name: str
    locale: str
    status: NoticeStatus  # planned | held
    hold_reason: str
    facts: str  # JSON


@dataclass
class PlanSummary:
    new: Counter[str] = field(default_factory=Counter)  # kind/status -> notices added
    existing: int = 0
    held: Counter[str] = field(default_factory=Counter)  # reason -> notices held
    kept_address: int = 0  # not sent yet, planned to an address the directory no longer gives
    rematched: Any = None  # the assess run a re-match made (services.assess.AssessResult)


ADDRESS_CHANGED = "the directory gives another address since planned: check, then --readdress"


def save_plan(
    store: Store,
    wanted: Sequence[WantedNotice],
    reference: Callable[[], str],
    readdress: bool = False,
) -> PlanSummary:
    """Insert the notices not planned yet; refresh the facts of those not sent; release a
    held or refused one that may now go. Idempotent: planning twice adds nothing."""
    summary = PlanSummary()
    now = datetime.now(UTC)
    planned, held, refused = NoticeStatus.PLANNED, NoticeStatus.HELD, NoticeStatus.REFUSED
    with store.write() as tx:
        session = tx.session
        existing = {
            (k, u, o): (i, s, f, e)
            for i, k, u, o, s, f, e in session.execute(
                select(m.Notice.id, m.Notice.kind, m.Notice.user_id, m.Notice.org_id,
                       m.Notice.status, m.Notice.facts, m.Notice.email)
            )
        }  # fmt: skip
        fresh = []
        for notice in wanted:
            found = existing.get((notice.kind, notice.user_id, notice.org_id))
            if found is not None:
                summary.existing += 1
                notice_id, status, facts, email = found
                row = None
                if status in (planned, held) and facts != notice.facts:
                    row = session.get(m.Notice, notice_id)
                    assert row is not None
                    row.facts = notice.facts  # a re-match changed what was exposed
                if status in (planned, held, refused) and email != notice.email:
                    row = row or session.get(m.Notice, notice_id)
                    assert row is not None
                    if readdress or normalize_email(email) == normalize_email(notice.email):
                        # the same address as the directory now writes it (a plan made before
                        # addresses were kept as written held the casefolded form), or told to
                        row.email = notice.email
                    else:
                        summary.kept_address += 1
                        summary.held[ADDRESS_CHANGED] += 1
                        row.status, row.hold_reason = held, ADDRESS_CHANGED
                        continue
                if notice.status == planned and status in (refused, held):
                    # refused by the lint: planning again gives it another pass; held:
                    # released (a decision was taken, --include-deactivated, or data fixed)
                    row = row or session.get(m.Notice, notice_id)
                    assert row is not None
                    row.status, row.hold_reason = planned, ""
                    verb = "re-planned" if status == refused else "released"
                    summary.new[f"{notice.kind} {verb}"] += 1
                continue
            fresh.append(
                {
                    "kind": notice.kind, "user_id": notice.user_id, "org_id": notice.org_id,
                    "email": notice.email, "name": notice.name, "locale": notice.locale,
                    "status": notice.status, "hold_reason": notice.hold_reason,
                    "facts": notice.facts, "incident_id": store.incident,
                    "reference": reference(), "created_at": now,
                }
            )  # fmt: skip
            summary.new[f"{notice.kind} {notice.status}"] += 1
            if notice.status == held:
                summary.held[notice.hold_reason] += 1
        for start in range(0, len(fresh), 5000):
            session.execute(insert(m.Notice), fresh[start : start + 5000])
        tx.audit(
            "notify.planned",
            {"new": dict(summary.new), "existing": summary.existing, "held": dict(summary.held),
             "kept_address": summary.kept_address, "readdress": readdress},
        )  # fmt: skip
    return summary


def user_notice_states(store: Store, user_ids: Sequence[str]) -> dict[str, NoticeStatus]:
    """The state of the user notice of each of ``user_ids`` that has one."""
    found: dict[str, NoticeStatus] = {}
    with store.read() as session:
        for start in range(0, len(user_ids), 5000):
            chunk = list(user_ids[start : start + 5000])
            query = select(m.Notice.user_id, m.Notice.status).where(
                m.Notice.kind == "user", m.Notice.user_id.in_(chunk)
            )
            found.update((str(u), NoticeStatus(s)) for u, s in session.execute(query))
    return found


def admin_notice_states(store: Store, org_ids: Sequence[str]) -> dict[str, Counter[str]]:
    """For each of ``org_ids`` with admin notices: how many are in each state."""
    found: dict[str, Counter[str]] = {}
    with store.read() as session:
        for start in range(0, len(org_ids), 5000):
            chunk = list(org_ids[start : start + 5000])
            query = select(m.Notice.org_id, m.Notice.status).where(
                m.Notice.kind == "admin", m.Notice.org_id.in_(chunk)
            )
            for org_id, status in session.execute(query):
                found.setdefault(str(org_id), Counter())[NoticeStatus(status).value] += 1
    return found


def peek_notice_counts(url: str, workspace: Path) -> Counter[str]:
    """Notices per state in the store at ``url``, read without migrating or creating
    anything (an assess refused into an existing workspace must leave it as it was)."""
    full = resolve_url(url, workspace)
    if full.startswith("sqlite:///") and not Path(full[len("sqlite:///") :]).exists():
        return Counter()
    engine = open_engine(full)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("notice"):
                return Counter()
            rows = connection.execute(
                select(m.Notice.status, func.count()).group_by(m.Notice.status)
            )
            return Counter({NoticeStatus(s).value: int(n) for s, n in rows})
    except SQLAlchemyError as exc:
        raise StoreError(f"store: {type(exc).__name__} while reading its notices") from None
    finally:
        engine.dispose()
