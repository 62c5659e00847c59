"""Planning notices (issue 4, the first step): one per affected user, and one per affected
organization for each of its admins to notify — idempotent, held where a person must decide.

Addresses, names and locales are re-read from the directory recorded in the workspace's
provenance; if that directory changed since assess, planning refuses unless told to re-match
(which runs assess again on the recorded inputs).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import orjson

from breachdesk.directory import directory_digest, read_contacts
from breachdesk.domain.identity import mask_whole_email
from breachdesk.domain.impact import AffectedUser
from breachdesk.errors import InputError
from breachdesk.impact import read_impact
from breachdesk.report.tables import affected_organizations, affected_users
from breachdesk.services.assess import AssessRequest, assess
from breachdesk.services.workspace import Workspace
from breachdesk.store.models import NoticeStatus
from breachdesk.store.notices import PlanSummary, WantedNotice, save_plan
from breachdesk.taxonomy import Category

__all__ = ["PlanSummary", "plan_notices", "reference_code"]

_CODE = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud, typed by hand


def reference_code() -> str:
    """A code the reader can check on the official site, e.g. BD-7KQ4M-2XPAR."""
    body = "".join(secrets.choice(_CODE) for _ in range(10))
    return f"BD-{body[:5]}-{body[5:]}"


def plan_notices(
    ws: Workspace, include_deactivated: bool = False, rematch: bool = False
) -> PlanSummary:
    workspace = ws.path
    impact = read_impact(ws.output("impact.json"))
    recorded = impact["provenance"]["directory"]
    if recorded is None:
        raise InputError(f"{workspace}: assessed without a directory; run assess --directory first")
    folder = Path(recorded["path"])
    if not folder.is_dir():
        raise InputError(f"{folder}: the directory recorded by assess is gone")
    if directory_digest(folder) != recorded["sha256"]:
        if not rematch:
            raise InputError(
                f"{folder}: the directory changed since assess (SHA-256 differs); "
                "pass --rematch to assess again against it"
            )
        assess(
            AssessRequest(
                exports=[Path(p) for p in ws.settings.inputs],
                out=workspace,
                directory=folder,
                mapping=Path(ws.settings.mapping) if ws.settings.mapping else None,
                command="breachdesk notify plan --rematch",
            ),
            ws=ws,
        )
    users = list(affected_users(ws.outputs))
    orgs = affected_organizations(ws.outputs)
    members: dict[str, list[AffectedUser]] = {}
    for user in users:
        for org_id in user.organizations:
            members.setdefault(org_id, []).append(user)
    admins = {a for org in orgs for a in org.admins_to_notify}
    contacts = read_contacts(folder, {u.user_id for u in users} | admins)
    wanted: list[WantedNotice] = []
    mfa = {True: "on", False: "off"}
    for user in users:
        facts: dict[str, object] = {
            "categories": sorted(user.exposed),
            "mfa": mfa.get(user.mfa_enabled, "unknown"),  # type: ignore[arg-type]
        }
        wanted.append(_notice("user", user.user_id, "", contacts, include_deactivated, facts))
    for org in orgs:
        affected = members.get(org.org_id, [])
        facts = {
            "affected_members": org.affected_members,
            # an organization named in records without an affected member: its id leaked
            "categories": sorted({c for u in affected for c in u.exposed})
            or [Category.ORGANIZATION_ID.value],
            "members_without_mfa": sum(1 for u in affected if u.mfa_enabled is False),
            # a few of them, masked, so that the admin knows where to start
            "without_mfa_sample": [
                mask_whole_email(contacts[u.user_id][0])
                for u in sorted(affected, key=lambda u: u.user_id)
                if u.mfa_enabled is False and contacts.get(u.user_id, ("",))[0]
            ][:10],
        }
        for admin in org.admins_to_notify:
            wanted.append(_notice("admin", admin, org.org_id, contacts, include_deactivated, facts))
    return save_plan(ws.store, wanted, reference_code)


def _notice(
    kind: str,
    user_id: str,
    org_id: str,
    contacts: dict[str, tuple[str, str, str, bool]],
    include_deactivated: bool,
    facts: dict[str, object],
) -> WantedNotice:
    email, name, locale, active = contacts.get(user_id, ("", "", "", False))
    status, reason = NoticeStatus.PLANNED, ""
    if user_id not in contacts:
        status, reason = NoticeStatus.HELD, "not in the directory any more"
    elif not email:
        status, reason = NoticeStatus.HELD, "no email address"
    elif not active and not include_deactivated:
        status = NoticeStatus.HELD
        reason = "deactivated user: decide, then plan with --include-deactivated"
    return WantedNotice(
        kind, user_id, org_id, email, name, locale, status, reason,
        orjson.dumps(facts, option=orjson.OPT_SORT_KEYS).decode(),
    )  # fmt: skip
