"""The duties use case: every regime's assessment joined with what was done about it (its
state, owner, filings), sorted so that what needs doing now comes first; and the moves a
person makes on a duty (start, done, follow-up, not required, reopen, reasons for a delay)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from breachdesk.domain.duties import DutyRecord, DutyState, Filing, Phase, sort_key
from breachdesk.domain.incident import parse_instant
from breachdesk.errors import InputError
from breachdesk.obligations.coverage import Uncovered
from breachdesk.obligations.evaluate import ACTIONABLE, NOT_LEGAL_ADVICE, ObligationResult
from breachdesk.obligations.rules import builtin_rules
from breachdesk.services.obligations import ObligationsReport, obligations
from breachdesk.services.workspace import Workspace
from breachdesk.store import duties as store_duties


@dataclass(frozen=True)
class Duty:
    """One regime's duty: its assessment, where it stands and whether it is overdue."""

    result: ObligationResult
    state: DutyState
    recorded: bool  # False: no person has moved it yet (its state is the assessment's)
    owner: str = ""
    rationale: str = ""
    delay_reason: str = ""
    filings: tuple[Filing, ...] = ()
    overdue: bool = False  # still to do and past its deadline
    late: bool = False  # filed after its deadline, or overdue now

    @property
    def rule(self) -> str:
        return self.result.rule

    @property
    def deadline(self) -> datetime | None:
        return self.result.deadline_utc


@dataclass(frozen=True)
class DutyList:
    duties: list[Duty]
    timezone: str
    not_covered: list[Uncovered] = field(default_factory=list)
    notice: str = NOT_LEGAL_ADVICE

    def get(self, rule: str) -> Duty:
        for duty in self.duties:
            if duty.rule == rule:
                return duty
        raise InputError(f"no regime {rule!r}; known: {', '.join(sorted(self.ids()))}")

    def ids(self) -> list[str]:
        return [d.rule for d in self.duties]

    @property
    def overdue(self) -> list[Duty]:
        return [d for d in self.duties if d.overdue]


def join(
    report: ObligationsReport, recorded: dict[str, DutyRecord], now: datetime | None = None
) -> DutyList:
    """The assessment and the record side by side, sorted: overdue first, then by deadline."""
    now = now or datetime.now(UTC)
    duties = []
    for r in report.results:
        rec = recorded.get(r.rule)
        actionable = r.outcome in ACTIONABLE
        if rec is not None:
            state = rec.state
        else:
            state = DutyState.OPEN if actionable or r.outcome == "record_only" else (
                DutyState.NOT_REQUIRED
            )  # fmt: skip
        waiting = state in (DutyState.OPEN, DutyState.IN_PROGRESS) and actionable
        due = r.deadline_utc
        overdue = waiting and due is not None and due < now
        first = rec.filings[0].filed_at if rec and rec.filings else None
        late = overdue or (due is not None and first is not None and first > due)
        duties.append(
            Duty(
                r,
                state,
                rec is not None,
                rec.owner if rec else "",
                rec.rationale if rec else "",
                rec.delay_reason if rec else "",
                rec.filings if rec else (),
                overdue,
                late,
            )
        )
    duties.sort(key=lambda d: sort_key(d.state, d.result.outcome in ACTIONABLE, d.deadline,
                                       now, d.rule))  # fmt: skip
    return DutyList(duties, report.timezone, report.not_covered, report.notice)


def duty_list(ws: Workspace, now: datetime | None = None) -> DutyList:
    return join(obligations(ws), store_duties.records(ws.store), now)


def _known(rule: str) -> str:
    ids = {r.id for r in builtin_rules()}
    if rule not in ids:
        raise InputError(f"no regime {rule!r}; known: {', '.join(sorted(ids))}")
    return rule


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InputError(f"{what} is required and may not be empty")
    return text


def start(ws: Workspace, rule: str, owner: str, actor: str) -> DutyRecord:
    """Someone is working on the duty (``owner``: who)."""
    return store_duties.change(
        ws.store, _known(rule), "start", _text(actor, "who"), owner=_text(owner, "the owner")
    )


def done(
    ws: Workspace,
    rule: str,
    filed_at: str,
    channel: str,
    reference: str,
    actor: str,
    note: str = "",
    delay_reason: str | None = None,
) -> DutyRecord:
    """The duty was filed. Filed after its deadline, the reasons for the delay are required
    (GDPR Art. 33(1): a late notification is accompanied by them)."""
    _known(rule)
    when = parse_instant(filed_at, "filed at", past=True)
    duty = duty_list(ws).get(rule)
    reason = (delay_reason or "").strip() or duty.delay_reason
    if duty.deadline is not None and when > duty.deadline and not reason:
        raise InputError(
            f"duty {rule}: filed after its deadline ({duty.result.deadline_local}): give the "
            "reasons for the delay (--delay-reason), which a late notification must carry"
        )
    filing = (Phase.NOTIFICATION, when, _text(channel, "the channel"),
              _text(reference, "the reference"), note.strip())  # fmt: skip
    return store_duties.change(
        ws.store, rule, "done", _text(actor, "who"), filing=filing,
        delay_reason=(delay_reason or "").strip() or None,
    )  # fmt: skip


def follow_up(
    ws: Workspace,
    rule: str,
    filed_at: str,
    channel: str,
    reference: str,
    actor: str,
    note: str = "",
    final: bool = False,
) -> DutyRecord:
    """Further information filed for a done duty (GDPR Art. 33(4): in phases)."""
    when = parse_instant(filed_at, "filed at", past=True)
    filing = (Phase.FINAL if final else Phase.FOLLOW_UP, when, _text(channel, "the channel"),
              _text(reference, "the reference"), note.strip())  # fmt: skip
    return store_duties.change(ws.store, _known(rule), "follow_up", _text(actor, "who"),
                               filing=filing)  # fmt: skip


def not_required(ws: Workspace, rule: str, rationale: str, actor: str) -> DutyRecord:
    return store_duties.change(
        ws.store, _known(rule), "not_required", _text(actor, "who"),
        rationale=_text(rationale, "the rationale"),
    )  # fmt: skip


def reopen(ws: Workspace, rule: str, rationale: str, actor: str) -> DutyRecord:
    return store_duties.change(
        ws.store, _known(rule), "reopen", _text(actor, "who"),
        rationale=_text(rationale, "the reason for reopening"),
    )  # fmt: skip


def set_delay_reason(ws: Workspace, rule: str, reason: str, actor: str) -> DutyRecord:
    """Record why the duty is (or will be) late: the report for the authority carries it."""
    return store_duties.change(
        ws.store, _known(rule), "delay_reason", _text(actor, "who"),
        delay_reason=_text(reason, "the reasons for the delay"),
    )  # fmt: skip


def move_duty(
    ws: Workspace,
    rule: str,
    action: str,
    actor: str,
    *,
    owner: str = "",
    text: str = "",
    filed_at: str = "",
    channel: str = "",
    reference: str = "",
) -> DutyRecord:
    """One move named as a form names it (the dashboard): ``text`` is the rationale, the
    reasons for a delay or a note, as the move needs."""
    if action == "start":
        return start(ws, rule, owner, actor)
    if action == "done":
        return done(ws, rule, filed_at, channel, reference, actor, delay_reason=text or None)
    if action in ("follow_up", "final"):
        return follow_up(ws, rule, filed_at, channel, reference, actor, final=action == "final")
    if action == "not_required":
        return not_required(ws, rule, text, actor)
    if action == "reopen":
        return reopen(ws, rule, text, actor)
    if action == "delay_reason":
        return set_delay_reason(ws, rule, text, actor)
    raise InputError(f"no duty action {action!r}")
