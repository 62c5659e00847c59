"""What report.html says first, on one screen, to a person who has to decide: the incident,
its dates, the duties with their deadlines and what to do next. Plain records: assembled by
:mod:`breachdesk.services.briefing` when assess writes the report, rendered by
:mod:`breachdesk.report.html`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DutyLine:
    title: str
    jurisdiction: str
    outcome: str  # as the obligations service says it (required, likely, …)
    people: int  # affected people the law names
    deadline: str  # local time with its zone; "" when none can be computed yet
    overdue: bool
    note: str  # why there is no deadline, or the reason for the outcome
    state: str = "open"  # open, in progress, done (the duty's lifecycle)


@dataclass(frozen=True)
class Briefing:
    title: str
    vendor: str
    timezone: str
    run: int
    written: str  # when the report was written (local time)
    dates: tuple[tuple[str, str], ...]  # (what, when): the incident's dates, as recorded
    duties: tuple[DutyLine, ...]  # those to act on, overdue first, then by deadline
    other_duties: int  # regimes that do not apply (not required, record only)
    duties_note: str  # when the deadlines cannot be computed yet: what to record
    steps: tuple[str, ...]  # what to do next, in order
    changes: tuple[str, ...] = ()  # against the run replaced
    org_names: Mapping[str, str] = field(default_factory=dict)  # org id -> name (directory)
    not_covered: tuple[str, ...] = ()  # places with affected people no rule covers
