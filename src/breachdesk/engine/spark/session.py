"""Starting (or joining) the Spark session the Spark engine runs in.

Under ``spark-submit`` the session it configured is used as it is. Otherwise one is started:
on ``--master URL`` when given, else in local mode on every core of this machine. In local
mode the executors' Python is this one; on a cluster they need breachdesk's dependencies and
the zipped package (``python -m breachdesk.engine.spark.package``), which is added to the
session here when it is not already importable there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breachdesk.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _require() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InputError(
            "--engine spark needs PySpark: install breachdesk with its spark extra "
            "(pip install 'breachdesk[spark]') and a Java 17+ runtime"
        ) from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise InputError(
            "--engine spark needs a Java 17+ runtime (java on PATH or JAVA_HOME); "
            "on Debian: apt-get install default-jre-headless"
        )


def spark_session(master: str | None = None, settings: dict[str, str] | None = None) -> Any:
    """The session to run on: the active one, or one started on ``master``."""
    _require()
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    submitted = SparkConf().contains("spark.master")  # set by spark-submit
    builder = SparkSession.builder.appName("breachdesk assess")
    chosen = master or (None if submitted else "local[*]")
    if chosen is not None:
        builder = builder.master(chosen)
    where = chosen or SparkConf().get("spark.master", "")
    local = where.startswith("local")
    if local:
        # executors are threads and processes of this machine: this Python, no web UI to
        # bind, a few shuffle partitions (one per core), errors only on standard error
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        log4j = Path(__file__).with_name("log4j2.properties")
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(_cores(where)))
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
        )
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for key, value in (settings or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if not local and not _shipped(session):
        from breachdesk.engine.spark.package import build_zip

        session.sparkContext.addPyFile(str(build_zip()))
    return session


def _cores(master: str) -> int:
    """The cores a ``local[N]`` master runs on (``local[*]``: this machine's)."""
    inside = master.partition("[")[2].partition("]")[0].split(",")[0]
    return int(inside) if inside.isdigit() else os.cpu_count() or 1


def _shipped(session: SparkSession) -> bool:
    """Whether a breachdesk package was given to the executors (``--py-files``)."""
    files = session.sparkContext.getConf().get("spark.submit.pyFiles", "") or ""
    return any("breachdesk" in name for name in files.split(","))
