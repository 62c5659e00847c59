"""Shared fixtures: the small hand-written incident, built into a temporary folder; the
engines a result test runs on (``engine``: the embedded one, and Spark in local mode, marked
``spark``), with the small incident assessed once per engine for the tests that only read it."""

from __future__ import annotations

import gzip
import os
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


@pytest.fixture(scope="session")
def small_ws_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small incident assessed with its directory, built once: copy it (``small_ws``)."""
    from breachdesk import AssessRequest, assess

    dest = tmp_path_factory.mktemp("small-ws")
    export, directory = build_small_export(dest)
    assess(AssessRequest([export], dest / "ws", directory=directory, workers=1))
    return dest / "ws"


def copy_workspace(built: Path, dest: Path) -> Path:
    """A test's own copy of a workspace built once (links and 0600 modes as they are; the
    store closed, its default audit head named by no path, so the copy verifies)."""
    shutil.copytree(built, dest, symlinks=True)
    return dest


@pytest.fixture
def small_ws(small_ws_built: Path, tmp_path: Path) -> Path:
    """This test's copy of the small incident assessed (for tests that do not change the
    export or the directory it was assessed from)."""
    return copy_workspace(small_ws_built, tmp_path / "ws")


@pytest.fixture(scope="session")
def notify_ws_built(small_ws_built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small incident assessed, its details recorded, a DKIM key made, notices planned:
    built once (an RSA key and a plan take a second or two); tests get a copy."""
    from breachdesk.services.notify import ensure_dkim_key
    from breachdesk.services.notify_plan import plan_notices
    from helpers import open_ws

    workspace = copy_workspace(small_ws_built, tmp_path_factory.mktemp("notify") / "ws")
    with open_ws(workspace) as ws:
        record_identity(ws)
        ensure_dkim_key(ws)
        plan_notices(ws)
    return workspace


@pytest.fixture
def notify_ws(notify_ws_built: Path, tmp_path: Path) -> Path:
    """This test's own copy of ``notify_ws_built``."""
    return copy_workspace(notify_ws_built, tmp_path / "ws")


# Every assess test that checks results runs on each engine; Spark's runs are marked so they
# can be left out of a quick loop (-m "not spark"). CI runs them all, once.
ENGINES = ["embedded", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(scope="session")
def spark_local() -> object:
    """One local Spark session for the whole test run: two cores, two shuffle partitions, and
    splits of 16 KiB so that a test's export is cut into several splits."""
    pytest.importorskip("pyspark")
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark: .ci/run installs Debian's default-jre-headless")
    from breachdesk.engine.spark import spark_session

    return spark_session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.files.maxPartitionBytes": "16384",
            "spark.sql.files.openCostInBytes": "0",
            "spark.default.parallelism": "2",
        },
    )


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "spark":
        request.getfixturevalue("spark_local")
    return str(request.param)


@pytest.fixture(scope="session")
def small_assessed(engine: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The small incident assessed with its directory on ``engine`` (read it, never change it):
    the workspace and the exit code."""
    from breachdesk import AssessRequest, assess

    dest = tmp_path_factory.mktemp(f"small-{engine}")
    export, directory = build_small_export(dest)
    request = AssessRequest([export], dest / "ws", directory=directory, workers=1, engine=engine)
    return dest / "ws", assess(request).exit_code
