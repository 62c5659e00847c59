"""The durable outbox: the notice table read as a queue. (Times cross this module's
interface as epoch seconds, the clock the sending loop runs on, and are stored as
:class:`~breachdesk.store.models.Instant`; ``EPOCH`` stands for "not leased" / "due now".)

A worker *leases* a batch of due notices (one UPDATE whose subquery takes the rows
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never share a row; SQLite runs one writer
at a time anyway), sends them, then *records* each result together with its attempt row in
one transaction, clearing the lease. A worker killed between sending and recording leaves
its rows leased: they are sent again, with the same Message-ID, once the lease runs out — or
at once when a worker on the same host sees that the leasing process is gone.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from secrets import token_hex
from typing import Any

import orjson
from sqlalchemy import and_, case, func, insert, or_, select, type_coerce, update

from breachdesk.domain.identity import mask_addresses
from breachdesk.notify.compose import NoticeRow
from breachdesk.store import models as m
from breachdesk.store.db import Store
from breachdesk.store.models import EPOCH, Instant, NoticeStatus

QUEUED, SENT, FAILED, REFUSED, PLANNED = (
    NoticeStatus.QUEUED, NoticeStatus.SENT, NoticeStatus.FAILED, NoticeStatus.REFUSED,
    NoticeStatus.PLANNED,
)  # fmt: skip


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else EPOCH


_COLUMNS = (
    m.Notice.id, m.Notice.kind, m.Notice.user_id, m.Notice.org_id, m.Notice.email,
    m.Notice.name, m.Notice.locale, m.Notice.reference, m.Notice.facts, m.Notice.attempts,
    m.Notice.body_hash,
)  # fmt: skip


def worker_id() -> str:
    """host:pid:random — the host and pid let a restarted worker see that a lease is dead."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{token_hex(3)}"


@dataclass(frozen=True)
class Leased:
    notice: NoticeRow
    attempts: int  # attempts before this one
    linted: str  # the wire hash that passed the lint when the notice was queued


@dataclass(frozen=True)
class Result:
    notice_id: int
    outcome: str  # sent | retry | failed | refused (by the lint, at send time)
    code: int  # SMTP reply code; 0 when none came
    reply: str
    message_id: str
    body_hash: str
    template_version: str
    attempted_at: str  # ISO 8601
    not_before: float = 0.0  # for a retry (epoch seconds)


def _row(values: Sequence[Any]) -> Leased:
    (id_, kind, user_id, org_id, email, name, locale, reference, facts, attempts, linted) = values
    notice = NoticeRow(
        id=int(id_), kind=str(kind), user_id=str(user_id), org_id=str(org_id),
        email=str(email), name=str(name), locale=str(locale), reference=str(reference),
        facts=orjson.loads(str(facts)),
    )  # fmt: skip
    return Leased(notice, int(attempts), str(linted))


def notices(store: Store, ids: Sequence[int]) -> list[NoticeRow]:
    """The notices with these ids, in id order."""
    with store.read() as session:
        rows = session.execute(
            select(*_COLUMNS).where(m.Notice.id.in_(ids)).order_by(m.Notice.id)
        ).all()
    return [_row(r).notice for r in rows]


def ids_in(store: Store, states: tuple[NoticeStatus, ...]) -> list[int]:
    """The ids of the notices in these states, in id order."""
    with store.read() as session:
        return list(
            session.scalars(
                select(m.Notice.id).where(m.Notice.status.in_(states)).order_by(m.Notice.id)
            )
        )


def mark_queued(
    store: Store,
    queued: Iterable[tuple[int, str, str]],
    refused: Iterable[tuple[int, str]],
    template_version: str,
) -> None:
    """Planned notices become queued (id, message_id, body_hash) or refused (id, reason)."""
    with store.write() as tx:
        session = tx.session
        for notice_id, message_id, body_hash in queued:
            session.execute(
                update(m.Notice)
                .where(m.Notice.id == notice_id, m.Notice.status == PLANNED)
                .values(
                    status=QUEUED, message_id=message_id, body_hash=body_hash,
                    template_version=template_version, hold_reason="",
                )
            )  # fmt: skip
        for notice_id, reason in refused:
            session.execute(
                update(m.Notice)
                .where(m.Notice.id == notice_id, m.Notice.status == PLANNED)
                .values(status=REFUSED, hold_reason=reason[:200])
            )


def reclaim_dead(store: Store) -> int:
    """Leases held by processes of this host that no longer exist end now."""
    host = socket.gethostname()[:60]
    with store.write() as tx:
        session = tx.session
        owners = session.scalars(
            select(m.Notice.lease_owner)
            .where(m.Notice.status == QUEUED, m.Notice.lease_owner.like(f"{host}:%"))
            .distinct()
        ).all()
        dead = [o for o in owners if not _alive(o)]
        if not dead:
            return 0
        result = session.execute(
            update(m.Notice)
            .where(m.Notice.status == QUEUED, m.Notice.lease_owner.in_(dead))
            .values(lease_owner="", lease_until=EPOCH)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _alive(owner: str) -> bool:
    try:
        pid = int(owner.split(":")[1])
    except (IndexError, ValueError):
        return True  # not ours to judge: let the lease run out
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease(store: Store, worker: str, batch: str, limit: int, seconds: float) -> list[Leased]:
    """Take up to ``limit`` due, unleased queued notices for ``worker``."""
    now = datetime.now(UTC)
    due = and_(
        m.Notice.status == QUEUED,
        m.Notice.lease_until < now,
        m.Notice.not_before <= now,
    )
    with store.write() as tx:
        session = tx.session
        ids = (
            select(m.Notice.id)
            .where(due)
            .order_by(m.Notice.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        session.execute(
            update(m.Notice)
            .where(m.Notice.id.in_(ids), due)
            .values(lease_owner=worker, lease_until=_at(now.timestamp() + seconds), batch_id=batch)
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(*_COLUMNS)
            .where(m.Notice.batch_id == batch, m.Notice.lease_owner == worker)
            .order_by(m.Notice.id)
        ).all()
    return [_row(r) for r in rows]


def extend(store: Store, worker: str, batch: str, seconds: float) -> None:
    with store.write() as tx:
        tx.session.execute(
            update(m.Notice)
            .where(
                m.Notice.batch_id == batch,
                m.Notice.lease_owner == worker,
                m.Notice.status == QUEUED,
            )
            .values(lease_until=_at(time.time() + seconds))
        )


def record(store: Store, worker: str, batch: str, results: Sequence[Result], digest: Any) -> None:
    """Store the attempts and the notices' new state in one transaction; ``digest`` (a
    hashlib object) takes in each attempt row written, for the batch's audit entry."""
    if not results:
        return
    with store.write() as tx:
        session = tx.session
        rows = []
        for r in results:
            row = {
                "notice_id": r.notice_id, "batch_id": batch, "worker": worker,
                "attempted_at": r.attempted_at, "outcome": r.outcome, "smtp_code": r.code,
                "smtp_reply": r.reply[:1000], "message_id": r.message_id,
                "body_hash": r.body_hash, "template_version": r.template_version,
            }  # fmt: skip
            rows.append(row)
            digest.update(orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n")
            row["attempted_at"] = datetime.fromisoformat(r.attempted_at)
        session.execute(insert(m.DeliveryAttempt), rows)
        for r in results:
            values: dict[str, object] = {
                "attempts": m.Notice.attempts + 1,
                "last_reply": f"{r.code} {r.reply}"[:500],
                "lease_owner": "",
                "lease_until": EPOCH,
                "body_hash": r.body_hash,
                "template_version": r.template_version,
            }
            if r.outcome == "sent":
                values |= {"status": SENT, "sent_at": datetime.fromisoformat(r.attempted_at)}
            elif r.outcome == "failed":
                values |= {"status": FAILED}
            elif r.outcome == "refused":
                values |= {"status": REFUSED, "hold_reason": r.reply[:200]}
            else:
                values |= {"not_before": _at(r.not_before)}
            session.execute(
                update(m.Notice)
                .where(m.Notice.id == r.notice_id, m.Notice.lease_owner == worker)
                .values(**values)
            )


def release(store: Store, worker: str) -> int:
    """Give back every lease of ``worker`` (a clean stop)."""
    with store.write() as tx:
        result = tx.session.execute(
            update(m.Notice)
            .where(m.Notice.lease_owner == worker, m.Notice.status == QUEUED)
            .values(lease_owner="", lease_until=EPOCH)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def next_due(store: Store) -> float | None:
    """When the earliest queued notice can be leased (epoch seconds), or None when nothing
    is queued."""
    with store.read() as session:
        free, leased = session.execute(
            select(
                type_coerce(
                    func.min(case((m.Notice.lease_until == EPOCH, m.Notice.not_before))), Instant
                ),
                type_coerce(
                    func.min(case((m.Notice.lease_until > EPOCH, m.Notice.lease_until))), Instant
                ),
            ).where(m.Notice.status == QUEUED)
        ).one()
    candidates = [v.timestamp() for v in (free, leased) if v is not None]
    return min(candidates) if candidates else None


def progress(totals: Mapping[str, int]) -> tuple[int, int]:
    """(done, to send) from notices per state: done is sent, failed or refused; held
    notices wait for a person and are not counted as to send."""
    done = sum(totals.get(state, 0) for state in ("sent", "failed", "refused"))
    return done, sum(totals.values()) - totals.get("held", 0)


def counts(store: Store) -> list[tuple[str, str, str, int]]:
    """(kind, locale as planned, status, notices), for the status table."""
    with store.read() as session:
        rows = session.execute(
            select(m.Notice.kind, m.Notice.locale, m.Notice.status, func.count()).group_by(
                m.Notice.kind, m.Notice.locale, m.Notice.status
            )
        ).all()
    return [(str(k), str(loc), str(s), int(n)) for k, loc, s, n in rows]


def held_reasons(store: Store) -> list[tuple[str, int]]:
    """(reason, notices) of the notices held for a person to decide, commonest first."""
    with store.read() as session:
        rows = session.execute(
            select(m.Notice.hold_reason, func.count())
            .where(m.Notice.status == NoticeStatus.HELD)
            .group_by(m.Notice.hold_reason)
        ).all()
    merged: Counter[str] = Counter()
    for reason, n in rows:
        merged[mask_addresses(str(reason)) or "no reason recorded"] += int(n)
    return merged.most_common()


def failures(store: Store, limit: int = 10) -> list[tuple[str, str, int]]:
    """(status, reason, notices): the commonest reasons notices failed or were refused."""
    reason = case((m.Notice.status == REFUSED, m.Notice.hold_reason), else_=m.Notice.last_reply)
    with store.read() as session:
        rows = session.execute(
            select(m.Notice.status, reason, func.count())
            .where(or_(m.Notice.status == FAILED, m.Notice.status == REFUSED))
            .group_by(m.Notice.status, reason)
            .order_by(func.count().desc())
            .limit(limit)
        ).all()
    # replies are masked when stored; masked again here for rows stored before that was so
    merged: Counter[tuple[str, str]] = Counter()
    for s, r, n in rows:
        merged[str(s), mask_addresses(str(r))] += int(n)
    return [(s, r, n) for (s, r), n in merged.most_common()]


def queued_count(store: Store) -> int:
    with store.read() as session:
        return int(
            session.execute(select(func.count()).where(m.Notice.status == QUEUED)).scalar_one()
        )


def has_attempts(store: Store) -> bool:
    with store.read() as session:
        return session.execute(select(m.DeliveryAttempt.id).limit(1)).first() is not None


def attempt_count(store: Store) -> int:
    with store.read() as session:
        return int(session.execute(select(func.count(m.DeliveryAttempt.id))).scalar_one())


def retry_failed(store: Store, actor: str) -> int:
    """Failed notices go back to the queue with a fresh count of attempts (audited)."""
    with store.write() as tx:
        result = tx.session.execute(
            update(m.Notice)
            .where(m.Notice.status == FAILED)
            .values(status=QUEUED, attempts=0, not_before=EPOCH, lease_owner="", lease_until=EPOCH)
        )
        n = int(result.rowcount)  # type: ignore[attr-defined]
        if n:
            tx.audit("notify.retry_requested", {"notices": n}, actor=actor)
    return n


def preview_candidates(store: Store) -> list[tuple[int, str, str]]:
    """(id, kind, locale) of every notice that is not held, in id order."""
    with store.read() as session:
        rows = session.execute(
            select(m.Notice.id, m.Notice.kind, m.Notice.locale)
            .where(m.Notice.status != NoticeStatus.HELD)
            .order_by(m.Notice.id)
        ).all()
    return [(int(i), str(k), str(loc)) for i, k, loc in rows]


def sent_references(store: Store) -> list[tuple[str, str, datetime]]:
    """(reference, address, sent at) of every notice that was sent."""
    with store.read() as session:
        rows = session.execute(
            select(m.Notice.reference, m.Notice.email, m.Notice.sent_at).where(
                m.Notice.status == SENT
            )
        ).all()
    return [(str(r), str(e), s or EPOCH) for r, e, s in rows]
