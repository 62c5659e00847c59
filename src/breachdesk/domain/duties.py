"""Duties with a lifecycle: what was done about each regime's obligation. Pure: the states,
the moves between them, and how a duty sorts on a list of what needs doing now.

    open ──start──▶ in_progress ──done (a filing)──▶ done ──follow-up──▶ done
      │                 │
      └─not-required────┴──▶ not_required          reopen: any state ──▶ open

A duty is *done* when it was filed: on a date, through a channel, under the authority's
reference. GDPR Art. 33(4) lets the information come in phases, so a done duty takes
follow-up filings (the last may be marked final). *Not required* needs its rationale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from breachdesk.errors import InputError


class DutyState(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_REQUIRED = "not_required"


class Phase(StrEnum):
    NOTIFICATION = "notification"
    FOLLOW_UP = "follow_up"
    FINAL = "final"


# the moves a person can make, and the states each may start from
MOVES: dict[str, tuple[DutyState, frozenset[DutyState]]] = {
    "start": (DutyState.IN_PROGRESS, frozenset({DutyState.OPEN, DutyState.IN_PROGRESS})),
    "done": (DutyState.DONE, frozenset({DutyState.OPEN, DutyState.IN_PROGRESS})),
    "follow_up": (DutyState.DONE, frozenset({DutyState.DONE})),
    "not_required": (DutyState.NOT_REQUIRED, frozenset({DutyState.OPEN, DutyState.IN_PROGRESS})),
    "reopen": (
        DutyState.OPEN,
        frozenset({DutyState.IN_PROGRESS, DutyState.DONE, DutyState.NOT_REQUIRED}),
    ),
}

_HINT = {
    DutyState.DONE: "it was filed; add a follow-up (breachdesk duty follow-up) or reopen it",
    DutyState.NOT_REQUIRED: "it was recorded as not required; reopen it first",
    DutyState.OPEN: "it is open; record the filing first (breachdesk duty done)",
    DutyState.IN_PROGRESS: "it is in progress",
}


def move(rule: str, current: DutyState, action: str) -> DutyState:
    """The state after ``action``, or an error saying why it cannot be made from here."""
    target, allowed = MOVES[action]
    if current not in allowed:
        what = action.replace("_", "-")
        raise InputError(f"duty {rule}: cannot {what}: {_HINT[current]}")
    return target


@dataclass(frozen=True, slots=True)
class Filing:
    id: int
    rule: str
    phase: Phase
    filed_at: datetime
    channel: str
    reference: str
    note: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class DutyRecord:
    """What the store holds about one regime's duty."""

    rule: str
    state: DutyState
    owner: str
    rationale: str
    delay_reason: str
    updated_by: str
    updated_at: datetime
    filings: tuple[Filing, ...] = ()


def sort_key(
    state: DutyState, actionable: bool, deadline: datetime | None, now: datetime, rule: str
) -> tuple[int, float, str]:
    """Overdue first (most overdue first), then open duties by deadline, then those "without
    undue delay", then the closed ones."""
    waiting = state in (DutyState.OPEN, DutyState.IN_PROGRESS) and actionable
    if waiting and deadline is not None:
        return (0 if deadline < now else 1, deadline.timestamp(), rule)
    if waiting:
        return (2, 0.0, rule)
    if state in (DutyState.OPEN, DutyState.IN_PROGRESS):
        return (3, 0.0, rule)
    return (4 if state is DutyState.DONE else 5, 0.0, rule)
