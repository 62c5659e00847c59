"""What each regime's report says and in which order, in the regime's own terms: GDPR Art. 33
(the supervisory authority: the contents of Art. 33(3), reasons for a delay, phases), GDPR
Art. 34 (the communication to the people affected), the UK ICO's breach report form (its six
parts), and a general layout for every other regime. Pure: facts in, sections out.

Everything a person typed (titles, measures, rationales) travels as text and is escaped by
:mod:`breachdesk.report.authority`. Every category is shown by its plain label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from breachdesk.domain.duties import Filing
from breachdesk.report.authority import AuthorityReport, Section


@dataclass(frozen=True)
class Facts:
    """Everything a report may say about one regime's notification, gathered once."""

    regime: str
    title: str  # the rule's title
    jurisdiction: str
    notify: str
    citations: tuple[str, ...]
    content: tuple[str, ...]
    outcome: str
    reason: str
    deadline: str  # "2026-12-03T15:00:00Z (2026-12-03 17:00 EET)" or "without undue delay"
    late: bool  # past the deadline (unfiled), or filed after it
    duty_state: str
    filings: tuple[Filing, ...]
    delay_reason: str
    incident: str
    vendor: str
    dataset_arrived: str
    awareness: tuple[tuple[str, str], ...]
    controller: str  # "" when not recorded
    dpo: str
    contact: str
    event_first: str
    event_last: str
    people: int  # affected people in the jurisdiction
    named: int  # of those, people whose exposed data the regime names
    affected_total: int
    by_country: tuple[tuple[str, int], ...]  # ("Germany (DE)", n), most first
    records_read: int
    records_rejected: int
    categories: tuple[tuple[str, int], ...]  # (plain label, people), most first
    technical_data: bool  # non-personal event data was in the dataset too
    absent: tuple[str, ...]
    present: tuple[str, ...]
    consequences: tuple[str, ...]
    measures: tuple[str, ...]
    measures_hint: str  # what to do when none were recorded as measures
    decisions: tuple[str, ...]
    notices: tuple[str, ...]  # "1,234 notices to people affected: 1,200 sent, ..."
    other_duties: tuple[str, ...]
    prepared: str
    audit_head: str
    notice: str  # not legal advice
    missing: tuple[str, ...] = field(default=())  # details still to record, each with its command
    uncovered: tuple[str, ...] = field(default=())  # "Mexico (MX): 12 people (no rule ...)"


NOT_RECORDED = "not recorded: breachdesk incident set --{option} ..."


def _lead(f: Facts, addressed: str) -> list[str]:
    status = f.duty_state.replace("_", " ")
    if f.filings:
        first = f.filings[0]
        status += f" (notified {_day(first.filed_at)} via {first.channel}, ref. {first.reference})"
    lines = [
        f"Regime: {f.regime} ({f.jurisdiction}); to: {addressed}",
        f"Assessment: {f.outcome.replace('_', ' ')}: {f.reason}",
        f"Deadline: {f.deadline}",
        f"Status: {status}",
        f"Prepared {f.prepared} by breachdesk",
        f"Audit log head: {f.audit_head} (entries and hash of the last one)",
    ]
    if f.missing:
        lines.insert(0, "DRAFT: still to record before filing: " + "; ".join(f.missing))
    return lines


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _controller(f: Facts) -> list[str]:
    contact = f.contact or NOT_RECORDED.format(option="contact-email")
    return [
        f"Controller: {f.controller or NOT_RECORDED.format(option='controller')}",
        f"Data protection officer: {f.dpo or NOT_RECORDED.format(option='dpo')}",
        f"Contact point for more information: {contact}",
    ]


def _what_happened(f: Facts) -> list[str]:
    window = (
        f"Records in the dataset span {f.event_first} to {f.event_last} (UTC): the period of "
        "the personal data concerned."
        if f.event_first
        else "The dataset's time window is not known (no event times in the export)."
    )
    aware = ", ".join(f"{party}: {at}" for party, at in f.awareness) or "not recorded"
    arrived = f" The dataset reached us on {f.dataset_arrived}." if f.dataset_arrived else ""
    return [
        f"A third-party processor ({f.vendor or 'vendor not recorded'}) suffered a breach of "
        "its systems, and a dataset of its records about our users was exported from them."
        + arrived,
        window,
        f"Who became aware when: {aware}.",
    ]


def _numbers(f: Facts) -> list[str]:
    return [
        f"Data subjects concerned in {f.jurisdiction}: about {f.people:,} ({f.named:,} whose "
        f"exposed data this regime names); in all countries: {f.affected_total:,}.",
    ]


def _records(f: Facts) -> list[str]:
    rejected = (
        f" {f.records_rejected:,} further records could not be read and were not scanned."
        if f.records_rejected
        else ""
    )
    technical = (
        " The dataset also holds technical event data (times, event names), which is not "
        "about a person."
        if f.technical_data
        else ""
    )
    return [f"Records in the dataset: about {f.records_read:,}.{rejected}{technical}"]


def _categories(f: Facts) -> list[str]:
    return [f"{label}: {n:,} {'person' if n == 1 else 'people'}" for label, n in f.categories]


def _measures(f: Facts) -> list[str]:
    return list(f.measures) or [f"none recorded as measures yet: {f.measures_hint}"]


def _delay(f: Facts) -> Section | None:
    if not f.late:
        return None
    return Section(
        "Reasons for the delay (Art. 33(1))",
        [
            f.delay_reason
            or "NOT RECORDED, and required: breachdesk duty delay-reason WORKSPACE "
            f"{f.regime} --reason ..."
        ],
    )


def _phases(f: Facts) -> Section:
    filed = [
        f"{x.phase.value.replace('_', '-')}: {_day(x.filed_at)} via {x.channel}, "
        f"reference {x.reference}" + (f" ({x.note})" if x.note else "")
        for x in f.filings
    ]
    return Section(
        "Information provided in phases (Art. 33(4))",
        ["Where not all the information is available yet, it follows without undue delay."],
        filed or ["nothing filed yet"],
    )


def _sources(f: Facts) -> Section:
    return Section("Sources", [f.notice], list(f.citations))


def _uncovered(f: Facts) -> Section:
    return Section(
        "Annex for the controller: affected people no rule covers",
        ["Places where affected people live that no notification rule of breachdesk covers "
         "(to be assessed by people):"],
        list(f.uncovered) or ["none: every affected person is under at least one rule"],
    )  # fmt: skip


def art33(f: Facts) -> AuthorityReport:
    sections = [
        Section("Controller and data protection officer (Art. 33(3)(b))", _controller(f)),
        Section("Nature of the personal data breach (Art. 33(3)(a))", _what_happened(f)),
        Section(
            "Categories and approximate number of data subjects concerned (Art. 33(3)(a))",
            _numbers(f),
            [f"{place}: {n:,}" for place, n in f.by_country],
        ),
        Section(
            "Categories and approximate number of personal data records concerned (Art. 33(3)(a))",
            _records(f),
            _categories(f),
        ),
        Section("What the dataset did not contain", [], list(f.absent) or ["every kind was found"]),
        Section("Sensitive values found", [], list(f.present) or ["none"]),
        Section(
            "Likely consequences of the personal data breach (Art. 33(3)(c))",
            [],
            list(f.consequences) or ["none identified"],
        ),
        Section(
            "Measures taken or proposed to address the breach and mitigate its possible "
            "adverse effects (Art. 33(3)(d))",
            [],
            _measures(f),
        ),
    ]
    delay = _delay(f)
    if delay:
        sections.append(delay)
    sections += [
        _phases(f),
        Section("Decisions recorded", [], list(f.decisions) or ["none"]),
        _uncovered(f),
        _sources(f),
    ]
    return AuthorityReport(
        f"Notification of a personal data breach to the supervisory authority (GDPR Art. 33) — "
        f"{f.incident}",
        _lead(f, f.notify),
        sections,
    )


def art34(f: Facts) -> AuthorityReport:
    sections = [
        Section(
            "Nature of the breach, in clear and plain language (Art. 34(2))",
            [
                "A company we use to understand how our product is used ("
                + (f.vendor or "a vendor")
                + ") "
                + "had its systems breached, and a copy of its records about you was taken.",
                "The records held: " + (", ".join(label for label, _ in f.categories) or "—") + ".",
            ],
        ),
        Section(
            "Name and contact details of the data protection officer or other contact point "
            "(Art. 34(2), 33(3)(b))",
            _controller(f),
        ),
        Section(
            "Likely consequences (Art. 34(2), 33(3)(c))",
            [],
            list(f.consequences) or ["none identified"],
        ),
        Section(
            "Measures taken or proposed, including to mitigate possible adverse effects "
            "(Art. 34(2), 33(3)(d))",
            [],
            _measures(f),
        ),
        Section(
            "Who is told, and how",
            _numbers(f),
            list(f.notices) or ["no notice planned yet: breachdesk notify plan"],
        ),
        Section(
            "Exceptions considered (Art. 34(3))",
            ["Decisions recorded on this communication:"],
            [d for d in f.decisions if f.regime in d] or ["none recorded"],
        ),
        _sources(f),
    ]
    return AuthorityReport(
        f"Communication of a personal data breach to the data subjects (GDPR Art. 34) — "
        f"{f.incident}",
        _lead(f, f.notify),
        sections,
    )


def ico(f: Facts) -> AuthorityReport:
    kind = "follow-up report" if f.filings else "initial report"
    about = [f"This is an {kind}."] + (
        [f"Our reference from the ICO: {f.filings[0].reference}"] if f.filings else []
    )
    if f.late:
        about.append(
            "Reasons this report is later than 72 hours: "
            + (f.delay_reason or "NOT RECORDED, and required: breachdesk duty delay-reason")
        )
    sections = [
        Section("Part 1: About your report", about),
        Section("Part 2: About the breach", _what_happened(f)),
        Section(
            "Part 3: Personal data and the people affected",
            _numbers(f) + _records(f),
            _categories(f) + [f"{place}: {n:,}" for place, n in f.by_country],
        ),
        Section(
            "Part 4: Potential consequences",
            [],
            list(f.consequences) or ["none identified"],
        ),
        Section(
            "Part 5: Taking action",
            ["Actions taken or proposed:"],
            _measures(f)
            + list(f.notices)
            + ["Other regulators and duties: " + ("; ".join(f.other_duties) or "none")],
        ),
        Section("Part 6: About you", _controller(f)),
        Section("What the dataset did not contain", [], list(f.absent) or ["every kind was found"]),
        _uncovered(f),
        _sources(f),
    ]
    return AuthorityReport(
        f"Personal data breach report to the ICO (UK GDPR Art. 33) — {f.incident}",
        _lead(f, f.notify),
        sections,
    )


def general(f: Facts) -> AuthorityReport:
    sections = [
        Section("Organisation and contact point", _controller(f)),
        Section("Nature of the breach", _what_happened(f)),
        Section(
            "People affected",
            _numbers(f),
            [f"{place}: {n:,}" for place, n in f.by_country],
        ),
        Section("Information concerned", _records(f), _categories(f)),
        Section("What the dataset did not contain", [], list(f.absent) or ["every kind was found"]),
        Section("Likely consequences", [], list(f.consequences) or ["none identified"]),
        Section("Measures taken and proposed", [], _measures(f)),
        Section("What this regime asks the notice to contain", [], list(f.content)),
    ]
    if f.late:
        sections.append(
            Section(
                "Reasons for the delay",
                [f.delay_reason or "NOT RECORDED: breachdesk duty delay-reason"],
            )
        )
    sections += [_uncovered(f), _sources(f)]
    return AuthorityReport(f"{f.title} — {f.incident}", _lead(f, f.notify), sections)


# regime id -> its layout; a regime without one gets the general layout
LAYOUTS: dict[str, Callable[[Facts], AuthorityReport]] = {
    "gdpr-art33": art33,
    "gdpr-art34": art34,
    "uk-gdpr": ico,
}


def layout(facts: Facts) -> AuthorityReport:
    return LAYOUTS.get(facts.regime, general)(facts)
