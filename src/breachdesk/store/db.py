"""Opening a workspace's store and bringing its schema to the newest migration."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from breachdesk.errors import StoreError
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
    try:
        engine = create_engine(full)
        with engine.begin() as connection:
            config = Config()
            config.set_main_option(
                "script_location", str(resources.files("breachdesk.store") / "migrations")
            )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"store {_safe(full)}: {type(exc).__name__}: {exc.args[0]}") from None
    return Store(engine, full)


def _safe(url: str) -> str:
    """The URL without a password."""
    head, sep, tail = url.partition("@")
    if sep and ":" in head.split("//", 1)[-1]:
        scheme, _, creds = head.partition("//")
        return f"{scheme}//{creds.split(':', 1)[0]}:***@{tail}"
    return url
