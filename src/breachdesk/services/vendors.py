"""The vendors use cases: check the inventory against what vendors really receive, rank
vendors by the blast radius of their breach, cut a vendor off (and restore it), review
vendors, and build the relay app.

Observed data comes from the real assess pipeline (a sample export assessed into a
temporary workspace, matched to the directory by the same engine) and from the relay's
(vendor, field, category) triples; duties come from the obligations rules evaluator.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.compute as pc

from breachdesk.directory import Directory, directory_digest, load_directory
from breachdesk.domain.incident import iso
from breachdesk.errors import InputError
from breachdesk.impact import read_impact
from breachdesk.obligations.rules import builtin_rules
from breachdesk.private import write_private
from breachdesk.report import tables
from breachdesk.services.workspace import Workspace
from breachdesk.taxonomy import Category, FindingKind
from breachdesk.vendors import blast
from breachdesk.vendors.forward import ForwardSettings
from breachdesk.vendors.inventory import load_inventory
from breachdesk.vendors.killswitch import frontend_policy, locked, set_field, write_in_place
from breachdesk.vendors.model import Inventory, Vendor
from breachdesk.vendors.observed import read_observed
from breachdesk.vendors.relay import Relay, RelayConfig, default_state

BLAST_SCHEMA = "breachdesk.blast-radius/1"
REVIEW_DECISIONS = ("approve", "conditions", "terminate")
REVIEW_INTERVAL = {1: 180, 2: 365, 3: 730}  # days between reviews, by tier


# -- samples: the real assess pipeline over what a vendor holds ----------------------------


@dataclass
class Sample:
    """What assess found in a vendor's export (its own workspace files, read back)."""

    vendor: str
    fields: dict[str, Category | None]  # field name (the vendor's) -> category
    findings: dict[str, Category]  # field -> category of a finding in it
    users: list[tuple[str, str, frozenset[str]]] | None  # country, region, exposed
    organizations: int = 0
    admins: int = 0
    present: dict[str, int] = field(default_factory=dict)  # field -> records holding it
    found: dict[tuple[str, Category], int] = field(default_factory=dict)  # -> values found


def _field_name(path: str) -> str:
    return path.replace("[]", "")


def _read_sample(vendor: str, workspace: Path, matched: bool) -> Sample:
    impact = read_impact(workspace / "impact.json")
    fields = {
        _field_name(f["path"]): Category(f["category"]) if f["category"] else None
        for f in impact["fields"]
    }
    present: dict[str, int] = {}
    for f in impact["fields"]:
        name = _field_name(f["path"])
        # "tags" and "tags[]" are one field to a vendor: a record holding both counts once
        present[name] = max(present.get(name, 0), int(f.get("present") or 0))
    found: Counter[tuple[str, Category]] = Counter()
    for r in tables.findings(workspace):
        found[(_field_name(r.field), FindingKind(r.kind).category)] += 1
    findings = {name: category for name, category in found}
    if not matched:
        return Sample(vendor, fields, findings, None, present=present, found=dict(found))
    users = [(u.country, u.region, frozenset(u.exposed)) for u in tables.affected_users(workspace)]
    orgs = tables.affected_organizations(workspace)
    admins = {a for o in orgs for a in o.admins_to_notify}
    return Sample(vendor, fields, findings, users, len(orgs), len(admins), present, dict(found))


def _is_workspace(path: Path) -> bool:
    return (path / "impact.json").is_file() and (path / "breachdesk.toml").is_file()


def _split_samples(specs: Sequence[str], inventory: Inventory) -> dict[str, list[Path]]:
    """``VENDOR=PATH`` or ``PATH`` (then the one vendor speaking the reader's protocol)."""
    from breachdesk.sources.files import find_inputs, open_inputs
    from breachdesk.sources.framing import recognise

    found: dict[str, list[Path]] = {}
    for spec in specs:
        vendor_id, sep, rest = spec.partition("=")
        if sep and inventory.vendor(vendor_id) is not None:
            path = Path(rest)
        else:
            path = Path(spec)
            vendor_id = ""
        if not path.exists():
            raise InputError(f"--sample {spec}: no such file or folder")
        if not vendor_id:
            protocols: set[str] = set()
            if _is_workspace(path):
                protocols.add("mixpanel")  # assess reads Mixpanel exports today
            else:
                inputs = find_inputs([path])
                for item in open_inputs(inputs.files, inputs.hidden):
                    reader = recognise(item).reader
                    if reader is not None:
                        protocols.add(reader.name.split(".")[0])
            candidates = [v.id for v in inventory.vendors if v.protocol in protocols]
            if len(candidates) != 1:
                raise InputError(
                    f"--sample {spec}: say whose export it is, as VENDOR=PATH "
                    f"(vendors: {', '.join(v.id for v in inventory.vendors)})"
                )
            vendor_id = candidates[0]
        found.setdefault(vendor_id, []).append(path)
    return found


@contextmanager
def _assessed(
    vendor: str, paths: list[Path], directory: Path | None, workers: int | None
) -> Iterator[Sample]:
    """Assess a vendor's sample (or reuse an assess workspace made from the same directory)
    and read back what it found."""
    if len(paths) == 1 and _is_workspace(paths[0]):
        ws = paths[0]
        recorded = (read_impact(ws / "impact.json")["provenance"] or {}).get("directory")
        matched = directory is not None and recorded is not None
        if (
            directory is not None
            and recorded is not None
            and (recorded["sha256"] != directory_digest(directory))
        ):
            raise InputError(f"{ws}: assessed with another directory than {directory}")
        yield _read_sample(vendor, ws, matched)
        return
    from breachdesk.services.assess import AssessRequest, assess

    with tempfile.TemporaryDirectory(prefix="breachdesk-sample-") as tmp:
        ws = Path(tmp) / "ws"
        assess(AssessRequest(paths, ws, directory=directory, workers=workers,
                             command="breachdesk vendors (sample)"))  # fmt: skip
        yield _read_sample(vendor, ws, directory is not None)


# -- check ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Undeclared:
    vendor: str
    field: str
    category: str | None
    source: str  # "relay" or the sample's path
    # records of the sample holding the field, or requests the relay saw it in (an estimate:
    # the relay samples one request in eight once warm)
    seen: int


@dataclass(frozen=True)
class NewCategory:
    """A personal-data category a vendor receives that no flow declares, and where: each
    field that brings it, with a count and what it counts ("records" of a sample holding
    the field, "requests" the relay saw it in, or values "found" in it by a detector, such
    as a token in a URL)."""

    vendor: str
    category: str
    source: str  # "relay" or the sample's path
    fields: tuple[tuple[str, int, str], ...]  # (field, count, what it counts), by field


@dataclass(frozen=True)
class CheckReport:
    inventory: Inventory
    undeclared: tuple[Undeclared, ...]  # fields a vendor receives that no flow declares
    categories: tuple[NewCategory, ...]  # categories not declared, by vendor and category

    @property
    def clean(self) -> bool:
        return not self.undeclared and not self.categories


def check(
    path: Path,
    samples: Sequence[str] = (),
    observed: Path | None = None,
    workers: int | None = None,
) -> CheckReport:
    """Validate vendors.yaml; list what vendors are seen to receive that it does not say."""
    inventory = load_inventory(path)
    seen: list[tuple[str, str, Category | None, str, int]] = []
    found: list[tuple[str, str, Category, str, int]] = []  # what findings in a field expose
    relay_file = observed or default_state(path) / "observed.json"
    if observed is not None or relay_file.exists():
        for o in read_observed(relay_file):
            category = Category(o.category) if o.category else None
            seen.append((o.vendor, o.field, category, "relay", o.seen))
    for vendor_id, paths in _split_samples(samples, inventory).items():
        with _assessed(vendor_id, paths, None, workers) as sample:
            where = ", ".join(str(p) for p in paths)
            for name, category in sample.fields.items():
                seen.append((vendor_id, name, category, where, sample.present.get(name, 0)))
            for (name, category), n in sample.found.items():
                found.append((vendor_id, name, category, where, n))
    undeclared: dict[tuple[str, str, str], Undeclared] = {}
    new_categories: dict[tuple[str, str, str], dict[tuple[str, str], int]] = {}
    for vendor_id, name, category, source, count in seen:
        vendor = inventory.vendor(vendor_id)
        if vendor is None:
            continue
        fields = vendor.declared_fields()
        declared = {c for c in blast.declared_categories(vendor).values() if c is not None}
        if vendor.protocol == "mixpanel" and name == "$distinct_id" and "distinct_id" in fields:
            continue  # a profile's $distinct_id is the events' distinct_id (as the relay reads it)
        if name not in fields and (category is None or category.personal):
            key = (vendor_id, name, source)
            undeclared[key] = Undeclared(
                vendor_id, name, category.value if category else None, source, count
            )
        if category is not None and category.personal and category not in declared:
            where_in = new_categories.setdefault((vendor_id, category.value, source), {})
            unit = (name, "requests" if source == "relay" else "records")
            where_in[unit] = where_in.get(unit, 0) + count
    for vendor_id, name, category, source, count in found:
        vendor = inventory.vendor(vendor_id)
        declared = {c for c in blast.declared_categories(vendor).values() if c} if vendor else set()
        if vendor is not None and category not in declared:
            where_in = new_categories.setdefault((vendor_id, category.value, source), {})
            where_in[(name, "found")] = where_in.get((name, "found"), 0) + count
    return CheckReport(
        inventory,
        tuple(sorted(undeclared.values(), key=lambda u: (u.vendor, u.field, u.source))),
        tuple(
            NewCategory(
                vendor_id,
                category,
                source,
                tuple((name, n, unit) for (name, unit), n in sorted(where_in.items())),
            )
            for (vendor_id, category, source), where_in in sorted(new_categories.items())
        ),
    )


# -- blast radius --------------------------------------------------------------------------


@dataclass(frozen=True)
class BlastReport:
    inventory: Path
    directory: Path
    generated: str
    vendors: tuple[blast.VendorBlast, ...]  # ranked, worst first

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": BLAST_SCHEMA,
            "inventory": str(self.inventory),
            "directory": str(self.directory),
            "generated": self.generated,
            "vendors": [_plainly(v) for v in self.vendors],
        }


def _plainly(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _directory_upper_bound(directory: Directory) -> tuple[list[tuple[str, str]], int, int]:
    """Every active user (country, region), organizations with one, their active admins."""
    users = directory.users.filter(pc.field("active"))
    people = list(zip(users.column("country").to_pylist(), users.column("region").to_pylist(),
                      strict=True))  # fmt: skip
    active = set(users.column("user_id").to_pylist())
    orgs: set[str] = set()
    admins: set[str] = set()
    for row in directory.memberships.to_pylist():
        if row["user_id"] in active:
            orgs.add(row["org_id"])
            if row["role"] in ("owner", "admin"):
                admins.add(row["user_id"])
    return people, len(orgs), len(admins)


def blast_radius(
    path: Path,
    directory: Path,
    samples: Sequence[str] = (),
    what_if: bool = False,
    ws: Workspace | None = None,
    workers: int | None = None,
) -> BlastReport:
    """Each vendor's exposure, ranked; written to ``WORKSPACE/vendors/blast_radius.json``
    when a workspace is given (the dashboard shows it)."""
    inventory = load_inventory(path)
    rules = builtin_rules()
    loaded = load_directory(directory)
    everyone, all_orgs, all_admins = _directory_upper_bound(loaded)
    by_vendor = _split_samples(samples, inventory)
    results = []
    for vendor in inventory.vendors:
        if vendor.id in by_vendor:
            with _assessed(vendor.id, by_vendor[vendor.id], directory, workers) as sample:
                results.append(_vendor_blast(vendor, sample, everyone, all_orgs, all_admins,
                                             rules, what_if))  # fmt: skip
        else:
            results.append(_vendor_blast(vendor, None, everyone, all_orgs, all_admins, rules,
                                         what_if))  # fmt: skip
    report = BlastReport(path.resolve(), directory.resolve(), iso(datetime.now(UTC)),
                         tuple(blast.rank(results)))  # fmt: skip
    if ws is not None:
        folder = ws.path / "vendors"
        folder.mkdir(mode=0o700, exist_ok=True)
        write_private(folder / "blast_radius.json",
                      orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2))  # fmt: skip
    return report


def _vendor_blast(
    vendor: Vendor,
    sample: Sample | None,
    everyone: list[tuple[str, str]],
    all_orgs: int,
    all_admins: int,
    rules: list[Any],
    what_if: bool,
) -> blast.VendorBlast:
    declared = blast.declared_categories(vendor)
    fields: list[tuple[str, str | None, str]] = [
        (name, c.value if c else None, "declared") for name, c in declared.items()
    ]
    in_fields = {c for c in declared.values() if c is not None}  # the fields' own categories
    observed: set[Category] = set()
    findings: set[Category] = set()  # of values found inside fields (a token in a note)
    if sample is not None:
        for name, category in sample.fields.items():
            if category is not None and category.personal:
                observed.add(category)
                if name not in declared:
                    fields.append((name, category.value, "observed"))
        findings = set(sample.findings.values())
    in_fields |= observed
    observed |= findings
    held = in_fields | findings
    if sample is not None and sample.users is not None:
        # each person's own categories, as assess matched them: ``breachdesk obligations``
        # groups the same people the same way, so both give the same outcome per regime
        people = [(c, r, exposed) for c, r, exposed in sample.users]
        users, orgs, admins, upper = len(people), sample.organizations, sample.admins, False
        flowing: set[Category] = set()
        findings = set()  # already in the people's own categories when theirs
    else:
        # no one matched: every active user, with what flows to the vendor for everyone
        # (declared, and the fields seen); findings in a few values are only a condition
        people = [(c, r, frozenset()) for c, r in everyone]
        users, orgs, admins, upper = len(people), all_orgs, all_admins, True
        flowing = in_fields
    countries = Counter(c for c, _, _ in people if c)
    exposure = blast.exposure(held, people, rules, flowing, findings)
    after = None
    if what_if:
        observed_fields = sample.fields if sample else {}
        kept = blast.after_minimisation(vendor, observed_fields, {})
        kept_found = blast.after_minimisation(
            vendor, observed_fields, sample.findings if sample else {}
        )
        after = blast.exposure(
            kept_found, [(c, r, frozenset()) for c, r, _ in people], rules, kept, kept_found - kept
        )
    return blast.VendorBlast(
        vendor=vendor.id, name=vendor.name, tier=vendor.tier, status=vendor.status,
        dpa=vendor.dpa, users=users, organizations=orgs, admins=admins, upper_bound=upper,
        by_country=dict(countries.most_common()),
        declared=tuple(sorted({c.value for c in declared.values() if c})),
        observed=tuple(sorted(c.value for c in observed)),
        fields=tuple(sorted(fields)), exposure=exposure, what_if=after,
    )  # fmt: skip


def read_blast(workspace: Path) -> dict[str, Any] | None:
    """The last blast radius written for this workspace, or None."""
    path = workspace / "vendors" / "blast_radius.json"
    if not path.exists():
        return None
    data = orjson.loads(path.read_bytes())
    return data if isinstance(data, dict) and data.get("schema") == BLAST_SCHEMA else None


# -- kill switch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchResult:
    vendor: str
    status: str
    changed: bool
    at: datetime
    csp: Path
    sdks: Path
    audit_seq: int | None = None
    after_awareness: timedelta | None = None


def write_frontend(inventory: Inventory, folder: Path) -> tuple[Path, Path]:
    """``csp.txt`` (the Content-Security-Policy header value) and ``sdks.json`` (the SDKs
    the front end may load), from the vendors that are not cut off."""
    csp, sdks = frontend_policy(inventory)
    folder.mkdir(parents=True, exist_ok=True)
    csp_path, sdks_path = folder / "csp.txt", folder / "sdks.json"
    write_private(csp_path, (csp + "\n").encode())
    write_private(sdks_path, orjson.dumps(sdks, option=orjson.OPT_INDENT_2) + b"\n")
    for written in (csp_path, sdks_path):
        written.chmod(0o644)  # served to browsers: no personal data in them
    return csp_path, sdks_path


def _switch(
    path: Path,
    vendor_id: str,
    status: str,
    why: str,
    by: str,
    ws: Workspace | None,
    frontend: Path | None,
) -> SwitchResult:
    reason = why.strip()
    if not reason:
        raise InputError("--why is required: say why the vendor is cut off or restored")
    with locked(path):
        text = path.read_text(encoding="utf-8")
        new_text, _ = set_field(text, str(path), vendor_id, "status", status)
        if new_text != text:
            write_in_place(path, new_text)
        at = datetime.now(UTC)
    inventory = load_inventory(path)
    csp, sdks = write_frontend(inventory, frontend or path.resolve().parent / "frontend")
    seq = None
    after = None
    if ws is not None and new_text != text:
        seq, after = _record_switch(ws, vendor_id, status, reason, by, at, path)
    return SwitchResult(vendor_id, status, new_text != text, at, csp, sdks, seq, after)


def _record_switch(
    ws: Workspace, vendor_id: str, status: str, why: str, by: str, at: datetime, path: Path
) -> tuple[int, timedelta | None]:
    from breachdesk.store.incident import view
    from breachdesk.store.vendors import record_switch

    seq = record_switch(ws.store, vendor_id, status, why, by, at, str(path))
    company = next((a.aware_at for a in view(ws.store).awareness if a.party == "company"), None)
    return seq, (at - company if company is not None else None)


def cut(
    path: Path,
    vendor_id: str,
    why: str,
    by: str,
    ws: Workspace | None = None,
    frontend: Path | None = None,
) -> SwitchResult:
    """Cut a vendor off: ``status: cut`` in vendors.yaml (the relay stops forwarding), the
    front-end config without it, and the decision in the incident's audit log."""
    return _switch(path, vendor_id, "cut", why, by, ws, frontend)


def restore(
    path: Path,
    vendor_id: str,
    why: str,
    by: str,
    ws: Workspace | None = None,
    frontend: Path | None = None,
) -> SwitchResult:
    return _switch(path, vendor_id, "active", why, by, ws, frontend)


# -- reviews -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewStatus:
    vendor: str
    name: str
    tier: int
    dpa: str
    status: str
    last_review: date | None
    reviewer: str
    decision: str
    next_review: date | None
    overdue: bool


def record_review(
    path: Path,
    ws: Workspace,
    vendor_id: str,
    reviewer: str,
    findings: str,
    decision: str,
    next_review: str | None = None,
    reviewed_on: str | None = None,
) -> ReviewStatus:
    """Record a review in the store and the audit log, and set ``last_review`` in
    vendors.yaml (comments kept)."""
    from breachdesk.store.vendors import ReviewRow, add_review

    inventory = load_inventory(path)
    vendor = inventory.vendor(vendor_id)
    if vendor is None:
        raise InputError(f"{path}: no vendor {vendor_id!r}")
    if decision not in REVIEW_DECISIONS:
        raise InputError(f"--decision {decision!r}: one of {', '.join(REVIEW_DECISIONS)}")
    if not reviewer.strip() or not findings.strip():
        raise InputError("a review needs --reviewer and --findings")
    on = _date(reviewed_on, "--on") if reviewed_on else datetime.now(UTC).date()
    following = (
        _date(next_review, "--next")
        if next_review
        else on + timedelta(days=REVIEW_INTERVAL[vendor.tier])
    )
    if following <= on:
        raise InputError(f"--next {following}: must come after the review ({on})")
    row = ReviewRow(0, vendor_id, on, reviewer.strip(), findings.strip(), decision, following,
                    datetime.now(UTC))  # fmt: skip
    add_review(ws.store, row)
    if vendor.last_review is None or on > vendor.last_review:
        with locked(path):
            text = path.read_text(encoding="utf-8")
            new_text, _ = set_field(text, str(path), vendor_id, "last_review", on.isoformat())
            if new_text != text:
                write_in_place(path, new_text)
    return next(s for s in review_status(path, ws) if s.vendor == vendor_id)


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} {text!r}: expected a date such as 2026-12-01") from None


def review_status(
    path: Path, ws: Workspace | None, today: date | None = None
) -> list[ReviewStatus]:
    """Every vendor's last review and the next one due: from the store when reviewed there,
    else from ``last_review`` in vendors.yaml and the tier's interval."""
    from breachdesk.store.vendors import latest_reviews

    inventory = load_inventory(path)
    latest = latest_reviews(ws.store) if ws is not None else {}
    now = today or datetime.now(UTC).date()
    found = []
    for v in inventory.vendors:
        row = latest.get(v.id)
        last = row.reviewed_on if row else v.last_review
        due = row.next_review if row else (
            last + timedelta(days=REVIEW_INTERVAL[v.tier]) if last else None
        )  # fmt: skip
        found.append(
            ReviewStatus(
                v.id,
                v.name,
                v.tier,
                v.dpa,
                v.status,
                last,
                row.reviewer if row else "",
                row.decision if row else "",
                due,
                due is None or due < now,
            )
        )
    return found


# -- relay ---------------------------------------------------------------------------------


def relay_app(
    path: Path,
    state: Path | None = None,
    max_body: int = 1 << 20,
    spool_max_bytes: int = 256 << 20,
    settings: ForwardSettings | None = None,
) -> Relay:
    """The relay for vendors.yaml (validated now: bad input fails before serving)."""
    forward = settings or ForwardSettings(spool_max_bytes=spool_max_bytes)
    return Relay(RelayConfig(path, state or default_state(path), max_body=max_body,
                             forward=forward))  # fmt: skip


# -- the dashboard's vendors page ----------------------------------------------------------


@dataclass(frozen=True)
class VendorDesk:
    """What the dashboard shows of the vendors: cuts and the time since awareness, the
    ranked blast radius last computed for this workspace, overdue reviews, missing DPAs."""

    cuts: tuple[Any, ...]  # domain.incident.VendorCut
    blast: dict[str, Any] | None
    reviews: list[ReviewStatus]
    problem: str  # why the inventory could not be read, or ""


def vendor_desk(ws: Workspace, today: date | None = None) -> VendorDesk:
    from breachdesk.errors import BreachdeskError
    from breachdesk.services.incident import show

    blast_json = read_blast(ws.path)
    reviews: list[ReviewStatus] = []
    problem = ""
    if blast_json is None:
        problem = (f"no blast radius yet: breachdesk vendors blast-radius VENDORS.yaml "
                   f"--directory DIR --workspace {ws.path}")  # fmt: skip
    else:
        try:
            reviews = review_status(Path(blast_json["inventory"]), ws, today)
        except BreachdeskError as exc:
            problem = str(exc)
    reviews.sort(key=lambda r: (not r.overdue, r.dpa != "missing", r.vendor))
    return VendorDesk(show(ws).vendor_cuts, blast_json, reviews, problem)
