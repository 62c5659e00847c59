"""What a new assess run changes against the run it replaces, for a person to act on.

A workspace that already holds an incident is only assessed again when told to
(``--replace``): the run in force stays under ``runs/<n>/``, and the new run's folder gets
``changes.json`` and ``changes.csv`` — users and organizations newly affected, no longer
affected, or affected differently — each with the state of its notices. Nothing is done
about them automatically: a notice already planned or sent is never dropped or
re-addressed by a run; a person reads the changes and decides (plan the new ones, correct
or hold the others).

:func:`holding` says what a workspace holds before anything is written, so that a refused
assess leaves it byte for byte as it was.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from breachdesk.display import count_of
from breachdesk.errors import InputError, SchemaError
from breachdesk.impact import Impact, read_impact
from breachdesk.report.files import csv_bytes, write_private
from breachdesk.report.tables import affected_organizations, affected_users
from breachdesk.services.workspace import CURRENT, RUNS
from breachdesk.settings import SETTINGS_FILE, load_settings
from breachdesk.store import Store
from breachdesk.store.notices import admin_notice_states, peek_notice_counts, user_notice_states

CHANGES_SCHEMA = "breachdesk.changes/1"
CHANGES_JSON = "changes.json"
CHANGES_CSV = "changes.csv"


@dataclass(frozen=True)
class Holding:
    """What an existing workspace holds: its runs, the one in force, its notices."""

    path: Path
    runs: tuple[int, ...]
    current: int | None  # None: outputs written before runs existed
    affected_users: int | None  # None: assessed without a directory
    directory: str | None
    notices: Counter[str]

    def refusal(self) -> str:
        """One line: what exists, and how to proceed."""
        what = (
            "no directory matched"
            if self.affected_users is None
            else count_of(self.affected_users, "affected user")
        )
        if self.current is None:
            runs = f"the outputs of an earlier assess ({what})"
        elif len(self.runs) <= 1:
            runs = f"run {self.current} ({what})"
        else:
            runs = f"{len(self.runs)} runs (run {self.current} in force: {what})"
        if self.notices:
            states = ", ".join(f"{n:,} {s}" for s, n in sorted(self.notices.items()))
            notices = f"notices {states}"
        else:
            notices = "no notices planned"
        after = self.runs[-1] + 1 if self.runs else 1
        return (
            f"{self.path} already holds an incident: {runs}, {notices}. To assess again, add "
            f"--replace: the run in force is kept under {RUNS}/, notices planned or sent are "
            f"kept as they are, and what changed is written to {RUNS}/{after}/{CHANGES_CSV}; "
            "or give another --out"
        )


def run_numbers(workspace: Path) -> tuple[int, ...]:
    runs = workspace / RUNS
    if not runs.is_dir():
        return ()
    return tuple(sorted(int(p.name) for p in runs.iterdir() if p.name.isdigit()))


def holding(workspace: Path) -> Holding | None:
    """What ``workspace`` holds, or None when no assess has finished in it. Reads only: no
    file of the workspace is created or changed (the store is not migrated)."""
    link = workspace / CURRENT
    if link.is_symlink():
        folder = link.resolve()
        current: int | None = int(folder.name) if folder.name.isdigit() else None
    elif (workspace / "impact.json").is_file():
        folder, current = workspace, None
    else:
        return None
    try:
        impact = read_impact(folder / "impact.json")
    except SchemaError:
        impact = {}
    affected = impact.get("affected")
    directory = (impact.get("provenance") or {}).get("directory")
    notices: Counter[str] = Counter()
    if (workspace / SETTINGS_FILE).exists():
        settings = load_settings(workspace)
        notices = peek_notice_counts(settings.store_url, workspace)
    return Holding(
        path=workspace,
        runs=run_numbers(workspace),
        current=current,
        affected_users=int(affected["users"]) if affected else None,
        directory=directory["path"] if directory else None,
        notices=notices,
    )


def refuse_forgetting(found: Holding, directory: Path | None) -> None:
    """A run without a directory would forget every affected person the run in force
    matched — the duties and notices rest on them — so it is refused, even with --replace:
    give the directory again (or another)."""
    if directory is None and found.directory is not None:
        matched = count_of(found.affected_users or 0, "affected user")
        raise InputError(
            f"{found.path}: the run in force matched {matched} "
            f"against the directory {found.directory}; a run without --directory would "
            f"forget them: pass --directory {found.directory} (or another directory)"
        )


@dataclass
class Changes:
    """The differences between the run replaced and the new one."""

    previous_run: int | None
    run: int
    users_new: list[str] = field(default_factory=list)
    users_gone: list[str] = field(default_factory=list)
    users_changed: list[str] = field(default_factory=list)  # affected with other categories
    orgs_new: list[str] = field(default_factory=list)
    orgs_gone: list[str] = field(default_factory=list)
    orgs_changed: list[str] = field(default_factory=list)  # other number of members affected
    user_notices: dict[str, str] = field(default_factory=dict)  # user id -> notice state
    admin_notices: dict[str, Counter[str]] = field(default_factory=dict)  # org -> states
    note: str = ""  # why the differences could not be computed, if so

    @property
    def none(self) -> bool:
        return not any((self.users_new, self.users_gone, self.users_changed, self.orgs_new,
                        self.orgs_gone, self.orgs_changed))  # fmt: skip

    def notified_gone(self) -> Counter[str]:
        """Notices of people no longer affected, per state (sent ones need a person most)."""
        return Counter(self.user_notices[u] for u in self.users_gone if u in self.user_notices)

    def counts(self) -> dict[str, Any]:
        return {
            "users": {"newly_affected": len(self.users_new),
                      "no_longer_affected": len(self.users_gone),
                      "exposure_changed": len(self.users_changed)},
            "organizations": {"newly_affected": len(self.orgs_new),
                              "no_longer_affected": len(self.orgs_gone),
                              "members_changed": len(self.orgs_changed)},
            "no_longer_affected_with_notice": dict(sorted(self.notified_gone().items())),
            "newly_affected_with_notice": sum(1 for u in self.users_new
                                              if u in self.user_notices),
        }  # fmt: skip

    def lines(self) -> list[str]:
        """What a person reads after the run (counts; the ids are in the files)."""
        if self.note:
            return [f"changes since run {self.previous_run}: {self.note}"]
        if self.none:
            return [f"changes since run {self.previous_run}: none"]
        c = self.counts()
        u, o = c["users"], c["organizations"]
        notified = ", ".join(f"{n:,} {s}" for s, n in c["no_longer_affected_with_notice"].items())
        return [
            f"changes since run {self.previous_run}: users {u['newly_affected']:,} newly "
            f"affected, {u['no_longer_affected']:,} no longer affected"
            + (f" (their notices: {notified})" if notified else "")
            + f", {u['exposure_changed']:,} with other data exposed; organizations "
            f"{o['newly_affected']:,} newly affected, {o['no_longer_affected']:,} no longer "
            f"affected, {o['members_changed']:,} with another number of members affected",
            f"changes: nothing was done about them; read {RUNS}/{self.run}/{CHANGES_CSV}, then "
            "plan the new notices (notify plan) and decide about the others",
        ]


_PAIR = pa.schema([("user_id", pa.string()), ("exposed", pa.string())])


def _user_table(run: Path) -> pa.Table:
    """A run's affected users and their exposed categories (``;``-joined, as the engine's)."""
    rows = [(u.user_id, ";".join(u.exposed)) for u in affected_users(run)]
    return pa.table({"user_id": [r[0] for r in rows], "exposed": [r[1] for r in rows]}, _PAIR)


def compare_runs(
    store: Store,
    previous: Path,
    previous_run: int | None,
    impact: Impact | None,
    run: int,
) -> Changes:
    """The differences between the run in force (its typed tables) and the new run's impact
    (None: no directory matched), with the state of the notices of whom they concern."""
    changes = Changes(previous_run, run)
    try:
        before = _user_table(previous)
        orgs_before = {o.org_id: o.affected_members for o in affected_organizations(previous)}
    except InputError:
        changes.note = "the run replaced has no typed tables (written by an older version)"
        return changes
    if impact is not None:
        now = impact.users.select(["user_id", "exposed"]).cast(_PAIR)
        orgs_now = {o.org_id: o.affected_members for o in impact.organizations}
    else:
        now, orgs_now = _PAIR.empty_table(), {}
    joined = before.join(now, keys="user_id", join_type="full outer",
                         left_suffix="_before", right_suffix="_now")  # fmt: skip
    was, is_ = joined.column("exposed_before"), joined.column("exposed_now")
    ids = joined.column("user_id")

    def pick(mask: pa.ChunkedArray) -> list[str]:
        return sorted(str(x) for x in ids.filter(mask).to_pylist())

    changes.users_new = pick(pc.is_null(was))
    changes.users_gone = pick(pc.is_null(is_))
    both = pc.and_(pc.is_valid(was), pc.is_valid(is_))
    changes.users_changed = pick(pc.and_(both, pc.not_equal(pc.fill_null(was, ""),
                                                             pc.fill_null(is_, ""))))  # fmt: skip
    changes.orgs_new = sorted(set(orgs_now) - set(orgs_before))
    changes.orgs_gone = sorted(set(orgs_before) - set(orgs_now))
    changes.orgs_changed = sorted(
        o for o in set(orgs_now) & set(orgs_before) if orgs_now[o] != orgs_before[o]
    )
    users = changes.users_new + changes.users_gone + changes.users_changed
    changes.user_notices = {u: s.value for u, s in user_notice_states(store, users).items()}
    changes.admin_notices = admin_notice_states(
        store, changes.orgs_new + changes.orgs_gone + changes.orgs_changed
    )
    return changes


def write_changes(folder: Path, changes: Changes) -> dict[str, str]:
    """``changes.json`` and ``changes.csv`` in the run's folder (0600); their SHA-256."""

    def states(counts: Counter[str]) -> str:
        return ";".join(f"{s} {n}" for s, n in sorted(counts.items()))

    document = {
        "schema": CHANGES_SCHEMA,
        "run": changes.run,
        "previous_run": changes.previous_run,
        "note": changes.note or None,
        "counts": changes.counts(),
        "users": {
            "newly_affected": changes.users_new,
            "no_longer_affected": changes.users_gone,
            "exposure_changed": changes.users_changed,
        },
        "organizations": {
            "newly_affected": changes.orgs_new,
            "no_longer_affected": changes.orgs_gone,
            "members_changed": changes.orgs_changed,
        },
        "notices": {
            "users": changes.user_notices,
            "admins": {o: dict(sorted(c.items())) for o, c in changes.admin_notices.items()},
        },
    }
    rows: list[list[object]] = []
    for change, ids in (("newly_affected", changes.users_new),
                        ("no_longer_affected", changes.users_gone),
                        ("exposure_changed", changes.users_changed)):  # fmt: skip
        rows += [[change, "user", u, changes.user_notices.get(u, "none")] for u in ids]
    for change, ids in (("newly_affected", changes.orgs_new),
                        ("no_longer_affected", changes.orgs_gone),
                        ("members_changed", changes.orgs_changed)):  # fmt: skip
        rows += [[change, "organization", o, states(changes.admin_notices.get(o, Counter()))
                  or "none"] for o in ids]  # fmt: skip
    return {
        CHANGES_JSON: write_private(
            folder / CHANGES_JSON,
            orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n",
        ),
        CHANGES_CSV: write_private(
            folder / CHANGES_CSV, csv_bytes(["change", "kind", "id", "notices"], rows)
        ),
    }
