"""The demo use case: build a realistic incident with its ground truth, then assess it."""

from __future__ import annotations

import contextlib
import csv
import mailbox
import os
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from breachdesk.demo.export import ExportWriter
from breachdesk.demo.people import DemoOrg, DemoUser, build_directory
from breachdesk.demo.truth import Truth
from breachdesk.errors import InputError
from breachdesk.report.files import write_private
from breachdesk.services.assess import AssessRequest, AssessResult, ProgressFn, assess
from breachdesk.services.workspace import Workspace, prepare_workspace

VENDORS = ("mixpanel", "segment", "amplitude", "posthog", "ga4")


@dataclass(frozen=True)
class DemoRequest:
    out: Path
    users: int = 30_000
    events: int = 300_000
    seed: int = 7
    workers: int | None = None
    vendor: str = "mixpanel"  # whose export shapes to write (VENDORS)


@dataclass
class DemoResult:
    export_dir: Path
    directory_dir: Path
    truth_path: Path
    assess: AssessResult


def write_directory(folder: Path, users: list[DemoUser], orgs: list[DemoOrg]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)

    def table(name: str, header: list[str], rows: list[list[Any]]) -> None:
        path = folder / name
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    table(
        "users.csv",
        ["user_id", "email", "name", "locale", "country", "mfa_enabled", "status", "region",
         "other_emails"],
        [
            [u.user_id, u.email, u.name, u.locale, u.country,
             "" if u.mfa is None else str(u.mfa).lower(),
             "active" if u.active else "deactivated", u.region, ";".join(u.other_emails)]
            for u in users
        ],
    )  # fmt: skip
    table("organizations.csv", ["org_id", "name"], [[o.org_id, o.name] for o in orgs])
    table(
        "memberships.csv",
        ["user_id", "org_id", "role"],
        [[uid, o.org_id, role] for o in orgs for uid, role in o.members],
    )


def ground_truth(truth: Truth, users: list[DemoUser], orgs: list[DemoOrg]) -> dict[str, Any]:
    truth.finish()
    by_id = {u.user_id: u for u in users}
    known = {o.org_id for o in orgs}
    affected = set(truth.users)
    org_rows: dict[str, Any] = {}
    admins: set[str] = set()
    for org in orgs:
        members = {uid for uid, _ in org.members}
        hit = members & affected
        if not hit and org.org_id not in truth.orgs_seen:
            continue
        notify = sorted(
            uid for uid, role in org.members if role in ("owner", "admin") and by_id[uid].active
        )
        admins.update(notify)
        org_rows[org.org_id] = {"affected_members": len(hit), "admins_to_notify": notify}
    assert truth.orgs_seen - known <= {""} | (truth.orgs_seen - known)
    return {
        "affected_users": {uid: sorted(cats) for uid, cats in sorted(truth.users.items())},
        "affected_organizations": org_rows,
        "admins_to_notify": len(admins),
        "unmatched_identities": len(truth.unmatched),
        "unmatched_records": truth.unmatched_records,
        "anonymous": truth.anonymous,
        "stitched": truth.stitched,
        "country_unmapped": truth.country_unmapped,
        "read": truth.read,
        "rejected": truth.rejected,
        "users_without_mfa": sum(1 for uid in affected if by_id[uid].mfa is False),
        "users_mfa_unknown": sum(1 for uid in affected if by_id[uid].mfa is None),
        "planted": truth.planted,
    }


def build_demo(request: DemoRequest, progress: ProgressFn) -> tuple[Path, Path, Path]:
    rng = random.Random(request.seed)
    root = prepare_workspace(request.out)
    export_dir = root / "export"
    directory_dir = root / "directory"
    export_dir.mkdir(exist_ok=True)
    progress("demo: people", 0, None)
    users, orgs = build_directory(rng, request.users)
    write_directory(directory_dir, users, orgs)
    exported = [u for u in users if rng.random() < 0.6]
    ghosts = [f"gone_{k}" for k in range(150)] + [f"ghost.{k}@gone.example" for k in range(150)]
    if request.vendor != "mixpanel":
        truth = _vendor_export(request, rng, users, orgs, exported, ghosts, export_dir)
        return _finish_export(root, export_dir, truth, users, orgs)
    n = len(exported)
    jsonl, paged, ui_csv = (
        exported[: n * 4 // 10],
        exported[n * 4 // 10 : n * 7 // 10],
        exported[n * 7 // 10 : n * 9 // 10],
    )
    writer = ExportWriter(rng, users, orgs)
    writer.write_people_jsonl(export_dir / "people.jsonl", jsonl, ghosts)
    writer.write_people_pages(export_dir / "people_pages.zip", paged)
    writer.write_people_csv(export_dir / "people_ui_export.csv", ui_csv)
    total = request.events
    writer.write_events(
        export_dir / "events.jsonl.gz",
        exported,
        total,
        ghosts,
        lambda done: progress("demo: events", done, total),
    )
    progress("demo: events", total, total)
    return _finish_export(root, export_dir, writer.truth, users, orgs)


def _vendor_export(
    request: DemoRequest,
    rng: random.Random,
    users: list[DemoUser],
    orgs: list[DemoOrg],
    exported: list[DemoUser],
    ghosts: list[str],
    export_dir: Path,
) -> Truth:
    from breachdesk.demo.amplitude import AmplitudeWriter
    from breachdesk.demo.ga4 import Ga4Writer
    from breachdesk.demo.posthog import PostHogWriter
    from breachdesk.demo.segment import SegmentWriter

    writers = {"segment": SegmentWriter, "amplitude": AmplitudeWriter,
               "posthog": PostHogWriter, "ga4": Ga4Writer}  # fmt: skip
    if request.vendor not in writers:
        raise InputError(f"--vendor {request.vendor}: not one of {', '.join(VENDORS)}")
    writer = writers[request.vendor](rng, users, orgs)
    writer.export(export_dir, exported, request.events, ghosts)
    return writer.truth


def _finish_export(
    root: Path, export_dir: Path, truth: Truth, users: list[DemoUser], orgs: list[DemoOrg]
) -> tuple[Path, Path, Path]:
    (export_dir / "README.txt").write_text(
        "Export produced by the vendor's support team at the customer's request.\n",
        encoding="utf-8",
    )
    for path in export_dir.rglob("*"):  # fake people, but kept as the real thing would be
        path.chmod(0o700 if path.is_dir() else 0o600)
    export_dir.chmod(0o700)
    truth_path = root / "truth.json"
    found = ground_truth(truth, users, orgs)
    write_private(truth_path, orjson.dumps(found, option=orjson.OPT_INDENT_2))
    return export_dir, root / "directory", truth_path


def run_demo(request: DemoRequest, progress: ProgressFn | None = None) -> DemoResult:
    report = progress or (lambda stage, done, total: None)
    export_dir, directory_dir, truth_path = build_demo(request, report)
    # the incident's record first, so that the report assess writes has its dates and duties
    with Workspace.create(request.out / "workspace") as ws:
        _record_incident(ws, VENDOR_NAMES.get(request.vendor, request.vendor))
    result = assess(
        AssessRequest(
            exports=[export_dir],
            out=request.out / "workspace",
            directory=directory_dir,
            workers=request.workers,
            command=f"breachdesk assess {export_dir} --directory {directory_dir} "
            f"--out {request.out / 'workspace'} --replace",
            replace=True,  # the demo run again replaces its own demo incident's run
        ),
        report,
    )
    return DemoResult(export_dir, directory_dir, truth_path, result)


VENDOR_NAMES = {"mixpanel": "Mixpanel", "segment": "Segment", "amplitude": "Amplitude",
                "posthog": "PostHog", "ga4": "Google Analytics 4"}  # fmt: skip


def _record_incident(workspace: Workspace, vendor: str = "Mixpanel") -> None:
    """The demo incident's record: who became aware when (so duties get their deadlines), the
    demo company's identity (its own values: a new workspace has none) and a measure taken."""
    from breachdesk.domain.incident import iso
    from breachdesk.services import incident

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    incident.update(
        workspace,
        "demo",
        title="Demo: analytics vendor breach",
        vendor=f"{vendor} (demo)",
        timezone="Europe/Bucharest",
        aware={"vendor": iso(now - timedelta(days=3)), "company": iso(now - timedelta(days=1))},
        dataset_arrived=iso(now - timedelta(hours=6)),
        official_domains=["example.com"],
        sender="security@example.com",
        company="Example Demo Ltd",
        controller="Example Demo Ltd, 1 Demo Street, Bucharest, Romania",
        dpo="Dana Demo, data protection officer, dpo@example.com",
        contact_email="privacy@example.com",
        verify_url="https://example.com/security/notice",
        vendor_incident_start=iso(now - timedelta(days=12)),
        vendor_incident_end=iso(now - timedelta(days=4)),
        own_systems_breached=False,
    )
    if not incident.show(workspace).measures:  # a demo run again keeps the ones it recorded
        for language, text in DEMO_MEASURE.items():
            incident.add_event(
                workspace, iso(now - timedelta(hours=20)), text, "demo", measure=True,
                language=language,
            )  # fmt: skip


# The demo's one measure, in the company's own words ("") and in each notice language.
DEMO_MEASURE = {
    "": "We removed the analytics SDK from our website and apps and revoked the vendor's access.",
    "de": "Wir haben das Analyse-SDK von unserer Website und aus unseren Apps entfernt und "
    "den Zugang des Anbieters gesperrt.",
    "ja": "当社のウェブサイトとアプリから分析用 SDK を削除し、委託先のアクセス権を取り消しました。",
    "ro": "Am eliminat SDK-ul de analiză de pe site-ul și din aplicațiile noastre și am "
    "revocat accesul furnizorului.",
}


@dataclass
class DemoVendors:
    inventory: Path
    blast: Any  # services.vendors.BlastReport
    cut: Any  # services.vendors.SwitchResult


def demo_vendors(out: Path) -> DemoVendors:
    """The demo company's vendors.yaml (the breached analytics vendor, a support desk, an
    error tracker, an email provider), the blast radius of each (the analytics vendor's
    from its own export, assessed above), then the breached vendor cut off."""
    from importlib import resources

    from breachdesk.services import vendors

    path = out / "vendors.yaml"
    text = (resources.files("breachdesk.demo") / "vendors.yaml").read_text("utf-8")
    path.write_text(text, encoding="utf-8")  # a fresh file each run: the cut happens again
    workspace = out / "workspace"
    with Workspace.open(workspace) as ws:
        report = vendors.blast_radius(
            path, out / "directory", [f"mixpanel={workspace}"], what_if=True, ws=ws
        )
        result = vendors.cut(path, "mixpanel", "breached: its export of our users leaked", "demo",
                             ws)  # fmt: skip
    return DemoVendors(path, report, result)


@dataclass
class DemoNotify:
    previews: list[Any]
    sent: Any  # services.notify.SendResult
    status: Any  # services.notify.Status
    maildir: Path
    login_file: Path  # the dashboard user "demo" and its password, readable by the owner
    public: Path  # what the public notice check serves
    checks: list[tuple[str, Path, Any]]  # (what, .eml, phishing MessageCheck)


def demo_notify(out: Path, progress: Any = None, on_start: Any = None) -> DemoNotify:
    """The demo incident's notices: a DKIM key, the plan, five previews, then a live send
    into a real SMTP server on loopback (aiosmtpd) that files every message in a Maildir."""

    with Workspace.open(out / "workspace") as workspace:
        return _notify(workspace, out, progress, on_start)


def _notify(workspace: Workspace, out: Path, progress: Any, on_start: Any) -> DemoNotify:
    from aiosmtpd.controller import Controller

    from breachdesk.services import notify
    from breachdesk.services.notify_plan import plan_notices
    from breachdesk.settings import SmtpSettings

    notify.ensure_dkim_key(workspace)
    plan_notices(workspace)
    previews = notify.preview(workspace, sample=5)
    maildir = out / "sink"
    mailbox.Maildir(maildir, create=True)
    os.chmod(maildir, 0o700)  # the messages name real-looking people
    port = _free_port()
    controller = Controller(
        private_mailbox(maildir), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True
    )
    controller.start()
    try:
        sent = notify.send(
            workspace,
            live=True,
            smtp=SmtpSettings(host="127.0.0.1", port=port, starttls="off", connections=8),
            progress=progress,
            on_start=on_start,
            per_second=0,
            per_domain_per_second=0,
        )
    finally:
        controller.stop()
    from breachdesk.services import users
    from breachdesk.services.verify import publish

    login_file = out / "dashboard-login.txt"
    password = secrets.token_urlsafe(12)
    with contextlib.suppress(InputError):  # a demo run again: a fresh password
        users.remove(workspace, "demo")
    users.add(workspace, "demo", password, "responder")
    write_private(login_file, f"user: demo\npassword: {password}\n".encode())
    published = publish(workspace, out / "public")
    return DemoNotify(
        previews,
        sent,
        notify.status(workspace),
        maildir,
        login_file,
        published.path.parent,
        demo_checks(workspace, maildir, out / "phishing"),
    )


def private_mailbox(maildir: Path) -> Any:
    """aiosmtpd's Maildir handler over ``maildir``, each delivered message readable by its
    owner only (``mailbox`` creates them 0666 less the umask; a notice names its reader)."""
    from aiosmtpd.handlers import Mailbox

    class PrivateMailbox(Mailbox):
        def handle_message(self, message: Any) -> None:
            key = self.mailbox.add(message)
            for sub in ("new", "cur"):
                path = Path(self.mail_dir) / sub / key
                if path.exists():
                    path.chmod(0o600)

    return PrivateMailbox(maildir)


def demo_checks(workspace: Workspace, maildir: Path, folder: Path) -> list[tuple[str, Path, Any]]:
    """The phishing check on one notice as delivered, and on a copy whose link an attacker
    swapped for a lookalike domain (the signature kept)."""
    from breachdesk.services.phishing import check_message

    delivered = sorted(mailbox.Maildir(maildir, create=False).iterkeys())
    if not delivered:
        return []
    data = mailbox.Maildir(maildir, create=False).get_bytes(delivered[0])
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # a notice names its reader
    genuine, tampered = folder / "sent-notice.eml", folder / "tampered-notice.eml"
    write_private(genuine, data)
    write_private(tampered, data.replace(b"https://example.com/", b"https://examp1e.com/"))
    return [
        ("a notice as delivered", genuine, check_message(workspace, genuine)),
        ("the same notice, its link swapped for a lookalike", tampered,
         check_message(workspace, tampered)),
    ]  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
