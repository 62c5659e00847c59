"""Turning a run's aggregate and impact into the workspace files of docs/ARCHITECTURE.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from breachdesk.detect.inventory import FieldEntry
from breachdesk.detect.scanner import keyed_fingerprint
from breachdesk.display import count_of
from breachdesk.domain.identity import Token, TokenKind, mask_token
from breachdesk.engine.aggregate import RunAggregate, decode_signature, is_personal
from breachdesk.impact import IMPACT_SCHEMA, USER_COLUMNS, Impact
from breachdesk.report.briefing import Briefing
from breachdesk.report.files import csv_bytes, write_private, write_private_table
from breachdesk.report.html import render_report
from breachdesk.report.tables import (
    FINDINGS,
    ORGANIZATIONS,
    TABLES,
    USERS,
    FindingRow,
    findings_table,
    organizations_table,
    write_table,
    write_users_table,
)
from breachdesk.taxonomy import FindingKind


@dataclass
class AssessOutputs:
    folder: Path  # the run's folder, switched into place once everything is written
    provenance: dict[str, Any]
    aggregate: RunAggregate
    inventory: list[FieldEntry]
    signature_ids: dict[str, int]  # encoded signature of each finding -> its engine row
    export_countries: dict[str, int]  # identities per export country (no directory)
    impact: Impact | None
    skipped: list[tuple[str, str]]
    sources: list[str]
    reveal: bool = False
    # records whose only identifiers are device ids: tied to a person (stitched) or not
    stitched: int = 0
    anonymous: int | None = None  # None: every record without a user id or email
    briefing: Briefing | None = None  # what report.html says first
    key: bytes = b""  # the workspace's HMAC key: unmatched identities' fingerprints


@dataclass
class Written:
    impact: dict[str, Any]
    hashes: dict[str, str]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _finding_users(out: AssessOutputs) -> list[tuple[str, ...]]:
    """For each finding, the directory users (or, without a directory, the record's id)."""
    total = out.aggregate.total
    result: list[tuple[str, ...]] = []
    if out.impact is not None:
        for finding in total.findings:
            index = out.signature_ids[finding.signature]
            result.append(out.impact.users_by_signature.get(index, ()))
        return result
    for finding in total.findings:
        tokens = decode_signature(finding.signature)
        ids = tuple(t.value for t in tokens if t.kind is TokenKind.USER_ID)
        result.append(ids[:1])
    return result


def build_impact(out: AssessOutputs, finished: str) -> dict[str, Any]:
    total = out.aggregate.total
    rejected = len(total.rejects)
    records = {
        "lines": total.read + rejected + total.blank,
        "read": total.read,
        "rejected": rejected,
        "blank": total.blank,  # lines = read + rejected + blank
        "anonymous": total.anonymous if out.anonymous is None else out.anonymous,
        "unmatched_records": out.impact.unmatched_records if out.impact else None,
        "stitched": out.stitched,
        "country_unmapped": total.country_unmapped,
    }
    fields = [
        {
            "path": f.path,
            "category": f.category.value if f.category else None,
            "categories": [{"category": c.value, "share": s} for c, s in f.shares],
            "confidence": f.confidence,
            "present": f.present,
        }
        for f in out.inventory
    ]
    scanned = {"values": total.scanned_values, "fields": len(total.scanned_fields)}
    finding_users = _finding_users(out)
    findings = []
    for kind in FindingKind:
        mine = [
            (f, users)
            for f, users in zip(total.findings, finding_users, strict=True)
            if f.kind is kind
        ]
        rules = Counter(f.rule for f, _ in mine)
        paths = sorted({f.field for f, _ in mine})
        if out.impact is not None:
            people = len({u for _, users in mine for u in users})
        else:
            people = len({f.signature for f, _ in mine if is_personal(f.signature)})
        distinct = len({f.fingerprint for f, _ in mine})
        in_values = count_of(scanned["values"], "value")
        scanned_text = f"{in_values} in {count_of(scanned['fields'], 'field')} scanned"
        if mine:
            statement = (
                f"present: {count_of(len(mine), 'value')} ({distinct:,} distinct) in "
                f"{count_of(len(paths), 'field')}; {scanned_text}"
            )
        else:
            statement = f"absent: {scanned_text}"
        findings.append(
            {
                "kind": kind.value,
                "count": len(mine),
                "distinct_values": distinct,
                "users": people,
                "rules": [{"rule": r, "count": n} for r, n in sorted(rules.items())],
                "fields": paths,
                "statement": statement,
            }
        )
    affected = None
    by_country: dict[str, dict[str, Any]] = {}
    if out.impact is not None:
        impact = out.impact
        affected = {
            "users": impact.user_count,
            "organizations": len(impact.organizations),
            "admins_to_notify": impact.admins_to_notify,
            "unmatched_identities": len(impact.unmatched),
            # what unmatched.csv's records add up to: a record holding several unmatched
            # identities (a user id and an email) is counted under each, so this can be more
            # than records.unmatched_records
            "unmatched_identity_records": sum(u.records for u in impact.unmatched),
            "users_without_mfa": impact.users_without_mfa,
            "users_mfa_unknown": impact.users_mfa_unknown,
        }
        for country, (users, source) in impact.country_counts().items():
            by_country[country] = {"users": users, "source": source}
    else:
        for country in sorted(out.export_countries):
            by_country[country] = {"users": out.export_countries[country], "source": "export"}
    provenance = dict(out.provenance)
    provenance["finished"] = finished
    provenance["event_time"] = (
        {"first": _iso(total.time_first), "last": _iso(total.time_last)}
        if total.time_first is not None and total.time_last is not None
        else None
    )
    keys = ["tool_version", "rules_version", "command", "engine", "started", "finished",
            "inputs", "containers", "directory", "mapping", "event_time"]  # fmt: skip
    return {
        "schema": IMPACT_SCHEMA,
        "provenance": {k: provenance[k] for k in keys if k in provenance},
        "records": records,
        "fields": fields,
        "scanned": scanned,
        "findings": findings,
        "affected": affected,
        "by_country": by_country,
    }


def write_outputs(out: AssessOutputs, finished: str) -> Written:
    """Every output of the run into its folder: the files of docs/ARCHITECTURE.md for people, and
    the typed tables (``tables/*.parquet``) that later commands read."""
    ws = out.folder
    impact = build_impact(out, finished)
    hashes: dict[str, str] = {}
    total = out.aggregate.total
    (ws / TABLES).mkdir(mode=0o700, exist_ok=True)

    def put(name: str, data: bytes) -> None:
        hashes[name] = write_private(ws / name, data)

    org_rows: list[list[object]] = []
    unmatched_rows: list[list[object]] = []
    # already sorted by the engine; written by Arrow, as it may hold millions of rows
    users = out.impact.users if out.impact is not None else empty_users()
    hashes["affected_users.csv"] = write_private_table(
        ws / "affected_users.csv", users.select(list(USER_COLUMNS))
    )
    hashes[f"{TABLES}/{USERS}"] = write_users_table(ws / TABLES / USERS, users)
    organizations = out.impact.organizations if out.impact is not None else ()
    hashes[f"{TABLES}/{ORGANIZATIONS}"] = write_table(
        ws / TABLES / ORGANIZATIONS, organizations_table(organizations)
    )
    if out.impact is not None:
        for o in out.impact.organizations:
            org_rows.append([o.org_id, o.affected_members, ";".join(o.admins_to_notify)])
        for ident in out.impact.unmatched:
            token = Token(ident.kind, ident.value)
            row: list[object] = [
                mask_token(token), ident.kind.value, ident.records, ident.reason,
                keyed_fingerprint(out.key, ident.kind.value, ident.value),
            ]  # fmt: skip
            if out.reveal:
                row.append(ident.value)
            unmatched_rows.append(row)
    put(
        "affected_organizations.csv",
        csv_bytes(["org_id", "affected_members", "admins_to_notify"], org_rows),
    )
    # fingerprint: told apart without the value (two addresses may mask alike)
    unmatched_header = ["identity_masked", "kind", "records", "reason", "fingerprint"]
    if out.reveal:
        unmatched_header.append("identity")
    put("unmatched.csv", csv_bytes(unmatched_header, unmatched_rows))
    finding_users = _finding_users(out)
    found = sorted(
        FindingRow(
            out.sources[f.source], f.line, f.record, f.field, f.kind.value, f.rule,
            tuple(users), f.fingerprint, f.masked,
            orjson.dumps(f.detail, option=orjson.OPT_SORT_KEYS).decode() if f.detail else "",
        )
        for f, users in zip(total.findings, finding_users, strict=True)
    )  # fmt: skip
    hashes[f"{TABLES}/{FINDINGS}"] = write_table(ws / TABLES / FINDINGS, findings_table(found))
    put(
        "findings.csv",
        csv_bytes(
            ["source", "line", "record", "field", "kind", "rule", "user_id", "fingerprint",
             "masked_value", "detail"],
            (
                [r.source, r.line, r.record, r.field, r.kind, r.rule, ";".join(r.user_ids),
                 r.fingerprint, r.masked_value, r.detail]
                for r in found
            ),
        ),
    )  # fmt: skip
    put(
        "rejected.csv",
        csv_bytes(
            ["source", "line", "reason", "message"],
            ([out.sources[r.source], r.line, r.reason.value, r.message] for r in total.rejects),
        ),
    )
    put("skipped.csv", csv_bytes(["source", "reason"], out.skipped))
    put("report.html", render_report(impact, out).encode("utf-8"))
    put("impact.json", orjson.dumps(impact, option=orjson.OPT_INDENT_2) + b"\n")
    return Written(impact, hashes)


def empty_users() -> pa.Table:
    names = [*USER_COLUMNS, "country_source"]
    return pa.table({name: pa.array([], pa.string()) for name in names})
