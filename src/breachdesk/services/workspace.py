"""The incident workspace: its folder, settings, keys and one open store, created once per
command (or per app) and handed to every service.

Layout of a workspace (``--out WS``)::

    breachdesk.toml        the incident's settings
    desk.db                the store (SQLite; or any SQLAlchemy URL in the settings)
    audit.head             the audit log's last sequence and hash (outside the store);
                           audit-<id>.head for a store elsewhere (a team's PostgreSQL)
    keys/                  hmac.key (fingerprints, match keys), audit.key, dkim/ (0700)
    runs/<n>/              one folder per assess run: every output it wrote
    current -> runs/<n>    the run in force; switched in one rename when a run completes
    impact.json …          links into current/ (the names of the workspace's published contract)

Later commands open the workspace with :meth:`Workspace.open`, which refuses a folder that is
not a workspace, and one whose last assess started but never finished.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from breachdesk.errors import InputError
from breachdesk.settings import SETTINGS_FILE, Settings, load_settings
from breachdesk.store import Store, open_store
from breachdesk.store.audit import AuditKey
from breachdesk.store.db import resolve_url

AUDIT_HEAD = "audit.head"
AUDIT_KEY = "keys/audit.key"
LOCK_FILE = ".assess.lock"
DEFAULT_STORE = "sqlite:///desk.db"
RUNNING = ".assess-running"  # present from an assess's start until it has finished


def prepare_workspace(out: Path) -> Path:
    """Create the workspace folder (owner-only) if needed."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    return out


def hmac_key(workspace: Path, settings: Settings) -> bytes:
    """The workspace's HMAC key (created on first use, 0600): fingerprints and match keys."""
    path = Path(settings.hmac_key_path)
    if not path.is_absolute():
        path = workspace / path
    if path.exists():
        key = path.read_bytes()
        if len(key) < 32:
            raise InputError(f"{path}: HMAC key shorter than 32 bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return hmac_key(workspace, settings)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


@dataclass
class Workspace:
    """One incident's workspace, open: use it in a ``with`` block, or close it."""

    path: Path
    settings: Settings
    store: Store
    key: bytes
    outputs: Path  # the folder of the run in force, resolved once when opened

    @classmethod
    def open(
        cls, path: Path, store_url: str | None = None, *, require_finished: bool = True
    ) -> Workspace:
        """An existing workspace (never creates one by accident): its store is the one its
        settings name, or ``store_url`` when a command was given one (--store)."""
        if not (path / SETTINGS_FILE).exists():
            raise InputError(f"{path}: not a workspace (breachdesk assess --out creates one)")
        workspace = cls._open(path, load_settings(path), store_url)
        if require_finished:
            try:
                workspace.require_finished()
            except BaseException:
                workspace.close()
                raise
        return workspace

    @classmethod
    def create(cls, path: Path, settings: Settings | None = None) -> Workspace:
        """Open the workspace at ``path`` for assess, creating its folder and keys."""
        prepare_workspace(path)
        if settings is None:
            settings = load_settings(path if (path / SETTINGS_FILE).exists() else None)
        return cls._open(path, settings, None)

    @classmethod
    def _open(cls, path: Path, settings: Settings, store_url: str | None) -> Workspace:
        key = hmac_key(path, settings)
        audit_key = AuditKey.load(path / AUDIT_KEY)
        url = store_url or settings.store_url
        store = open_store(url, path, audit_key, path / head_name(url, path))
        return cls(path, settings, store, key, current_run(path))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the state of the last assess --------------------------------------------------------

    def assess_running(self) -> bool:
        """True while another process holds this workspace's assess lock."""
        lock = self.path / LOCK_FILE
        if not lock.exists():
            return False
        fd = os.open(lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def require_finished(self) -> None:
        """Refuse a workspace whose last assess did not finish (or is running now)."""
        if self.assess_running():
            raise InputError(f"{self.path}: assess is running in this workspace; wait for it")
        if (self.path / RUNNING).exists():
            raise InputError(
                f"{self.path}: the last assess started but did not finish (stopped or killed); "
                "run the same assess again before anything else"
            )
        if not (self.outputs / "impact.json").exists():
            raise InputError(f"{self.path}: nothing assessed yet; run breachdesk assess first")

    # -- files ----------------------------------------------------------------------------

    def output(self, name: str) -> Path:
        """A file of the run in force (``impact.json``, ``tables/…``)."""
        return self.outputs / name


def table_rows(workspace: Path, name: str) -> Iterator[dict[str, str]]:
    """The rows of a CSV file a person gave us (a directory's ``organizations.csv``).
    Workspace tables are read typed, through :mod:`breachdesk.report.tables`."""
    path = workspace / name
    if not path.exists():
        raise InputError(f"{path}: missing; run assess first")
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


# -- runs: every assess writes a new folder, switched into place in one rename ---------------

RUNS = "runs"
CURRENT = "current"
# the names of the workspace's published contract, each a link into current/
OUTPUT_NAMES = ("impact.json", "affected_users.csv", "affected_organizations.csv",
                "unmatched.csv", "findings.csv", "rejected.csv", "skipped.csv", "report.html",
                "tables")  # fmt: skip
_PARTIAL = ".partial-"


def start_run(workspace: Path) -> Path:
    """A fresh folder for a run's outputs (0700); the leftovers of killed runs go first."""
    runs = workspace / RUNS
    runs.mkdir(mode=0o700, exist_ok=True)
    for stale in runs.glob(f"{_PARTIAL}*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = runs / f"{_PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    return folder


def abandon_run(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def next_run_number(workspace: Path) -> int:
    """The number the run being written will get (stable while the assess lock is held)."""
    runs = workspace / RUNS
    return 1 + max((int(p.name) for p in runs.iterdir() if p.name.isdigit()), default=0)


def publish_run(workspace: Path, folder: Path) -> int:
    """Number the run, then switch ``current`` to it in one rename: a reader sees the old
    outputs or the new ones, never a mix. Earlier runs stay under ``runs/``, each a complete
    snapshot of what its assess wrote (never changed afterwards)."""
    runs = workspace / RUNS
    number = next_run_number(workspace)
    final = runs / str(number)
    _sync(folder)
    folder.rename(final)
    _sync(runs)
    _link(workspace / CURRENT, f"{RUNS}/{number}")
    for name in OUTPUT_NAMES:
        path = workspace / name
        if not (path.is_symlink() and os.readlink(path) == f"{CURRENT}/{name}"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            _link(path, f"{CURRENT}/{name}")
    _sync(workspace)
    return number


def current_run(workspace: Path) -> Path:
    """The folder of the run in force (resolved once, so one command reads one run)."""
    link = workspace / CURRENT
    if link.is_symlink():
        return link.resolve()
    return workspace  # written before runs existed: the outputs sit in the workspace itself


def _link(path: Path, target: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, path)


def _sync(folder: Path) -> None:
    """Make the folder's entries (and its subfolders') durable before a rename relies on
    them; the files themselves were synced when written."""
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def head_name(url: str, path: Path) -> str:
    """The head file of the store at ``url``: each store keeps its own, so that moving a
    workspace to a team store (or back) never checks one store's log against another's end.
    The name holds no password: a digest of the URL without it."""
    full = resolve_url(url, path)
    if full == resolve_url(DEFAULT_STORE, path):
        return AUDIT_HEAD
    if full.startswith("sqlite:"):
        return f"audit-{hashlib.sha256(full.encode()).hexdigest()[:12]}.head"
    plain = make_url(full).set(password=None).render_as_string(hide_password=False)
    return f"audit-{hashlib.sha256(plain.encode()).hexdigest()[:12]}.head"
