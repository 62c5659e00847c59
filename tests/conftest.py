"""Shared fixtures: the small hand-written incident, built into a temporary folder."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from breachdesk.services.workspace import Workspace

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small"


def build_small_export(dest: Path) -> tuple[Path, Path]:
    """The small export (with its gzip and zip members) and its directory under ``dest``."""
    export = dest / "export"
    shutil.copytree(SMALL / "export", export)
    # fixed timestamps inside the archives, so their SHA-256 is the same on every run
    with (
        (export / "events2.jsonl.gz").open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        gz.write((SMALL / "packed" / "events2.jsonl").read_bytes())
    with zipfile.ZipFile(export / "more.zip", "w") as archive:
        member = zipfile.ZipInfo("inner/people2.jsonl", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(member, (SMALL / "packed" / "people2.jsonl").read_bytes())
    directory = dest / "directory"
    shutil.copytree(SMALL / "directory", directory)
    return export, directory


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    return build_small_export(tmp_path)


# what notices need recorded before they can be planned (issue 12: no demo values)
IDENTITY_ARGS = ["--company", "Example", "--official-domain", "example.com", "--sender",
                 "security@example.com", "--contact-email", "privacy@example.com",
                 "--verify-url", "https://example.com/security/notice"]  # fmt: skip


def record_identity(ws: Workspace, measure: bool = True) -> None:
    """The small incident's vendor, awareness, the company's identity and one measure."""
    from breachdesk.services.incident import add_event, update

    update(
        ws, "test", vendor="Mixpanel", aware={"company": "2026-11-20T14:05:00Z"},
        company="Example", official_domains=["example.com"], sender="security@example.com",
        contact_email="privacy@example.com", verify_url="https://example.com/security/notice",
    )  # fmt: skip
    if measure:
        add_event(ws, "2026-11-20T15:00:00Z", "We removed the analytics SDK from our website.",
                  "test", measure=True)  # fmt: skip


@pytest.fixture
def notify_ws(small: tuple[Path, Path], tmp_path: Path) -> Path:
    """The small incident assessed, its details recorded, a DKIM key made, notices planned."""
    from breachdesk import AssessRequest, assess
    from breachdesk.services.notify import ensure_dkim_key
    from breachdesk.services.notify_plan import plan_notices
    from helpers import open_ws

    export, directory = small
    workspace = tmp_path / "ws"
    assess(AssessRequest([export], workspace, directory=directory, workers=1))
    with open_ws(workspace) as ws:
        record_identity(ws)
        ensure_dkim_key(ws)
        plan_notices(ws)
    return workspace
