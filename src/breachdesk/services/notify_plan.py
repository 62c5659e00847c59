"""Planning notices (issue 4, the first step): one per affected user, and one per affected
organization for each of its admins to notify — idempotent, held where a person must decide.

Addresses, names and locales are re-read from the directory recorded in the workspace's
provenance; if that directory changed since assess, planning refuses unless told to re-match
(which runs assess again on the recorded inputs, keeping the run before as a snapshot and
reporting what changed; see :mod:`breachdesk.services.changes`).

What a notice states beyond the categories (its *facts*): for a user, the credentials found
tied to them, counted per kind; for an admin, the organization's name, how many members are
affected, the names of those without MFA (the admin's own members: the admin is the one who
can act on it) and the credentials found tied to those members. Names are kept only where
they read as names (:func:`breachdesk.notify.names.safe_name`); addresses never.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from pathlib import Path

import orjson

from breachdesk.directory import directory_digest, read_contacts, read_organization_names
from breachdesk.domain.impact import AffectedUser
from breachdesk.engine.spark.hadoop import is_uri
from breachdesk.errors import InputError
from breachdesk.impact import read_impact
from breachdesk.notify.compose import MAX_NAMED, ORG_PUNCTUATION
from breachdesk.notify.names import safe_name
from breachdesk.report.tables import affected_organizations, affected_users, findings
from breachdesk.services.assess import AssessRequest, AssessResult, assess
from breachdesk.services.incident import require_for_notices
from breachdesk.services.workspace import Workspace
from breachdesk.store.models import NoticeStatus
from breachdesk.store.notices import PlanSummary, WantedNotice, save_plan
from breachdesk.taxonomy import Category

__all__ = ["PlanSummary", "plan_notices", "reference_code"]

ROTATE = ("api_key", "credential")  # finding kinds a reader must replace

_CODE = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud, typed by hand


def reference_code() -> str:
    """A code the reader can check on the official site, e.g. BD-7KQ4M-2XPAR."""
    body = "".join(secrets.choice(_CODE) for _ in range(10))
    return f"BD-{body[:5]}-{body[5:]}"


def plan_notices(
    ws: Workspace, include_deactivated: bool = False, rematch: bool = False, readdress: bool = False
) -> PlanSummary:
    """Plan (or refresh) every notice; refused until the incident's details that notices
    state are recorded. With ``rematch``, a changed directory is assessed again first (as
    ``assess --replace`` would: the run before stays, the differences go to its changes).
    ``readdress``: notices not sent yet go to the address the directory now gives (without
    it they keep their address and are held, for a person to check)."""
    workspace = ws.path
    impact = read_impact(ws.output("impact.json"))
    recorded = impact["provenance"]["directory"]
    if recorded is None:
        raise InputError(f"{workspace}: assessed without a directory; run assess --directory first")
    require_for_notices(ws)
    folder = Path(recorded["path"])
    if not folder.is_dir():
        raise InputError(f"{folder}: the directory recorded by assess is gone")
    rematched: AssessResult | None = None
    if directory_digest(folder) != recorded["sha256"]:
        if not rematch:
            raise InputError(
                f"{folder}: the directory changed since assess (SHA-256 differs); "
                "pass --rematch to assess again against it"
            )
        inputs = ws.settings.inputs
        rematched = assess(
            AssessRequest(
                exports=[Path(p) for p in inputs if not is_uri(p)],
                locations=[p for p in inputs if is_uri(p)],  # inputs at URIs (Spark)
                engine=impact["provenance"].get("engine", "embedded"),  # the engine of the run
                out=workspace,
                directory=folder,
                mapping=Path(ws.settings.mapping) if ws.settings.mapping else None,
                command="breachdesk notify plan --rematch",
                replace=True,
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
    org_names = read_organization_names(folder)
    secrets_of = _credentials(ws.outputs)
    wanted: list[WantedNotice] = []
    mfa = {True: "on", False: "off"}
    for user in users:
        facts: dict[str, object] = {
            "categories": sorted(user.exposed),
            "mfa": mfa.get(user.mfa_enabled, "unknown"),  # type: ignore[arg-type]
        }
        counts = {kind: len(found) for kind, found in sorted(secrets_of[user.user_id].items())}
        if counts:
            facts["credentials"] = counts
        wanted.append(_notice("user", user.user_id, "", contacts, include_deactivated, facts))
    for org in orgs:
        affected = members.get(org.org_id, [])
        without_mfa = [u for u in affected if u.mfa_enabled is False]
        named = sorted(
            n for n in (safe_name(contacts.get(u.user_id, ("", ""))[1]) for u in without_mfa) if n
        )
        rotate: dict[str, set[str]] = defaultdict(set)
        for user in affected:
            for kind, found in secrets_of[user.user_id].items():
                rotate[kind] |= found
        facts = {
            "affected_members": org.affected_members,
            # an organization named in records without an affected member: its id leaked
            "categories": sorted({c for u in affected for c in u.exposed})
            or [Category.ORGANIZATION_ID.value],
            "members_without_mfa": len(without_mfa),
            # by name, for the admin of their own organization (who can act on it): never
            # an address, and only names that read as names
            "without_mfa_names": named[:MAX_NAMED],
            "without_mfa_listable": len(named),  # beyond the cap: not listed, not withheld
            "org_name": safe_name(org_names.get(org.org_id, ""), 8, ORG_PUNCTUATION) or "",
        }
        if rotate:
            facts["credentials"] = {kind: len(found) for kind, found in sorted(rotate.items())}
        for admin in org.admins_to_notify:
            wanted.append(_notice("admin", admin, org.org_id, contacts, include_deactivated, facts))
    summary = save_plan(ws.store, wanted, reference_code, readdress)
    summary.rematched = rematched
    return summary


def _credentials(run: Path) -> defaultdict[str, defaultdict[str, set[str]]]:
    """user id -> finding kind -> fingerprints of the credentials found tied to that user
    (a key seen in a thousand records is one key to replace)."""
    found: defaultdict[str, defaultdict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for row in findings(run):
        if row.kind in ROTATE:
            for user_id in row.user_ids:
                found[user_id][row.kind].add(row.fingerprint)
    return found


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
