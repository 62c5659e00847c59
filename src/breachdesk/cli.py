"""The ``breachdesk`` command: parse, call one service, render. Nothing else lives here.

Exit codes: 0 done, nothing sensitive found · 1 done, sensitive findings present ·
2 bad input or usage · 3 internal error.
"""

from __future__ import annotations

import getpass
import logging
import os
import shlex
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from breachdesk.errors import EXIT_INTERNAL, BreachdeskError

EXIT_CODES = (
    "Exit codes: 0 done, nothing sensitive found; 1 done, sensitive findings present; "
    "2 bad input or usage; 3 internal error."
)

app = typer.Typer(
    name="breachdesk",
    help=f"Respond to a breached vendor's leaked export. {EXIT_CODES}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

STAGES = {
    "directory": "Loading the directory",
    "scan": "Reading and scanning records",
    "inventory": "Classifying fields",
    "match": "Matching to the directory",
    "outputs": "Writing the workspace",
}


class _Bars:
    """Rich progress bars on standard error for the stages a service reports."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=not enabled,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Callable[[str, int, int | None], None]:
        self.progress.__enter__()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(STAGES.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


def _version(value: bool) -> None:
    if value:
        from breachdesk import __version__

        out.print(f"breachdesk {__version__}", markup=False, highlight=False)
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Respond to a breached vendor's leaked export."""


def _fail(exc: BaseException) -> NoReturn:
    if isinstance(exc, BreachdeskError):
        _line(f"breachdesk: error: {exc}")
        raise typer.Exit(exc.exit_code)
    if os.environ.get("BREACHDESK_DEBUG"):
        traceback.print_exc()
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    # the message of an unexpected error may hold a value from the export: show its type only
    _line(
        f"breachdesk: internal error: {type(exc).__name__}{place} "
        "(set BREACHDESK_DEBUG=1 for the traceback)"
    )
    raise typer.Exit(EXIT_INTERNAL)


def _logging(verbose: bool) -> None:
    if verbose:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="breachdesk: %(name)s: %(message)s"
        )


def _run(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # every error leaves through _fail, mapped to an exit code
        _fail(exc)


def _in(
    path: Path,
    call: Callable[[Any], Any],
    store: str | None = None,
    require_finished: bool = True,
) -> Any:
    """Open the workspace once, call the service with it, close it; errors as in _run."""
    from breachdesk.services.workspace import Workspace

    def go() -> Any:
        with Workspace.open(path, store, require_finished=require_finished) as ws:
            return call(ws)

    return _run(go)


def _print_json(value: Any) -> None:
    """``--json`` output: indented JSON on standard output (dataclasses and times included)."""
    sys.stdout.write(orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2).decode() + "\n")


def _line(text: str) -> None:
    """One unwrapped line on standard error (errors are one line, whatever the width)."""
    sys.stderr.write(text.replace("\n", " ") + "\n")
    sys.stderr.flush()


def _summary(impact: dict[str, Any], workspace: Path) -> None:
    table = Table(title="breachdesk assess", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rec = impact["records"]
    table.add_row("lines", f"{rec['lines']:,}")
    table.add_row("records read", f"{rec['read']:,}")
    table.add_row("records rejected", f"{rec['rejected']:,}")
    table.add_row("blank lines", f"{rec.get('blank', 0):,}")
    table.add_row("anonymous records", f"{rec['anonymous']:,}")
    if impact["affected"] is not None:
        aff = impact["affected"]
        table.add_row("unmatched records", f"{rec['unmatched_records']:,}")
        table.add_row("affected users", f"{aff['users']:,}")
        table.add_row("affected organizations", f"{aff['organizations']:,}")
        table.add_row("admins to notify", f"{aff['admins_to_notify']:,}")
        table.add_row("users without MFA", f"{aff['users_without_mfa']:,}")
        table.add_row("users with MFA unknown", f"{aff['users_mfa_unknown']:,}")
        table.add_row("unmatched identities", f"{aff['unmatched_identities']:,}")
    table.add_row("fields", f"{len(impact['fields']):,}")
    table.add_row("values scanned", f"{impact['scanned']['values']:,}")
    out.print(table)
    findings = Table(title="findings", title_justify="left")
    findings.add_column("kind")
    findings.add_column("count", justify="right")
    findings.add_column("distinct", justify="right")
    findings.add_column("statement")
    for f in impact["findings"]:
        style = "bold red" if f["count"] and f["kind"] != "email_in_url" else None
        findings.add_row(
            f["kind"], f"{f['count']:,}", f"{f['distinct_values']:,}", f["statement"], style=style
        )
    out.print(findings)
    out.print(f"report: {workspace / 'report.html'}", markup=False, highlight=False, soft_wrap=True)


class EngineName(StrEnum):
    EMBEDDED = "embedded"
    SPARK = "spark"


@app.command()
def assess(
    exports: Annotated[
        list[str],
        typer.Argument(
            help="Export files or folders (plain, gzip or zip); with --engine spark also "
            "Hadoop URIs (s3a://, gs://, abfss://, hdfs://, file://).",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="The incident workspace to write (created if needed).")
    ],
    directory: Annotated[
        str | None,
        typer.Option(
            help="Folder with users, organizations and memberships (.csv or .parquet); with "
            "--engine spark also at a Hadoop URI, or table:NAMESPACE for three catalog tables.",
            show_default=False,
        ),
    ] = None,
    allow_duplicate_emails: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate-emails",
            help="Match an email shared by several directory users to all of them.",
        ),
    ] = False,
    reveal: Annotated[
        bool,
        typer.Option("--reveal", help="Add raw identities to unmatched.csv (personal data)."),
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Scan processes (default: one per core).", min=1)
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Assess again into a workspace that already holds an incident: its run in "
            "force stays under runs/N, notices are kept, what changed goes to changes.csv.",
        ),
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print impact.json instead of the summary.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each stage and its time (no values).")
    ] = False,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="A mapping (TOML) naming the identity fields of a JSON Lines or CSV export "
            "of a vendor breachdesk has no reader for."
        ),
    ] = None,
    engine: Annotated[
        EngineName,
        typer.Option(help="embedded (DuckDB, this machine) or spark (the spark extra)."),
    ] = EngineName.EMBEDDED,
    master: Annotated[
        str | None,
        typer.Option(help="Spark master URL (default: spark-submit's, else local[*])."),
    ] = None,
) -> None:
    """Inventory, scan and (with --directory) match a vendor's export into a workspace.

    A workspace that already holds an incident is refused, untouched, unless --replace.

    Exit codes: 0 done, nothing sensitive found; 1 done, sensitive findings present;
    2 bad input or usage; 3 internal error.
    """
    from breachdesk.services.assess import AssessRequest
    from breachdesk.services.assess import assess as run_assess

    _logging(verbose)
    from breachdesk.engine.spark.directory import is_directory_location
    from breachdesk.engine.spark.hadoop import is_uri

    elsewhere = directory is not None and is_directory_location(directory)
    request = AssessRequest(
        exports=[Path(e) for e in exports if not is_uri(e)],
        locations=[e for e in exports if is_uri(e)],
        out=out_dir,
        directory=Path(directory) if directory is not None and not elsewhere else None,
        directory_location=directory if elsewhere else None,
        allow_duplicate_emails=allow_duplicate_emails,
        reveal=reveal,
        workers=workers,
        command=shlex.join(["breachdesk", *sys.argv[1:]]),
        mapping=mapping,
        replace=replace,
        engine=engine.value,
        master=master,
    )
    with _Bars(enabled=not json_out and err.is_terminal) as progress:
        result = _run(lambda: run_assess(request, progress))
    if json_out:
        _print_json(result.impact)
    else:
        _summary(result.impact, result.workspace)
        for note in result.notes:
            _line(f"note: {note}")
        for line in result.changes.lines() if result.changes else ():
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


class DemoVendor(StrEnum):
    MIXPANEL = "mixpanel"
    SEGMENT = "segment"
    AMPLITUDE = "amplitude"
    POSTHOG = "posthog"
    GA4 = "ga4"


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the demo incident.")] = Path(
        "breachdesk-demo"
    ),
    users: Annotated[int, typer.Option(help="Directory users.", min=50)] = 30_000,
    events: Annotated[int, typer.Option(help="Events in the event export.", min=100)] = 300_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same incident).")] = 7,
    vendor: Annotated[
        DemoVendor,
        typer.Option(help="Whose export to write, in that vendor's documented files."),
    ] = DemoVendor.MIXPANEL,
    notify: Annotated[
        bool,
        typer.Option(help="Also plan, preview and send the notices to a local SMTP sink."),
    ] = True,
) -> None:
    """Build a realistic demo incident (export, directory, ground truth), assess it, then
    plan, preview and send its notices to an SMTP server on loopback."""
    from breachdesk.services.demo import DemoRequest, run_demo

    with _Bars(enabled=err.is_terminal) as progress:
        request = DemoRequest(out_dir, users, events, seed, vendor=vendor.value)
        result = _run(lambda: run_demo(request, progress))
    _summary(result.assess.impact, result.assess.workspace)
    out.print(
        f"demo: export in {result.export_dir}, directory in {result.directory_dir}, "
        f"ground truth in {result.truth_path}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        "demo: the planted secrets above are expected; assess alone would exit 1 for them.",
        markup=False,
        soft_wrap=True,
    )
    if vendor is DemoVendor.MIXPANEL:  # the demo's vendors.yaml is the Mixpanel company's
        from breachdesk.cli_vendors import render_blast, render_switch
        from breachdesk.services.demo import demo_vendors

        found = _run(lambda: demo_vendors(out_dir))
        out.print(f"demo: the vendors of {found.inventory}, by blast radius", markup=False)
        render_blast(found.blast, what_if=True)
        render_switch(found.cut, found.inventory)
    if not notify:
        return
    from breachdesk.services.demo import demo_notify

    bars, show, start = _send_bars(err.is_terminal)
    with bars:
        sent = _run(lambda: demo_notify(out_dir, progress=show, on_start=start))
    table = Table(title="notice previews (linted)", title_justify="left")
    for column in ("reference", "kind", "language", "lint", "file"):
        table.add_column(column)
    for p in sent.previews:
        table.add_row(p.reference, p.kind, p.language, "; ".join(p.problems) or "passes",
                      str(p.eml))  # fmt: skip
    out.print(table)
    _print_send(sent.sent, live=True)
    _print_status(sent.status)
    for what, eml, check in sent.checks:
        out.print(f"phishing check of {what} ({eml}): {check.verdict}", markup=False,
                  highlight=False, soft_wrap=True)  # fmt: skip
        for reason in check.reasons:
            out.print(f"  - {reason}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"demo: every message, DKIM-signed, is in the Maildir {sent.maildir}; "
        f"next, breachdesk obligations {result.assess.workspace}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"demo: the dashboard: python3 dev.py run serve {result.assess.workspace} "
        f"(sign in with {sent.login_file}); the public check: "
        f"python3 dev.py run verify serve {sent.public}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


rules_app = typer.Typer(help="The detection rules: list them, test a value against them.")
app.add_typer(rules_app, name="rules")


@rules_app.command("list")
def rules_list(
    workspace: Annotated[
        Path | None, typer.Option(help="Include the user rule files named in its settings.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every rule in force: id, finding kind, validator, where it is defined."""
    from breachdesk.services.rules import list_rules

    found = _run(lambda: list_rules(workspace))
    if json_out:
        _print_json([r.__dict__ for r in found])
        return
    table = Table(title=f"{len(found)} rules", title_justify="left")
    for column in ("rule", "kind", "validator", "description"):
        table.add_column(column)
    for r in found:
        table.add_row(r.id, r.kind, r.validator or "—", r.description)
    out.print(table)


@rules_app.command("test")
def rules_test(
    field: Annotated[str, typer.Option(help="The field name the value would sit under.")] = "value",
    workspace: Annotated[
        Path | None, typer.Option(help="Include the user rule files named in its settings.")
    ] = None,
) -> None:
    """Test a value read from standard input (never the command line, where shell history
    keeps it); findings are printed masked. Exit 1 when something sensitive is found."""
    from breachdesk.services.rules import test_value
    from breachdesk.taxonomy import FindingKind

    if sys.stdin.isatty():
        err.print("paste the value, then press Ctrl-D", markup=False)
    hits = _run(lambda: test_value(sys.stdin.read(), field, workspace))
    if not hits:
        out.print("no finding", markup=False)
        raise typer.Exit(0)
    for hit in hits:
        detail = f" {orjson.dumps(hit.detail).decode()}" if hit.detail else ""
        out.print(f"{hit.kind} {hit.rule} {hit.masked}{detail}", markup=False, highlight=False)
    raise typer.Exit(1 if any(FindingKind(h.kind).sensitive for h in hits) else 0)


incident_app = typer.Typer(help="The incident record: details, timeline, tasks, decisions.")
app.add_typer(incident_app, name="incident")
WorkspaceArg = Annotated[Path, typer.Argument(help="The incident workspace (made by assess).")]
By = Annotated[str, typer.Option("--by", help="Who is making this change.")]


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes").replace("+00:00", "Z") if value else "—"


@incident_app.command("show")
def incident_show(
    workspace: WorkspaceArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The incident's details, who became aware when, open tasks."""
    from breachdesk.services import incident

    view = _in(workspace, incident.show)
    if json_out:
        _print_json(view)
        return
    table = Table(
        title=f"incident {view.id}: {view.title}", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("vendor", view.vendor or "—")
    table.add_row("time zone", view.timezone)
    table.add_row("dataset arrived", _when(view.dataset_arrived_at))
    for aware in view.awareness:
        table.add_row(f"{aware.party} aware", _when(aware.aware_at))
    table.add_row("company", view.company or "—")
    table.add_row("controller", view.controller or "—")
    table.add_row("DPO", view.dpo or "—")
    table.add_row("contact email", view.contact_email or "—")
    table.add_row("official domains", ", ".join(view.official_domains) or "—")
    table.add_row("sender", view.sender or "—")
    table.add_row("verify URL", view.verify_url or "—")
    window = (view.vendor_incident_start, view.vendor_incident_end)
    table.add_row(
        "vendor's incident", " to ".join(_when(w) for w in window) if any(window) else "—"
    )
    breached = {None: "not recorded", True: "yes", False: "no"}[view.own_systems_breached]
    table.add_row("own systems breached", breached)
    for measure in view.measures:
        label = f"measure ({measure.language})" if measure.language else "measure"
        table.add_row(label, f"{_when(measure.at)} {measure.summary}")
    table.add_row("decisions", str(view.decisions))
    for cut in view.vendor_cuts:
        since = cut.after_awareness
        after = (f", {since.days}d {since.seconds // 3600}h {since.seconds % 3600 // 60}m "
                 "after the company became aware") if since is not None else ""  # fmt: skip
        table.add_row(f"{cut.vendor} cut", f"{_when(cut.cut_at)} by {cut.by}{after}")
    for task in view.open_tasks:
        table.add_row(f"task {task.id}", f"{task.title} ({task.owner}, due {_when(task.due_at)})")
    out.print(table)


class TrueFalse(StrEnum):
    TRUE = "true"
    FALSE = "false"


@incident_app.command("set")
def incident_set(
    workspace: WorkspaceArg,
    title: Annotated[str | None, typer.Option(help="The incident's title.")] = None,
    vendor: Annotated[str | None, typer.Option(help="The breached vendor.")] = None,
    timezone: Annotated[str | None, typer.Option(help="The incident's IANA time zone.")] = None,
    dataset_arrived: Annotated[
        str | None, typer.Option(help="When the dataset arrived (ISO 8601 with zone).")
    ] = None,
    official_domain: Annotated[
        list[str] | None, typer.Option(help="An official domain (repeat for several).")
    ] = None,
    sender: Annotated[str | None, typer.Option(help="The notices' sender address.")] = None,
    aware: Annotated[
        list[str] | None,
        typer.Option(help="PARTY=TIME: when a party became aware (ISO 8601 with zone)."),
    ] = None,
    company: Annotated[
        str | None, typer.Option(help="The company's name, as notices are signed.")
    ] = None,
    controller: Annotated[
        str | None, typer.Option(help="The controller: legal name and address.")
    ] = None,
    dpo: Annotated[
        str | None, typer.Option(help="The data protection officer and how to reach them.")
    ] = None,
    contact_email: Annotated[
        str | None,
        typer.Option(help="Where readers of a notice ask questions (on an official domain)."),
    ] = None,
    verify_url: Annotated[
        str | None,
        typer.Option(help="The https page where a reader checks a notice (on an official domain)."),
    ] = None,
    vendor_incident_start: Annotated[
        str | None, typer.Option(help="When the vendor's incident began (ISO 8601 with zone).")
    ] = None,
    vendor_incident_end: Annotated[
        str | None, typer.Option(help="When the vendor's incident ended (ISO 8601 with zone).")
    ] = None,
    own_systems_breached: Annotated[
        TrueFalse | None,
        typer.Option(
            help="Whether the company's own systems were breached (false: notices "
            "say they were not)."
        ),
    ] = None,
    by: By = "",
) -> None:
    """Set the incident's details and the company's identity; times need their zone and may
    not lie in the future. The sender, contact email and verify URL must be on an official
    domain; notify refuses to plan or send until they are set."""
    from breachdesk.errors import InputError
    from breachdesk.services import incident

    parties: dict[str, str] = {}
    for item in aware or []:
        party, sep, when = item.partition("=")
        if not sep:
            _fail(InputError(f"--aware {item!r}: expected PARTY=TIME"))
        parties[party] = when
    _in(
        workspace,
        lambda ws: incident.update(
            ws, by or _who(), title=title, vendor=vendor, timezone=timezone,
            dataset_arrived=dataset_arrived, official_domains=official_domain, sender=sender,
            aware=parties, company=company, controller=controller, dpo=dpo,
            contact_email=contact_email, verify_url=verify_url,
            vendor_incident_start=vendor_incident_start, vendor_incident_end=vendor_incident_end,
            own_systems_breached=None if own_systems_breached is None
            else own_systems_breached is TrueFalse.TRUE,
        )
    )  # fmt: skip
    incident_show(workspace)


@incident_app.command("event")
def incident_event(
    workspace: WorkspaceArg,
    at: Annotated[str, typer.Option(help="When it happened (ISO 8601 with zone).")],
    summary: Annotated[str, typer.Option(help="What happened.")],
    measure: Annotated[
        bool,
        typer.Option("--measure", help="A measure taken: notices list it under What we did."),
    ] = False,
    language: Annotated[
        str,
        typer.Option(
            help="A measure's notice language (de, ja, ro, en): notices in it state it instead "
            "of the measures recorded without one."
        ),
    ] = "",
    by: By = "",
) -> None:
    """Add an event to the timeline (--measure: a measure taken, stated in every notice;
    with --language, in the notices of that language instead of the untranslated ones)."""
    from breachdesk.services import incident

    entry = _in(
        workspace,
        lambda ws: incident.add_event(ws, at, summary, by or _who(), measure, language),
    )
    out.print(f"{entry.kind} at {_when(entry.at)} recorded", markup=False)


@incident_app.command("task")
def incident_task(
    workspace: WorkspaceArg,
    title: Annotated[str | None, typer.Option(help="What is to be done.")] = None,
    owner: Annotated[str | None, typer.Option(help="Who does it.")] = None,
    due: Annotated[str | None, typer.Option(help="Due time (ISO 8601 with zone).")] = None,
    done: Annotated[int | None, typer.Option(help="Mark task N as done.")] = None,
    by: By = "",
) -> None:
    """Add a task (--title, --owner, --due) or close one (--done N)."""
    from breachdesk.errors import InputError
    from breachdesk.services import incident

    if done is not None:
        task = _in(workspace, lambda ws: incident.close_task(ws, done, by or _who()))
        out.print(f"task {task.id} done", markup=False)
        return
    if title is None or owner is None:
        _fail(InputError("a new task needs --title and --owner"))
    task = _in(
        workspace, lambda ws: incident.add_task(ws, title or "", owner or "", due, by or _who())
    )
    out.print(f"task {task.id} added", markup=False)


@incident_app.command("decide")
def incident_decide(
    workspace: WorkspaceArg,
    subject: Annotated[str, typer.Option(help="What the decision is about.")],
    decision: Annotated[str, typer.Option(help="What was decided.")],
    rationale: Annotated[str, typer.Option(help="Why (required).")] = "",
    by: By = "",
) -> None:
    """Record a decision with its rationale and who made it."""
    from breachdesk.services import incident

    recorded = _in(
        workspace, lambda ws: incident.decide(ws, subject, decision, rationale, by or _who())
    )
    out.print(f"decision {recorded.id} recorded", markup=False)


@incident_app.command("timeline")
def incident_timeline(
    workspace: WorkspaceArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Events, awareness, tasks, decisions and assess runs, in time order."""
    from breachdesk.services import incident

    entries = _in(workspace, incident.timeline)
    if json_out:
        _print_json(entries)
        return
    table = Table(title="timeline", title_justify="left")
    for column in ("when (UTC)", "kind", "what", "who"):
        table.add_column(column)
    for entry in entries:
        kind = f"{entry.kind} ({entry.language})" if entry.language else entry.kind
        table.add_row(_when(entry.at), kind, entry.summary, entry.actor)
    out.print(table)


def _countdown(due: datetime | None, now: datetime) -> str:
    if due is None:
        return "without undue delay"
    seconds = int((due - now).total_seconds())
    sign, seconds = ("overdue by " if seconds < 0 else "in "), abs(seconds)
    days, rest = divmod(seconds, 86400)
    return (
        f"{sign}{days}d {rest // 3600}h" if days else f"{sign}{rest // 3600}h {rest % 3600 // 60}m"
    )


WIDE_TABLE = 140  # columns from which a table of duties shows every reason readably


def _indented(text: str, first: str = "  ", rest: str = "  ") -> str:
    """``text`` wrapped to the console's width under an indent (no trailing spaces)."""
    import textwrap

    return textwrap.fill(text, width=max(out.width, 40), initial_indent=first,
                         subsequent_indent=rest)  # fmt: skip


def _state(d: Any) -> str:
    state = d.state.value.replace("_", " ")
    if d.overdue:
        return f"OVERDUE ({state})"
    return state if d.recorded or d.state.value != "not_required" else "not required (assessed)"


@app.command("obligations")
def obligations_command(
    workspace: WorkspaceArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Each regime's outcome (required, likely, cannot_tell, not_required, record_only), its
    reason, deadline and where its duty stands (open, in_progress, done, not_required),
    overdue first; then every place with affected people that no rule covers.
    Move a duty with `breachdesk duty`."""
    from breachdesk.services.duties import duty_list

    report = _in(workspace, duty_list)
    if json_out:
        _print_json({
            "notice": report.notice, "timezone": report.timezone,
            "duties": [
                {**_asdict(d.result), "state": d.state.value, "recorded": d.recorded,
                 "owner": d.owner, "rationale": d.rationale, "delay_reason": d.delay_reason,
                 "overdue": d.overdue, "late": d.late,
                 "filings": [_asdict(f) for f in d.filings]}
                for d in report.duties
            ],
            "not_covered": report.not_covered,
        })  # fmt: skip
        return
    now = datetime.now(UTC)
    styles = {"required": "bold red", "likely": "yellow", "cannot_tell": "yellow"}

    def countdown(d: Any) -> str:
        waiting = d.state.value in ("open", "in_progress")
        due = waiting and d.result.outcome in ("required", "likely", "cannot_tell")
        return _countdown(d.result.deadline_utc, now) if due else "—"

    title = "notification duties (overdue first, then by deadline)"
    if out.width >= WIDE_TABLE:
        table = Table(title=title, title_justify="left")
        for column in ("regime", "outcome", "duty", "people", f"deadline ({report.timezone})",
                       "countdown", "reason"):  # fmt: skip
            table.add_column(column, no_wrap=column in ("regime", "duty"))
        for d in report.duties:
            r = d.result
            table.add_row(
                r.rule, r.outcome, _state(d), f"{r.triggering:,} / {r.people:,}",
                r.deadline_local or "—", countdown(d), r.reason,
                style="bold white on red" if d.overdue else styles.get(r.outcome),
            )  # fmt: skip
        out.print(table)
    else:  # a narrow terminal or a pipe: one block per duty, every word of it readable
        out.print(title, style="italic", highlight=False)
        for d in report.duties:
            r = d.result
            style = "bold white on red" if d.overdue else styles.get(r.outcome, "")
            out.print(f"\n{r.rule}: {r.outcome}, duty {_state(d)}", style=style or None,
                      markup=False, highlight=False)  # fmt: skip
            out.print(f"  people: {r.triggering:,} of {r.people:,}", highlight=False)
            if r.deadline_local:
                out.print(f"  deadline: {r.deadline_local} ({report.timezone}), "
                          f"{countdown(d)}", markup=False, highlight=False)  # fmt: skip
            out.print(_indented(r.reason), markup=False, highlight=False, soft_wrap=True)
        out.print()
    for d in report.duties:
        r = d.result
        for note in (*r.also, *r.questions, *r.undecided):
            out.print(f"{r.rule}: {note}", markup=False, highlight=False)
    if report.not_covered:
        gaps = Table(title="not covered: affected people no rule speaks for", title_justify="left")
        for column in ("place", "people", "why"):
            gaps.add_column(column)
        for u in report.not_covered:
            gaps.add_row(u.place or "unknown", f"{u.people:,}", u.why)
        out.print(gaps)
    else:
        out.print("not covered: none (every affected person is under at least one rule)")
    out.print(report.notice, markup=False)
    out.print("Sources:", highlight=False)
    for source in sorted({c for d in report.duties for c in d.result.citations}):
        out.print(_indented(source, "  - ", "    "), markup=False, highlight=False, soft_wrap=True)


def _asdict(value: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(value)


duty_app = typer.Typer(
    help="Move a regime's duty: open -> in_progress -> done (filed: date, channel, reference; "
    "then follow-ups) or not_required (with the rationale); reopen to start again. "
    "See where they stand with `breachdesk obligations`."
)
app.add_typer(duty_app, name="duty")
RegimeArg = Annotated[str, typer.Argument(help="The regime's id, e.g. gdpr-art33.")]
FiledAt = Annotated[str, typer.Option(help="When it was filed (ISO 8601 with zone).")]
Channel = Annotated[str, typer.Option(help="How: the authority's portal, email, post...")]
Reference = Annotated[str, typer.Option(help="The authority's reference (or your own).")]
Note = Annotated[str, typer.Option(help="Anything to keep with the filing.")]


def _duty_line(record: Any) -> None:
    filed = f", {len(record.filings)} filing(s)" if record.filings else ""
    out.print(f"duty {record.rule}: {record.state.value}{filed}", markup=False, highlight=False)


@duty_app.command("start")
def duty_start(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    owner: Annotated[str, typer.Option(help="Who is working on it.")],
    by: By = "",
) -> None:
    """Mark the duty in progress, with its owner."""
    from breachdesk.services import duties

    _duty_line(_in(workspace, lambda ws: duties.start(ws, regime, owner, by or _who())))


@duty_app.command("done")
def duty_done(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    filed_at: FiledAt,
    channel: Channel,
    reference: Reference,
    note: Note = "",
    delay_reason: Annotated[
        str | None, typer.Option(help="Why it was late (required when filed past the deadline).")
    ] = None,
    by: By = "",
) -> None:
    """Record the filing that fulfils the duty: it is then done, and no longer overdue."""
    from breachdesk.services import duties

    _duty_line(_in(workspace, lambda ws: duties.done(
        ws, regime, filed_at, channel, reference, by or _who(), note, delay_reason)))  # fmt: skip


@duty_app.command("follow-up")
def duty_follow_up(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    filed_at: FiledAt,
    channel: Channel,
    reference: Reference,
    note: Note = "",
    final: Annotated[bool, typer.Option("--final", help="This is the final report.")] = False,
    by: By = "",
) -> None:
    """Add a further filing to a done duty (information given in phases, GDPR Art. 33(4))."""
    from breachdesk.services import duties

    _duty_line(_in(workspace, lambda ws: duties.follow_up(
        ws, regime, filed_at, channel, reference, by or _who(), note, final)))  # fmt: skip


@duty_app.command("not-required")
def duty_not_required(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    rationale: Annotated[str, typer.Option(help="Why no notification is due (required).")],
    by: By = "",
) -> None:
    """Record that the duty is not required, with the rationale."""
    from breachdesk.services import duties

    _duty_line(_in(workspace, lambda ws: duties.not_required(ws, regime, rationale, by or _who())))


@duty_app.command("reopen")
def duty_reopen(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    rationale: Annotated[str, typer.Option(help="Why it is reopened (required).")],
    by: By = "",
) -> None:
    """Open the duty again (its filings are kept)."""
    from breachdesk.services import duties

    _duty_line(_in(workspace, lambda ws: duties.reopen(ws, regime, rationale, by or _who())))


@duty_app.command("delay-reason")
def duty_delay_reason(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    reason: Annotated[str, typer.Option(help="Why the notification is (or will be) late.")],
    by: By = "",
) -> None:
    """Record the reasons for a late notification; the report for the authority carries them."""
    from breachdesk.services import duties

    _duty_line(_in(workspace, lambda ws: duties.set_delay_reason(ws, regime, reason,
                                                                 by or _who())))  # fmt: skip


@duty_app.command("show")
def duty_show(
    workspace: WorkspaceArg,
    regime: RegimeArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One duty: its assessment, state, owner, rationale and every filing."""
    from breachdesk.services.duties import duty_list

    d = _in(workspace, duty_list).get(regime)
    if json_out:
        _print_json({**_asdict(d.result), "state": d.state.value, "owner": d.owner,
                     "rationale": d.rationale, "delay_reason": d.delay_reason,
                     "overdue": d.overdue, "late": d.late,
                     "filings": [_asdict(f) for f in d.filings]})  # fmt: skip
        return
    table = Table(title=f"duty {d.rule}: {d.result.title}", show_header=False,
                  title_justify="left")  # fmt: skip
    table.add_column(style="bold")
    table.add_column()
    table.add_row("outcome", f"{d.result.outcome}: {d.result.reason}")
    table.add_row("state", _state(d))
    table.add_row("deadline", d.result.deadline_local or "without undue delay")
    for label, value in (("owner", d.owner), ("rationale", d.rationale),
                         ("reasons for delay", d.delay_reason)):  # fmt: skip
        if value:
            table.add_row(label, value)
    for f in d.filings:
        table.add_row(f"filing {f.id} ({f.phase.value.replace('_', '-')})",
                      f"{_when(f.filed_at)} via {f.channel}, reference {f.reference}"
                      + (f" — {f.note}" if f.note else ""))  # fmt: skip
    out.print(table)


report_app = typer.Typer(help="Reports for the people outside the desk.")
app.add_typer(report_app, name="report")


@report_app.command("authority")
def report_authority(
    workspace: WorkspaceArg,
    regime: Annotated[str, typer.Option(help="The regime, e.g. gdpr-art33 (see obligations).")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the files (default WORKSPACE/reports).")
    ] = None,
    draft: Annotated[
        bool,
        typer.Option(help="Write it even with required details missing, marked DRAFT."),
    ] = False,
) -> None:
    """What one regime's notification needs, in the regime's terms (gdpr-art33: Art. 33(3);
    gdpr-art34: the communication to the people affected; uk-gdpr: the ICO form's six parts),
    as Markdown and an A4 PDF, and the evidence bundle (verified audit log, impact.json, every
    SHA-256) as one zip. Past the deadline, the reasons for the delay must be recorded first
    (breachdesk duty delay-reason), unless --draft."""
    from breachdesk.services.report import authority_report

    files = _in(workspace, lambda ws: authority_report(ws, regime, out_dir, draft))
    for path in (files.markdown, files.pdf, files.bundle):
        out.print(str(path), markup=False, highlight=False, soft_wrap=True)
    out.print(f"audit log: {files.chain_entries} entries, chain verified", markup=False)


audit_app = typer.Typer(help="The workspace's hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("export")
def audit_export(
    workspace: WorkspaceArg,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="The JSON Lines file (default WORKSPACE/audit.jsonl)."),
    ] = None,
) -> None:
    """Write the audit log as JSON Lines and verify its chain; exit 1 if it is broken."""
    from breachdesk.services.audit import export_audit

    result = _in(
        workspace,
        lambda ws: export_audit(ws, out_file or workspace / "audit.jsonl"),
        require_finished=False,
    )
    out.print(str(result.path), markup=False, highlight=False, soft_wrap=True)
    if result.intact:
        out.print(f"{result.entries} entries, chain verified; head {result.head}", markup=False,
                  highlight=False, soft_wrap=True)  # fmt: skip
        return
    _line(f"breachdesk: the audit chain is broken: {result.broken}")
    raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    workspace: WorkspaceArg,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="SEQUENCE:HASH from an earlier export, evidence bundle or report: the log "
            "must still hold that entry, unchanged.",
        ),
    ] = None,
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """Verify the audit log: every link and keyed hash, its end against the head file (and
    --expect-head), and that the incident's tables say what the log recorded. Exit 1 if not."""
    from breachdesk.services.audit import verify_audit
    from breachdesk.store import Head

    expected = _run(lambda: Head.parse(expect_head)) if expect_head else None
    verdict = _in(workspace, lambda ws: verify_audit(ws, expected), store, False)
    chain = verdict.chain
    for note in chain.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    if not chain.intact:
        _line(f"breachdesk: the audit log does not verify: {chain.broken}")
        raise typer.Exit(1)
    for d in verdict.disagreements:
        _line(f"breachdesk: {d}")
    if verdict.disagreements:
        _line(f"breachdesk: {len(verdict.disagreements)} tables disagree with the audit log")
        raise typer.Exit(1)
    out.print(f"{chain.entries} entries, chain verified; head {chain.head}", markup=False,
              highlight=False, soft_wrap=True)  # fmt: skip
    out.print("incident tables agree with the log", markup=False)


notify_app = typer.Typer(help="Notices to affected users and organization admins.")
app.add_typer(notify_app, name="notify")


@notify_app.command("plan")
def notify_plan(
    workspace: WorkspaceArg,
    include_deactivated: Annotated[
        bool,
        typer.Option("--include-deactivated", help="Plan (not hold) notices to deactivated users."),
    ] = False,
    rematch: Annotated[
        bool,
        typer.Option(
            "--rematch",
            help="If the directory changed since assess, assess again (as assess --replace).",
        ),
    ] = False,
    readdress: Annotated[
        bool,
        typer.Option(
            "--readdress",
            help="Notices not sent yet go to the address the directory now gives (otherwise "
            "they keep theirs and are held).",
        ),
    ] = False,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: the one in breachdesk.toml).")
    ] = None,
) -> None:
    """One notice per affected user and one per affected organization for each admin;
    planning twice adds nothing, and no notice is ever dropped or re-addressed by it.
    Refused until the company's identity and a measure taken are recorded (incident set,
    incident event --measure)."""
    from breachdesk.services.notify_plan import plan_notices

    summary = _in(
        workspace, lambda ws: plan_notices(ws, include_deactivated, rematch, readdress), store
    )
    changes = summary.rematched.changes if summary.rematched is not None else None
    for line in changes.lines() if changes else ():
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    table = Table(title="notice plan", title_justify="left")
    table.add_column("notices")
    table.add_column("added", justify="right")
    for kind, n in sorted(summary.new.items()):
        table.add_row(kind, f"{n:,}")
    table.add_row("already planned", f"{summary.existing:,}")
    out.print(table)
    for reason, n in sorted(summary.held.items()):
        out.print(f"held: {n:,} — {reason}", markup=False, highlight=False, soft_wrap=True)


@notify_app.command("keys")
def notify_keys(
    workspace: WorkspaceArg,
    selector: Annotated[
        str | None, typer.Option(help="DKIM selector (default: the first in breachdesk.toml).")
    ] = None,
    retire: Annotated[
        str | None,
        typer.Option(
            help="Retire this selector: delete its private key, keep its public key "
            "so that what it signed still checks as authentic."
        ),
    ] = None,
) -> None:
    """Create the DKIM keys if missing (RSA-2048 for the first selector in breachdesk.toml,
    Ed25519 for a second one, which then signs beside it); print the DNS records to publish.
    With --retire, retire a selector that no longer signs."""
    from breachdesk.services.notify import ensure_dkim_key, retire_dkim_key

    if retire:
        info = _in(workspace, lambda ws: retire_dkim_key(ws, retire))
        out.print(f"retired {retire} ({info.algorithm}): private key deleted, public key kept; "
                  f"remove {info.dns_name} from DNS once its notices are read", markup=False,
                  highlight=False, soft_wrap=True)  # fmt: skip
        return
    for info in _in(workspace, lambda ws: ensure_dkim_key(ws, selector)):
        state = "created" if info.created else "exists"
        out.print(f"{info.path} ({info.algorithm}, {state}, readable by you only)",
                  markup=False, highlight=False)  # fmt: skip
        out.print(f"publish: {info.dns_name} IN TXT", markup=False, highlight=False)
        out.print(f'"{info.dns_record}"', markup=False, highlight=False, soft_wrap=True)


@notify_app.command("preview")
def notify_preview(
    workspace: WorkspaceArg,
    sample: Annotated[int, typer.Option(help="How many notices to render.")] = 5,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder (default WORKSPACE/previews).")
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: the one in breachdesk.toml).")
    ] = None,
) -> None:
    """Write .eml and .html previews of a sample (one per kind and language first), linted;
    they hold personal data and are readable by you only."""
    from breachdesk.services.notify import preview

    previews = _in(workspace, lambda ws: preview(ws, sample, out_dir), store)
    table = Table(title="notice previews", title_justify="left")
    for column in ("reference", "kind", "language", "lint", "file"):
        table.add_column(column)
    for p in previews:
        table.add_row(
            p.reference, p.kind, p.language, "; ".join(p.problems) or "passes", str(p.eml)
        )
    out.print(table)
    if any(p.problems for p in previews):
        raise typer.Exit(1)


@notify_app.command("send")
def notify_send(
    workspace: WorkspaceArg,
    live: Annotated[
        bool, typer.Option("--live/--dry-run", help="Really send; the default is a dry run.")
    ] = False,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: the one in breachdesk.toml).")
    ] = None,
    per_second: Annotated[
        float | None, typer.Option(help="Overall pace, messages per second (0: unpaced).")
    ] = None,
    per_domain: Annotated[
        float | None,
        typer.Option(help="Pace per recipient domain, messages per second (0: unpaced)."),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Stop when only retries not yet due remain.")
    ] = False,
    helpers: Annotated[
        int, typer.Option(help="Helper processes that compose and sign (0: none).")
    ] = 1,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Lint and queue the planned notices, then deliver the queue over SMTP with DKIM.

    Exit 0 when everything due was sent, 1 when some notices failed or were refused,
    2 when the SMTP server cannot be used (the outbox stays consistent: run it again)."""
    from breachdesk.services.notify import send

    bars, show, start = _send_bars(progress and live)
    with bars:
        result = _in(
            workspace,
            lambda ws: send(
                ws,
                live,
                wait_for_retries=not no_wait,
                helpers=helpers,
                progress=show,
                on_start=start,
                per_second=per_second,
                per_domain_per_second=per_domain,
            ),
            store,
        )
    _print_send(result, live)
    if live and result.send.paused:
        _line(f"breachdesk: paused: {result.send.paused}")
        raise typer.Exit(2 if "SMTP" in result.send.paused else 0)
    failed = result.queue.refused or (
        live and (result.send.outcomes["failed"] or result.send.outcomes["refused"])
    )
    if failed:
        raise typer.Exit(1)
    if not live:
        out.print("dry run: add --live to send", markup=False)


@notify_app.command("status")
def notify_status(
    workspace: WorkspaceArg,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: the one in breachdesk.toml).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Show a progress bar until nothing is left to send.")
    ] = False,
) -> None:
    """Notices planned, held, refused, queued, sent and failed — per kind and per language,
    with the campaign's progress (--watch follows a send running elsewhere)."""
    from breachdesk.services.notify import status

    result = _in(workspace, status, store)
    if as_json:
        _print_json(result)
        return
    if watch:
        with Progress(
            TextColumn("sent"), BarColumn(), TextColumn("{task.fields[line]}"),
            TimeElapsedColumn(), console=err,
        ) as bars:  # fmt: skip
            task = bars.add_task("watch", total=None, line="")
            while True:
                done, total, line = _progress(result)
                bars.update(task, completed=done, total=total or None, line=line)
                if not sum(c["queued"] + c["planned"] for c in result.by_kind.values()):
                    break
                time.sleep(1)
                result = _in(workspace, status, store)
    _print_status(result)


def _progress(result: Any) -> tuple[int, int, str]:
    """(done, to do, a line): done is sent, failed or refused; held notices are not counted."""
    totals: Counter[str] = Counter()
    for counts in result.by_kind.values():
        totals.update(counts)
    from breachdesk.store.outbox import progress

    done, total = progress(totals)
    line = (f"{done:,}/{total:,} (sent {totals['sent']:,} · failed {totals['failed']:,} · "
            f"refused {totals['refused']:,} · queued {totals['queued']:,})")  # fmt: skip
    return done, total, line


def _print_status(result: Any) -> None:
    done, total, line = _progress(result)
    width = 30
    filled = round(width * done / total) if total else width
    out.print(f"progress {'█' * filled}{'░' * (width - filled)} {line}", markup=False,
              highlight=False, soft_wrap=True)  # fmt: skip
    states = ("planned", "held", "refused", "queued", "sent", "failed")
    for title, rows in (("per kind", result.by_kind), ("per language", result.by_language)):
        table = Table(title=f"notices {title}", title_justify="left")
        table.add_column(title.split()[1])
        for state in states:
            table.add_column(state, justify="right")
        for key, counts in sorted(rows.items()):
            table.add_row(key, *(f"{counts[s]:,}" for s in states))
        out.print(table)
    out.print(f"delivery attempts recorded: {result.attempts:,}", markup=False)
    for reason, n in result.held:
        out.print(f"held: {n:,} — {reason}", markup=False, highlight=False)
    for state, reason, n in result.failures:
        out.print(f"{state}: {n:,} — {reason}", markup=False, highlight=False)


class LogLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"


_LOG_LEVEL = typer.Option(
    help="info: one line per request on standard error (method, path without the query, "
    "status, time, keyed hash of the client); warning: problems only.",
)


@app.command("serve")
def serve(
    workspace: WorkspaceArg,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1, max=64)] = 1,
    log_level: Annotated[LogLevel, _LOG_LEVEL] = LogLevel.INFO,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="A host name clients use to reach the dashboard (repeatable); any other "
            "Host header gets 400. Default: the bound address, and localhost, 127.0.0.1 "
            "and [::1] when it is a loopback address."
        ),
    ] = None,
) -> None:
    """Open the incident in the response team's dashboard (sign-in required: see users add).
    It uses the workspace's store (store_url in breachdesk.toml)."""
    from breachdesk.web.hosts import allowlist

    hosts = _run(lambda: allowlist(host, allowed_host or []))
    # the server and the app after the arguments are checked: a refusal comes at once
    import uvicorn

    from breachdesk.web import app_common, dashboard

    _run(lambda: dashboard.check_workspace(workspace))
    if host not in ("127.0.0.1", "localhost", "::1"):
        _line(f"breachdesk: warning: the dashboard listens on {host}, beyond this machine")
    out.print(f"dashboard: http://{host}:{port}/  (Ctrl-C stops it)", markup=False)
    os.environ[dashboard.WORKSPACE_ENV] = str(workspace.resolve())
    os.environ[app_common.LOG_KEY_ENV] = app_common.new_log_key()
    os.environ[dashboard.HOSTS_ENV] = " ".join(hosts)
    uvicorn.run(
        "breachdesk.web.dashboard:app_from_environment", factory=True, host=host, port=port,
        workers=workers, log_level="warning", access_log=False,
        log_config=app_common.server_log_config(log_level.value.upper()),
    )  # fmt: skip


users_app = typer.Typer(help="Who may open the dashboard, with which role.")
app.add_typer(users_app, name="users")


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        _line("breachdesk: error: no terminal to ask for the password: use --password-stdin")
        raise typer.Exit(2)
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        _line("breachdesk: error: the two passwords differ")
        raise typer.Exit(2)
    return str(first)


@users_app.command("add")
def users_add(
    workspace: WorkspaceArg,
    username: Annotated[str, typer.Argument(help="Lower-case letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help="viewer, responder or admin.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """Add a dashboard user (argon2id hash; at least 12 characters)."""
    from breachdesk.services import users

    password = _password(password_stdin)
    _in(workspace, lambda ws: users.add(ws, username, password, role), store, False)
    out.print(f"user {username} added as {role}", markup=False, highlight=False)


@users_app.command("remove")
def users_remove(
    workspace: WorkspaceArg,
    username: Annotated[str, typer.Argument(help="The user to remove.")],
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """Remove a dashboard user and end their sessions."""
    from breachdesk.services import users

    _in(workspace, lambda ws: users.remove(ws, username), store, False)
    out.print(f"user {username} removed", markup=False, highlight=False)


@users_app.command("role")
def users_role(
    workspace: WorkspaceArg,
    username: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="viewer, responder or admin.")],
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """Change a dashboard user's role."""
    from breachdesk.services import users

    _in(workspace, lambda ws: users.role(ws, username, role), store, False)
    out.print(f"user {username} is now {role}", markup=False, highlight=False)


@users_app.command("list")
def users_list(
    workspace: WorkspaceArg,
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """The dashboard's users and their roles (refused sign-ins are in the audit log)."""
    from breachdesk.services import users

    for user in _in(workspace, users.listing, store, False):
        out.print(f"{user.username}\t{user.role}", markup=False)


verify_app = typer.Typer(help="The public notice check: publish the codes, serve the page.")
app.add_typer(verify_app, name="verify")


@verify_app.command("publish")
def verify_publish(
    workspace: WorkspaceArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the public app.")],
    key_out: Annotated[
        Path | None,
        typer.Option(help="Where the key goes (0600; default OUT.key beside the folder)."),
    ] = None,
    store: Annotated[str | None, typer.Option(help="Store URL.")] = None,
) -> None:
    """Write keyed hashes of the sent notices' (reference, address) pairs and their sent
    dates into OUT/codes.json, and the key into a file of its own, outside OUT."""
    from breachdesk.services.verify import publish

    result = _in(workspace, lambda ws: publish(ws, out_dir, key_out), store)
    key_path = result.key_path
    if key_path.is_relative_to(Path.cwd()):
        key_path = key_path.relative_to(Path.cwd())
    out.print(f"{result.codes:,} codes in {result.path}; the key in {key_path} (0600: "
              "deploy it beside the folder, never in it)", markup=False, highlight=False,
              soft_wrap=True)  # fmt: skip


@verify_app.command("serve")
def verify_serve(
    published: Annotated[Path, typer.Argument(help="The folder verify publish wrote.")],
    key: Annotated[
        Path | None, typer.Option(help="The key file verify publish wrote (default DIR.key).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    per_minute: Annotated[
        int, typer.Option(help="Checks allowed per client address per minute.", min=1)
    ] = 30,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1, max=64)] = 1,
    trust_proxy: Annotated[
        str | None,
        typer.Option(
            help="Address of a reverse proxy whose X-Forwarded-For names the client "
            "(the rate limit then counts the real clients, not the proxy)."
        ),
    ] = None,
    log_level: Annotated[LogLevel, _LOG_LEVEL] = LogLevel.INFO,
) -> None:
    """Serve the public page where a reader checks a notice's reference and the address it
    came to."""
    import uvicorn

    from breachdesk.services.verify import default_key_path, load
    from breachdesk.web import app_common, verify

    key_path = key or default_key_path(published)
    _run(lambda: load(published, key_path))  # fails here, in one line, before the workers start
    out.print(f"notice check: http://{host}:{port}/", markup=False)
    os.environ[verify.PUBLISHED_ENV] = str(published.resolve())
    os.environ[verify.KEY_ENV] = str(key_path.resolve())
    os.environ[verify.RATE_ENV] = str(per_minute)
    os.environ[verify.PROXY_ENV] = trust_proxy or ""
    os.environ[app_common.LOG_KEY_ENV] = app_common.new_log_key()
    uvicorn.run(
        "breachdesk.web.verify:app_from_environment", factory=True, host=host, port=port,
        workers=workers, log_level="warning", access_log=False, proxy_headers=False,
        log_config=app_common.server_log_config(log_level.value.upper()),
    )  # fmt: skip


phishing_app = typer.Typer(help="Lookalike domains, and whether a message is really from us.")
app.add_typer(phishing_app, name="phishing")
Domains = Annotated[list[str], typer.Argument(help="Domains (or comma-separated lists).")]


@phishing_app.command("lookalikes")
def phishing_lookalikes(
    domains: Domains,
    out_file: Annotated[Path, typer.Option("--out", help="The CSV watch list to write.")],
    resolve: Annotated[bool, typer.Option(help="Look each up in DNS (needs a network).")] = False,
) -> None:
    """Write the domains an attacker would register to imitate DOMAIN, with the technique of
    each (dnstwist's fuzzers, TR39 confusables, brand-containing names)."""
    from breachdesk.services.phishing import lookalikes

    found = _run(lambda: lookalikes(domains, out_file, resolve))
    for technique, n in sorted(found.by_technique.items(), key=lambda kv: (-kv[1], kv[0])):
        out.print(f"{n:>7,}  {technique}", markup=False, highlight=False)
    resolving = sum(v == "yes" for v in found.resolves.values())
    out.print(f"{len(found.lookalikes):,} lookalikes in {found.path}"
              + (f"; {resolving:,} resolve in DNS" if resolve else ""), markup=False,
              highlight=False, soft_wrap=True)  # fmt: skip


@phishing_app.command("domain")
def phishing_domain(
    candidates: Annotated[list[str], typer.Argument(help="Domains to classify.")],
    official: Annotated[list[str], typer.Option(help="An official domain (repeat, or a,b).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """official, lookalike (with the technique) or unrelated, per candidate; exit 1 when any
    candidate is a lookalike."""
    from breachdesk.services.phishing import classify_domains

    verdicts = _run(lambda: classify_domains(candidates, official))
    if json_out:
        _print_json([{"domain": v.domain, "verdict": v.verdict, "technique": v.technique,
                      "ascii": v.ascii, "unicode": v.unicode} for v in verdicts])  # fmt: skip
    for v in [] if json_out else verdicts:
        # the ASCII (punycode) form first: a Unicode lookalike printed as itself is as
        # deceiving on the terminal as in the address bar; its foreign letters are named
        shown = f" ({v.unicode}: {_foreign_letters(v.unicode)})" if v.unicode != v.ascii else ""
        how = f" {v.technique} of {v.official}" if v.verdict == "lookalike" else ""
        out.print(f"{v.ascii}{shown}: {v.verdict}{how}", markup=False, highlight=False)
    raise typer.Exit(1 if any(v.verdict == "lookalike" for v in verdicts) else 0)


def _foreign_letters(domain: str) -> str:
    """Each non-ASCII character of ``domain`` by code point and name, with its position."""
    import unicodedata

    return ", ".join(
        f"U+{ord(c):04X} {unicodedata.name(c, 'UNNAMED')} at {i + 1}"
        for i, c in enumerate(domain)
        if not c.isascii()
    )


@phishing_app.command("check")
def phishing_check(
    message: Annotated[Path, typer.Argument(help="The message (.eml) to check.")],
    workspace: Annotated[Path, typer.Option(help="The incident workspace whose keys sign.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Is MESSAGE really from us? authentic, lookalike, unauthenticated or suspicious, with
    every reason; exit 0 only when authentic."""
    from breachdesk.services.phishing import check_json, check_message

    result = _in(workspace, lambda ws: check_message(ws, message))
    if json_out:
        _print_json(check_json(result))
    else:
        out.print(f"verdict: {result.verdict}", markup=False, highlight=False)
        for reason in result.reasons:
            out.print(f"- {reason}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.verdict == "authentic" else 1)


def _print_send(result: Any, live: bool) -> None:
    table = Table(title="notify send" + ("" if live else " (dry run: nothing sent)"),
                  title_justify="left", show_header=False)  # fmt: skip
    if not live:
        for key, n in sorted(result.would_send.items()):
            table.add_row(f"would send: {key}", f"{n:,}")
    else:
        table.add_row("queued now", f"{result.queue.queued:,}")
        for key, n in sorted(result.send.outcomes.items()):
            table.add_row(key, f"{n:,}")
        table.add_row("still queued", f"{result.send.remaining:,}")
    for reason, n in result.queue.refused.most_common(5):
        table.add_row("refused by lint", f"{n:,} — {reason}")
    out.print(table)


def _send_bars(
    enabled: bool,
) -> tuple[Progress, Callable[[Counter[str]], None], Callable[[Any], None]]:
    """A progress bar for a live send, and the two callbacks that move it."""
    bars = Progress(
        TextColumn("sending"), BarColumn(), TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=err,
        disable=not enabled,
    )  # fmt: skip
    task = bars.add_task("send", total=None, detail="", count="")

    from breachdesk.store.outbox import progress

    def show(outcomes: Counter[str]) -> None:
        done, _ = progress(outcomes)
        total = bars.tasks[task].total
        bars.update(
            task,
            completed=done,
            count=f"{done:,}/{int(total):,}" if total else f"{done:,}",
            detail=" ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())),
        )

    def start(campaign: Any) -> None:
        from breachdesk.store.outbox import queued_count

        bars.update(task, total=queued_count(campaign.store))

    return bars, show, start


def _vendor_apps() -> None:
    from breachdesk.cli_vendors import relay_app, vendors_app

    app.add_typer(vendors_app, name="vendors")
    app.add_typer(relay_app, name="relay")


_vendor_apps()


def main() -> None:
    app()
