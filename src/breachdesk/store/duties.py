"""Duties in the store: each regime's state and its filings. Every change is written with its
audit entry in one transaction, and the entry's payload holds the whole row after the change
(so :mod:`breachdesk.store.replay` can rebuild both tables from the log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from breachdesk.domain.duties import DutyRecord, DutyState, Filing, Phase, move
from breachdesk.store import models as m
from breachdesk.store.db import Store, Tx
from breachdesk.store.models import instant_text

ACTIONS = {
    "start": "duty.started",
    "done": "duty.filed",
    "follow_up": "duty.follow_up",
    "not_required": "duty.not_required",
    "reopen": "duty.reopened",
    "delay_reason": "duty.delay_reason",
}


def _row(tx: Tx, rule: str) -> m.Duty | None:
    return tx.session.scalars(
        select(m.Duty).where(m.Duty.incident_id == tx.store.incident, m.Duty.rule == rule)
    ).first()


def duty_payload(row: m.Duty) -> dict[str, Any]:
    return {
        "rule": row.rule, "state": row.state, "owner": row.owner, "rationale": row.rationale,
        "delay_reason": row.delay_reason, "updated_at": instant_text(row.updated_at),
    }  # fmt: skip


def filing_payload(row: m.DutyFiling) -> dict[str, Any]:
    return {
        "id": row.id, "rule": row.rule, "phase": row.phase,
        "filed_at": instant_text(row.filed_at), "channel": row.channel,
        "reference": row.reference, "note": row.note,
        "recorded_at": instant_text(row.recorded_at),
    }  # fmt: skip


def change(
    store: Store,
    rule: str,
    action: str,
    actor: str,
    *,
    assessed: DutyState = DutyState.OPEN,
    owner: str | None = None,
    rationale: str | None = None,
    delay_reason: str | None = None,
    filing: tuple[Phase, datetime, str, str, str] | None = None,
) -> DutyRecord:
    """Make one move on a duty (``action`` from :data:`ACTIONS`); ``assessed`` is its state
    when nothing was recorded yet. A filing is (phase, filed at, channel, reference, note)."""
    now = datetime.now(UTC)
    with store.write() as tx:
        row = _row(tx, rule)
        current = DutyState(row.state) if row is not None else assessed
        target = current if action == "delay_reason" else move(rule, current, action)
        if row is None:
            row = m.Duty(
                incident_id=store.incident, rule=rule, state=target.value, owner="",
                rationale="", delay_reason="", updated_by=actor, updated_at=now,
            )  # fmt: skip
            tx.session.add(row)
        row.state = target.value
        row.updated_by, row.updated_at = actor, now
        if owner is not None:
            row.owner = owner
        if rationale is not None:
            row.rationale = rationale
        if delay_reason is not None:
            row.delay_reason = delay_reason
        payload = duty_payload(row)
        if filing is not None:
            phase, filed_at, channel, reference, note = filing
            added = m.DutyFiling(
                incident_id=store.incident, rule=rule, phase=phase.value, filed_at=filed_at,
                channel=channel, reference=reference, note=note, recorded_by=actor,
                recorded_at=now,
            )  # fmt: skip
            tx.session.add(added)
            tx.session.flush()
            payload["filing"] = filing_payload(added)
        tx.session.flush()
        tx.audit(ACTIONS[action], payload, actor=actor)
    return records(store, rule)[rule]


def records(store: Store, rule: str | None = None) -> dict[str, DutyRecord]:
    """What is recorded about every duty (or one), with its filings oldest first."""
    with store.read() as session:
        query = select(m.Duty).where(m.Duty.incident_id == store.incident)
        filings = select(m.DutyFiling).where(m.DutyFiling.incident_id == store.incident)
        if rule is not None:
            query = query.where(m.Duty.rule == rule)
            filings = filings.where(m.DutyFiling.rule == rule)
        by_rule: dict[str, list[Filing]] = {}
        for f in session.scalars(filings.order_by(m.DutyFiling.filed_at, m.DutyFiling.id)):
            by_rule.setdefault(f.rule, []).append(
                Filing(
                    f.id,
                    f.rule,
                    Phase(f.phase),
                    f.filed_at,
                    f.channel,
                    f.reference,
                    f.note,
                    f.recorded_by,
                    f.recorded_at,
                )
            )
        return {
            d.rule: DutyRecord(
                d.rule,
                DutyState(d.state),
                d.owner,
                d.rationale,
                d.delay_reason,
                d.updated_by,
                d.updated_at,
                tuple(by_rule.get(d.rule, ())),
            )
            for d in session.scalars(query)
        }


def tables(store: Store) -> tuple[dict[str, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Both tables as the audit payloads describe them (for the replay's comparison)."""
    with store.read() as session:
        duties = {d.rule: duty_payload(d) for d in session.scalars(select(m.Duty))}
        filings = {f.id: filing_payload(f) for f in session.scalars(select(m.DutyFiling))}
    return duties, filings
