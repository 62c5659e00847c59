"""Planning notices (issue 4, the first step): one per affected user, and one per affected
organization for each of its admins to notify — idempotent, held where a person must decide.

Addresses, names and locales are re-read from the directory recorded in the workspace's
provenance; if that directory changed since assess, planning refuses unless told to re-match
(which runs assess again on the recorded inputs).
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import insert, select

from breachdesk.directory import directory_digest, read_contacts
from breachdesk.domain.identity import mask_whole_email
from breachdesk.domain.incident import iso
from breachdesk.errors import InputError
from breachdesk.impact import read_impact
from breachdesk.services.assess import AssessRequest, assess
from breachdesk.services.incident import open_workspace_store
from breachdesk.services.workspace import table_rows
from breachdesk.settings import load_settings
from breachdesk.store import Store, append_event
from breachdesk.store import models as m
from breachdesk.taxonomy import Category

_CODE = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud, typed by hand


def reference_code() -> str:
    """A code the reader can check on the official site, e.g. BD-7KQ4M-2XPAR."""
    body = "".join(secrets.choice(_CODE) for _ in range(10))
    return f"BD-{body[:5]}-{body[5:]}"


@dataclass
class PlanSummary:
    new: Counter[str] = field(default_factory=Counter)  # kind/status -> notices added
    existing: int = 0
    held: Counter[str] = field(default_factory=Counter)  # reason -> notices held


def plan_notices(
    workspace: Path,
    include_deactivated: bool = False,
    rematch: bool = False,
    store_url: str | None = None,
) -> PlanSummary:
    impact = read_impact(workspace / "impact.json")
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
        settings = load_settings(workspace)
        assess(
            AssessRequest(
                exports=[Path(p) for p in settings.inputs],
                out=workspace,
                directory=folder,
                command="breachdesk notify plan --rematch",
            )
        )
    users = list(table_rows(workspace, "affected_users.csv"))
    orgs = list(table_rows(workspace, "affected_organizations.csv"))
    members: dict[str, list[dict[str, str]]] = {}
    for user in users:
        for org_id in filter(None, user["organizations"].split(";")):
            members.setdefault(org_id, []).append(user)
    admins = {a for org in orgs for a in filter(None, org["admins_to_notify"].split(";"))}
    contacts = read_contacts(folder, {u["user_id"] for u in users} | admins)
    wanted: list[dict[str, object]] = []
    mfa = {"true": "on", "false": "off"}
    for user in users:
        facts: dict[str, object] = {
            "categories": sorted(c for c in user["exposed"].split(";") if c),
            "mfa": mfa.get(user["mfa_enabled"], "unknown"),
        }
        wanted.append(_notice("user", user["user_id"], "", contacts, include_deactivated, facts))
    for org in orgs:
        affected = members.get(org["org_id"], [])
        facts = {
            "affected_members": int(org["affected_members"]),
            # an organization named in records without an affected member: its id leaked
            "categories": sorted({c for u in affected for c in u["exposed"].split(";") if c})
            or [Category.ORGANIZATION_ID.value],
            "members_without_mfa": sum(1 for u in affected if u["mfa_enabled"] == "false"),
            # a few of them, masked, so that the admin knows where to start
            "without_mfa_sample": [
                mask_whole_email(contacts[u["user_id"]][0])
                for u in sorted(affected, key=lambda u: u["user_id"])
                if u["mfa_enabled"] == "false" and contacts.get(u["user_id"], ("",))[0]
            ][:10],
        }
        for admin in filter(None, org["admins_to_notify"].split(";")):
            wanted.append(
                _notice("admin", admin, org["org_id"], contacts, include_deactivated, facts)
            )
    store = open_workspace_store(workspace, store_url)
    try:
        return _save(store, wanted)
    finally:
        store.close()


def _notice(
    kind: str,
    user_id: str,
    org_id: str,
    contacts: dict[str, tuple[str, str, str, bool]],
    include_deactivated: bool,
    facts: dict[str, object],
) -> dict[str, object]:
    email, name, locale, active = contacts.get(user_id, ("", "", "", False))
    status, reason = "planned", ""
    if user_id not in contacts:
        status, reason = "held", "not in the directory any more"
    elif not email:
        status, reason = "held", "no email address"
    elif not active and not include_deactivated:
        status, reason = "held", "deactivated user: decide, then plan with --include-deactivated"
    return {
        "kind": kind, "user_id": user_id, "org_id": org_id, "email": email, "name": name,
        "locale": locale, "status": status, "hold_reason": reason,
        "facts": orjson.dumps(facts, option=orjson.OPT_SORT_KEYS).decode(),
    }  # fmt: skip


def _save(store: Store, wanted: list[dict[str, object]]) -> PlanSummary:
    summary = PlanSummary()
    incident = store.incident_id()
    now = iso(datetime.now(UTC))
    with store.session() as session, session.begin():
        existing = {
            (k, u, o): (i, s, f, e)
            for i, k, u, o, s, f, e in session.execute(
                select(
                    m.Notice.id,
                    m.Notice.kind,
                    m.Notice.user_id,
                    m.Notice.org_id,
                    m.Notice.status,
                    m.Notice.facts,
                    m.Notice.email,
                )
            )
        }
        fresh = []
        for notice in wanted:
            key = (notice["kind"], notice["user_id"], notice["org_id"])
            found = existing.get(key)  # type: ignore[arg-type]
            if found is not None:
                summary.existing += 1
                notice_id, status, facts, email = found
                if status in ("planned", "held") and facts != notice["facts"]:
                    row = session.get(m.Notice, notice_id)
                    assert row is not None
                    row.facts = str(notice["facts"])  # a re-match changed what was exposed
                if status in ("planned", "held", "refused") and email != notice["email"]:
                    # not sent yet: the address as the directory now writes it (a plan made
                    # before addresses were kept as written held their casefolded form)
                    row = session.get(m.Notice, notice_id)
                    assert row is not None
                    row.email = str(notice["email"])
                if status == "refused" and notice["status"] == "planned":
                    # refused by the lint: planning again gives it another pass
                    session.get(m.Notice, notice_id).status = "planned"  # type: ignore[union-attr]
                    summary.new[f"{notice['kind']} re-planned"] += 1
                elif status == "held" and notice["status"] == "planned":
                    # released: a decision was taken (--include-deactivated) or data fixed
                    session.get(m.Notice, notice_id).status = "planned"  # type: ignore[union-attr]
                    summary.new[f"{notice['kind']} released"] += 1
                continue
            fresh.append(
                {
                    **notice,
                    "incident_id": incident,
                    "reference": reference_code(),
                    "created_at": now,
                }
            )
            summary.new[f"{notice['kind']} {notice['status']}"] += 1
            if notice["status"] == "held":
                summary.held[str(notice["hold_reason"])] += 1
        for start in range(0, len(fresh), 5000):
            session.execute(insert(m.Notice), fresh[start : start + 5000])
    append_event(
        store,
        "notify.planned",
        {"new": dict(summary.new), "existing": summary.existing, "held": dict(summary.held)},
    )
    return summary
