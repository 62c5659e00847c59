"""Opening a workspace's store and bringing its schema to the newest migration."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

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


@dataclass
class Store:
    engine: Engine
    url: str

    def session(self) -> Session:
        return Session(self.engine)

    def incident_id(self, title: str = "Vendor breach") -> int:
        """The workspace's incident, created on first use."""
        with self.session() as session, session.begin():
            if self.engine.dialect.name == "postgresql":
                # two processes opening a new store must not create two incidents
                session.execute(text("SELECT pg_advisory_xact_lock(4242001)"))
            found = session.scalars(select(Incident).order_by(Incident.id).limit(1)).first()
            if found is not None:
                return found.id
            incident = Incident(title=title, created_at=datetime.now(UTC))
            session.add(incident)
            session.flush()
            return incident.id

    def close(self) -> None:
        self.engine.dispose()


def resolve_url(url: str, workspace: Path) -> str:
    """A relative SQLite path in the settings is relative to the workspace."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((workspace / url[len(prefix) :]).resolve())
    return url


def open_store(url: str, workspace: Path) -> Store:
    """Open (creating if needed) the store and upgrade it to the newest schema."""
    full = resolve_url(url, workspace)
    if full.startswith("sqlite:///"):
        db_path = Path(full[len("sqlite:///") :])
        if not db_path.exists():
            db_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(db_path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("breachdesk.store") / "migrations")
    )
    try:
        engine = _engine(full)
        with engine.begin() as connection:
            _refuse_newer(connection, config, full)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"store {_safe(full)}: {type(exc).__name__}: {exc.args[0]}") from None
    return Store(engine, full)


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite:"):
        return create_engine(url, pool_pre_ping=True)
    # several processes (a send and a status, a killed send and its restart) share the file:
    # WAL lets readers run beside the writer, and a writer waits instead of failing at once
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _refuse_newer(connection: Connection, config: Config, url: str) -> None:
    """A store written by a newer breachdesk names both versions instead of a stack trace."""
    if not inspect(connection).has_table("alembic_version"):
        return  # a new store
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    script = ScriptDirectory.from_config(config)
    try:
        known = found is None or script.get_revision(found) is not None
    except CommandError:
        known = False
    if not known:
        raise SchemaError(
            f"store {_safe(url)}: schema revision {found} is newer than this breachdesk knows "
            f"(newest {script.get_current_head()}); upgrade breachdesk to open it"
        )


def _safe(url: str) -> str:
    """The URL without a password."""
    head, sep, tail = url.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, creds = head.partition("//")
        return f"{scheme}//{creds.split(':', 1)[0]}:***@{tail}"
    return url
