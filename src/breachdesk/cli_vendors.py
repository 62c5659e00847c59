"""``breachdesk vendors …`` and ``breachdesk relay serve``: parse, call one service in
``breachdesk.services.vendors``, render. Added to the main app by ``cli.py``."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

vendors_app = typer.Typer(
    help="The vendor inventory (vendors.yaml): check it, rank blast radius, cut off, review."
)
relay_app = typer.Typer(help="The minimising relay between analytics SDKs and their vendors.")
VendorsFile = Annotated[Path, typer.Argument(help="The vendor inventory (vendors.yaml).")]
Samples = Annotated[
    list[str] | None,
    typer.Option(
        "--sample",
        help="An export of what a vendor holds, as VENDOR=PATH (or PATH when one vendor "
        "speaks its format); an assess workspace is read as it is. Repeat for several.",
    ),
]
WorkspaceOpt = Annotated[
    Path | None, typer.Option("--workspace", help="The incident workspace (audit log, store).")
]


def _cli() -> Any:
    from breachdesk import cli

    return cli


def _run(call: Any) -> Any:
    return _cli()._run(call)


def _with(workspace: Path | None, call: Any) -> Any:
    """Call the service with the workspace open (once), or with None; errors as _run."""
    if workspace is None:
        return _run(lambda: call(None))
    return _cli()._in(workspace, call)


def _say(text: str) -> None:
    _cli().out.print(text, markup=False, highlight=False, soft_wrap=True)


def _who(by: str) -> str:
    return by or _cli()._who()


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    days, rest = divmod(minutes, 1440)
    return (
        f"{sign}{days}d {rest // 60}h {rest % 60}m" if days else f"{sign}{rest // 60}h {rest % 60}m"
    )


@vendors_app.command("check")
def vendors_check(
    vendors: VendorsFile,
    sample: Samples = None,
    observed: Annotated[
        Path | None,
        typer.Option(help="The relay's observed.json (default: relay-state/ beside the file)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Validate vendors.yaml (errors name line and rule) and list the fields and categories
    vendors are seen to receive (in a sample export, or by the relay) that it does not
    declare. Exit 0 when all is declared, 1 when something is not, 2 for bad input."""
    from breachdesk.services.vendors import check

    report = _run(lambda: check(vendors, sample or [], observed))
    if json_out:
        _cli()._print_json({"undeclared": report.undeclared, "categories": report.categories})
    else:
        relayed = sum(1 for v in report.inventory.vendors if v.protocol)
        _say(f"{vendors}: valid ({len(report.inventory.vendors)} vendors, {relayed} relayed)")
        if report.undeclared:
            table = Table(title="received but not declared", title_justify="left")
            for column in ("vendor", "field", "category", "seen in", "times"):
                table.add_column(column, justify="right" if column == "times" else "left")
            for u in report.undeclared:
                table.add_row(u.vendor, u.field, u.category or "—", u.source,
                              f"{u.seen:,}" if u.seen else "")  # fmt: skip
            _cli().out.print(table)
        for c in report.categories:
            where = ", ".join(f"{name} ({n:,} {unit[:-1] if n == 1 and unit != 'found' else unit})"
                              for name, n, unit in c.fields)  # fmt: skip
            _say(f"undeclared category: {c.vendor} receives {c.category} in {where} "
                 f"(seen in {c.source})")  # fmt: skip
        if report.clean:
            _say("every field and category observed is declared")
    raise typer.Exit(0 if report.clean else 1)


@vendors_app.command("blast-radius")
def vendors_blast_radius(
    vendors: VendorsFile,
    directory: Annotated[Path, typer.Option(help="The company directory folder.")],
    sample: Samples = None,
    what_if: Annotated[
        bool, typer.Option("--what-if", help="Also show each vendor after its flows' minimisation.")
    ] = False,
    workspace: WorkspaceOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rank vendors by what their breach would expose: categories held (declared and
    observed), users, organizations and admins (matched from a sample, else every active
    user: an upper bound, marked ≤), countries, the duties it would trigger, severity."""
    from breachdesk.services.vendors import blast_radius

    report = _with(
        workspace, lambda ws: blast_radius(vendors, directory, sample or [], what_if, ws)
    )
    if json_out:
        _cli()._print_json(report.to_json())
        return
    render_blast(report, what_if)
    if workspace is not None:
        _say(f"saved for the dashboard: {workspace / 'vendors' / 'blast_radius.json'}")


def render_blast(report: Any, what_if: bool) -> None:
    """The ranked blast-radius table, then each vendor's severity and its reasons."""
    table = Table(title="blast radius, worst first (≤: upper bound)", title_justify="left")
    for column in ("vendor", "severity", "users", "orgs", "admins", "top country", "duties"):
        table.add_column(
            column, justify="right" if column in ("users", "orgs", "admins") else "left"
        )
    if what_if:
        table.add_column("after minimisation")
    styles = {"critical": "bold red", "high": "red", "medium": "yellow"}

    def duties(found: Any) -> str:
        outcomes = Counter(d.outcome for d in found)
        return ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items(), reverse=True)) or "none"

    for b in report.vendors:
        bound = "≤" if b.upper_bound else ""
        top = next((f"{c} {n:,}" for c, n in b.by_country.items()), "—")
        counts = [f"{bound}{n:,}" for n in (b.users, b.organizations, b.admins)]
        row = [b.vendor, b.exposure.severity.level, *counts, top, duties(b.exposure.duties)]
        if what_if and b.what_if is not None:
            row.append(f"{b.what_if.severity.level}, {duties(b.what_if.duties)}")
        table.add_row(*row, style=styles.get(b.exposure.severity.level))
    _cli().out.print(table)
    for b in report.vendors:
        _say(f"{b.vendor}: {b.exposure.severity.level} — {'; '.join(b.exposure.severity.reasons)}")
        required = [d.rule for d in b.exposure.duties if d.outcome == "required"]
        if required:
            _say(f"  required: {', '.join(required)}")
        hinges: dict[tuple[str, str], list[str]] = {}
        for d in b.exposure.conditional:
            hinges.setdefault((d.outcome, d.condition), []).append(d.rule)
        for (outcome, condition), rules in sorted(hinges.items()):
            _say(f"  would be {outcome} {condition}: {', '.join(rules)}")


def _switch(name: str, vendors: Path, vendor: str, why: str, by: str, workspace: Path | None,
            frontend: Path | None) -> None:  # fmt: skip
    from breachdesk.services import vendors as service

    action = service.cut if name == "cut" else service.restore
    result = _with(workspace, lambda ws: action(vendors, vendor, why, _who(by), ws, frontend))
    render_switch(result, vendors)


def render_switch(result: Any, vendors: Path) -> None:
    """What a cut or restore did: the file, the front-end config, the audit log entry."""
    vendor = result.vendor
    state = "cut off" if result.status == "cut" else "restored"
    if not result.changed:
        _say(f"{vendor} was already {state}: nothing changed")
    else:
        _say(f"{vendor} {state} at {result.at.isoformat(timespec='seconds')} in {vendors}")
    _say(f"front-end config: {result.csp} and {result.sdks}")
    if result.audit_seq is not None:
        _say(f"recorded in the audit log (entry {result.audit_seq})")
    if result.after_awareness is not None and result.status == "cut":
        _say(f"cut {_span(result.after_awareness)} after the company became aware")


By = Annotated[str, typer.Option("--by", help="Who decides (default: you).")]
Why = Annotated[str, typer.Option("--why", help="Why (required; recorded in the audit log).")]
Frontend = Annotated[
    Path | None, typer.Option(help="Folder for csp.txt and sdks.json (default: frontend/ beside).")
]


@vendors_app.command("cut")
def vendors_cut(
    vendors: VendorsFile,
    vendor: Annotated[str, typer.Argument(help="The vendor's id.")],
    why: Why,
    workspace: WorkspaceOpt = None,
    frontend: Frontend = None,
    by: By = "",
) -> None:
    """Cut a vendor off: status: cut in vendors.yaml (comments kept; a running relay stops
    forwarding to it within a tenth of a second), a front-end CSP and SDK list without it,
    and the decision with its time in the incident's audit log (--workspace)."""
    _switch("cut", vendors, vendor, why, by, workspace, frontend)


@vendors_app.command("restore")
def vendors_restore(
    vendors: VendorsFile,
    vendor: Annotated[str, typer.Argument(help="The vendor's id.")],
    why: Why,
    workspace: WorkspaceOpt = None,
    frontend: Frontend = None,
    by: By = "",
) -> None:
    """Undo a cut: status: active again, the front-end config with the vendor, and the
    decision in the audit log (--workspace)."""
    _switch("restore", vendors, vendor, why, by, workspace, frontend)


@vendors_app.command("review")
def vendors_review(
    vendors: VendorsFile,
    vendor: Annotated[str | None, typer.Argument(help="Record a review of this vendor.")] = None,
    workspace: WorkspaceOpt = None,
    reviewer: Annotated[str, typer.Option(help="Who reviewed.")] = "",
    findings: Annotated[str, typer.Option(help="What the review found.")] = "",
    decision: Annotated[str, typer.Option(help="approve, conditions or terminate.")] = "",
    next_review: Annotated[
        str | None, typer.Option("--next", help="Next review (default: by tier, 6–24 months).")
    ] = None,
    on: Annotated[str | None, typer.Option(help="Date of the review (default: today).")] = None,
) -> None:
    """Without VENDOR: every vendor's last and next review, overdue ones and missing DPAs
    first (exit 1 if any). With VENDOR: record a review in the store and the audit log and
    set last_review in vendors.yaml (--workspace, --reviewer, --findings, --decision)."""
    from breachdesk.errors import InputError
    from breachdesk.services.vendors import record_review, review_status

    if vendor is not None:
        if workspace is None:
            _cli()._fail(InputError("recording a review needs --workspace"))
        _with(workspace, lambda ws: record_review(vendors, ws, vendor, reviewer, findings,
                                                  decision, next_review, on))  # fmt: skip
        _say(f"review of {vendor} recorded")
    rows = _with(workspace, lambda ws: review_status(vendors, ws))
    table = Table(title="vendor reviews", title_justify="left")
    for column in ("vendor", "tier", "DPA", "status", "last review", "decision", "next review",
                   ""):  # fmt: skip
        table.add_column(column)
    rows.sort(key=lambda r: (not r.overdue, r.dpa != "missing", r.vendor))
    for r in rows:
        flag = "OVERDUE" if r.overdue else ""
        table.add_row(r.vendor, str(r.tier), r.dpa, r.status, str(r.last_review or "never"),
                      r.decision or "—", str(r.next_review or "now"), flag,
                      style="red" if r.overdue or r.dpa == "missing" else None)  # fmt: skip
    _cli().out.print(table)
    if vendor is None and any(r.overdue or r.dpa == "missing" for r in rows):
        raise typer.Exit(1)


@relay_app.command("serve")
def relay_serve(
    vendors: VendorsFile,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8090,
    state: Annotated[
        Path | None, typer.Option(help="Spool and observed fields (default: relay-state/ beside).")
    ] = None,
    max_body: Annotated[int, typer.Option(help="Largest request body, bytes.", min=1024)] = 1 << 20,
    spool_max_bytes: Annotated[
        int, typer.Option(help="Spool bound per vendor while it is down, bytes.", min=1 << 16)
    ] = 256 << 20,
) -> None:
    """Serve the relay: POST /v/VENDOR/track/ (and engage/, groups/) for Mixpanel SDKs,
    /v/VENDOR/v1/{t,p,i,g,a,s,b} for Segment's; GET /metrics (Prometheus), /healthz."""
    import logging

    import uvicorn

    from breachdesk.services.vendors import relay_app as build

    app = _run(lambda: build(vendors, state, max_body, spool_max_bytes))
    logging.basicConfig(level=logging.WARNING, format="breachdesk: %(name)s: %(message)s")
    for vendor_id, policy in sorted(app.policies.items()):
        _say(f"relay: http://{host}:{port}/v/{vendor_id}/ → {policy.vendor.upstream} "
             f"({policy.vendor.protocol}, {policy.vendor.status})")  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                lifespan="on")  # fmt: skip
