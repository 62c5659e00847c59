"""Opening a workspace's store once, bringing its schema to the newest migration, and the
two ways in: a read (a plain session) and a write (a transaction that holds the writer lock,
so that a domain change and its audit entry commit together and appends never collide).

SQLite: every write transaction starts ``BEGIN IMMEDIATE`` — a second writer waits for the
first (busy timeout) instead of failing when it upgrades a read lock. PostgreSQL: a write
that appends to the audit log takes a transaction-level advisory lock first, so the chain's
end it reads is the true one; other writes (the outbox's leases) run side by side.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from breachdesk.errors import SchemaError, StoreError
from breachdesk.store.models import Incident

if TYPE_CHECKING:
    from breachdesk.store.audit import AuditEntry, AuditKey

_AUDIT_LOCK = 4242002  # pg advisory lock: one audit writer at a time
_INCIDENT_LOCK = 4242001  # pg advisory lock: one incident row per store
_MIGRATE_LOCK = 4242002  # pg advisory lock: one schema upgrade at a time


@dataclass
class Store:
    """An open store. ``audit_key`` signs the audit chain; ``head_path`` (outside the
    database) records the chain's last sequence and hash after every append."""

    engine: Engine
    url: str
    audit_key: AuditKey
    head_path: Path | None = None
    incident: int = 0
    _writer: Engine | None = field(default=None, repr=False)

    def session(self) -> Session:
        """A session for reading (and for writes that need no audit entry on PostgreSQL)."""
        return Session(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction: everything done in it, audit entries included, commits
        together or not at all; the head file follows once it has committed."""
        writer = self._writer or self.engine
        with Session(writer, expire_on_commit=False) as session:
            tx = Tx(self, session)
            with session.begin():
                yield tx
            if tx.appended and self.head_path is not None:
                from breachdesk.store.audit import record_head

                record_head(self.head_path, tx.appended[-1])

    def incident_id(self) -> int:
        return self.incident

    def close(self) -> None:
        self.engine.dispose()


class Tx:
    """A write transaction in progress: its session, and the audit entries it appends."""

    def __init__(self, store: Store, session: Session) -> None:
        self.store = store
        self.session = session
        self.appended: list[AuditEntry] = []
        self._locked = False

    def audit(self, action: str, payload: dict[str, Any], actor: str = "breachdesk") -> AuditEntry:
        from breachdesk.store.audit import append

        if not self._locked:
            if self.store.engine.dialect.name == "postgresql":
                self.session.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK})"))
            self._locked = True
        entry = append(self.session, self.store, action, payload, actor)
        self.appended.append(entry)
        return entry


def resolve_url(url: str, workspace: Path) -> str:
    """A relative SQLite path in the settings is relative to the workspace."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((workspace / url[len(prefix) :]).resolve())
    return url


@lru_cache(maxsize=1)
def migrations_folder() -> str:
    """The folder of the store's migration scripts. From a zipped package (``spark-submit
    --py-files breachdesk.zip`` puts it first on the driver's path too) they are copied out
    once per process: Alembic reads its scripts from a folder."""
    found = resources.files("breachdesk.store") / "migrations"
    if isinstance(found, Path):
        return str(found)
    folder = Path(tempfile.mkdtemp(prefix="breachdesk-migrations-"))
    atexit.register(shutil.rmtree, folder, True)
    _copy_out(found, folder)
    return str(folder)


def _copy_out(source: Traversable, target: Path) -> None:
    for item in source.iterdir():
        if item.is_dir():
            (target / item.name).mkdir()
            _copy_out(item, target / item.name)
        elif item.name.endswith(".py"):
            (target / item.name).write_bytes(item.read_bytes())


def open_store(
    url: str,
    workspace: Path,
    audit_key: AuditKey,
    head_path: Path | None = None,
    title: str = "Vendor breach",
) -> Store:
    """Open (creating if needed) the store, upgrade it to the newest schema once, and make
    sure it holds its incident."""
    full = resolve_url(url, workspace)
    if full.startswith("sqlite:///"):
        db_path = Path(full[len("sqlite:///") :])
        if not db_path.exists():
            db_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(db_path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
    config = Config()
    config.set_main_option("script_location", migrations_folder())
    try:
        engine = _engine(full)
        heads = set(_scripts(migrations_folder()).get_heads())
        with engine.begin() as connection:
            found = _refuse_newer(connection, full)
        # a store already at the newest schema (every open but a store's first) skips
        # Alembic's upgrade, which reads every migration script again
        if found != heads:
            _upgrade(engine, config, full, heads)
        writer = (
            engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            if engine.dialect.name == "sqlite"
            else None
        )
        store = Store(engine, full, audit_key, head_path, 0, writer)
        store.incident = _ensure_incident(store, title)
    except SQLAlchemyError as exc:
        raise StoreError(f"store {_safe(full)}: {type(exc).__name__}: {exc.args[0]}") from None
    return store


def _upgrade(engine: Engine, config: Config, url: str, heads: set[str]) -> None:
    """Upgrade the store to ``heads`` in one transaction that holds the store's write lock
    from its start: two processes opening a new store at once would otherwise both read "no
    schema" and both create it (SQLite answers the second "database is locked" at once, as
    its read went stale). The second waits, then finds the schema made."""
    sqlite = engine.dialect.name == "sqlite"
    migrator = engine.execution_options(sqlite_begin="BEGIN IMMEDIATE") if sqlite else engine
    with migrator.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATE_LOCK})"))
        if _refuse_newer(connection, url) == heads:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _ensure_incident(store: Store, title: str) -> int:
    with store.write() as tx:
        if store.engine.dialect.name == "postgresql":
            # two processes opening a new store must not create two incidents
            tx.session.execute(text(f"SELECT pg_advisory_xact_lock({_INCIDENT_LOCK})"))
        found = tx.session.scalars(select(Incident.id).order_by(Incident.id).limit(1)).first()
        if found is not None:
            return int(found)
        incident = Incident(title=title, created_at=datetime.now(UTC))
        tx.session.add(incident)
        tx.session.flush()
        return int(incident.id)


def open_engine(url: str) -> Engine:
    """An engine on the store at ``url`` (resolved), configured as every command's is."""
    return _engine(url)


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite:"):
        # hide_parameters: an error's message never carries a value from the data
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    # several processes (a send and a status, a killed send and its restart) share the file:
    # WAL lets readers run beside the writer, and a writer waits instead of failing at once
    engine = create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        _into_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def _into_wal(cursor: Any, patience: float = 60.0) -> None:
    """Put the file in WAL mode (it stays so). The switch needs the file to itself, and
    SQLite refuses it at once, without its busy wait, while another connection holds it
    (two processes opening a new store together): tried again until ``patience`` runs out."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@lru_cache(maxsize=4)
def _scripts(folder: str) -> ScriptDirectory:
    """The migration scripts in ``folder``, read once per process."""
    config = Config()
    config.set_main_option("script_location", folder)
    return ScriptDirectory.from_config(config)


def _refuse_newer(connection: Connection, url: str) -> set[str]:
    """The store's schema revisions (none for a new store). A store written by a newer
    breachdesk names both versions instead of a stack trace."""
    if not inspect(connection).has_table("alembic_version"):
        return set()  # a new store
    found = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    script = _scripts(migrations_folder())
    for revision in sorted(found):
        try:
            # Alembic also finds a revision by a prefix of its id: only the whole id is ours
            known = getattr(script.get_revision(revision), "revision", None) == revision
        except CommandError:
            known = False
        if not known:
            raise SchemaError(
                f"store {_safe(url)}: schema revision {revision} is newer than this breachdesk "
                f"knows (newest {script.get_current_head()}); upgrade breachdesk to open it"
            )
    if len(found) > 1:  # the migrations are one line: a store is at one revision
        raise SchemaError(
            f"store {_safe(url)}: its schema is recorded at {len(found)} revisions at once "
            f"({', '.join(sorted(found))}); it was changed outside breachdesk"
        )
    return found


def _safe(url: str) -> str:
    """The URL without a password."""
    head, sep, tail = url.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, creds = head.partition("//")
        return f"{scheme}//{creds.split(':', 1)[0]}:***@{tail}"
    return url
