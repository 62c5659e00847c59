"""The zipped package for Spark's executors and the ``spark-submit`` entry point: the zip alone
holds an importable breachdesk (rules and templates included), and ``spark-submit`` runs an
assessment with it as the README shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from breachdesk.engine.spark.package import write_bundle
from conftest import build_small_export

SRC = Path(__file__).resolve().parent.parent / "src"


def test_the_zip_holds_an_importable_breachdesk(tmp_path: Path) -> None:
    package, entry = write_bundle(tmp_path / "dist")
    names = set(zipfile.ZipFile(package).namelist())
    assert "breachdesk/engine/spark/executor.py" in names
    assert "breachdesk/detect/rules/core.toml" in names
    assert not any("__pycache__" in n for n in names)
    assert "breachdesk.cli" in entry.read_text()
    # a Python that sees the zip and the dependencies, but not this checkout
    code = (
        "import sys; sys.path = [sys.argv[1]] + [p for p in sys.path if p != sys.argv[2]]\n"
        "import breachdesk, breachdesk.detect.rules as r\n"
        "from breachdesk.engine.scan import Worker, scan_with\n"
        "from breachdesk.services.assess import _scan_config\n"
        "from pathlib import Path\n"
        "from breachdesk.settings import Settings\n"
        "from breachdesk.sources.framing import LineBlock\n"
        "assert breachdesk.__file__.startswith(sys.argv[1]), breachdesk.__file__\n"
        "config = _scan_config([], Path(), Settings(), b'k' * 32)\n"
        "from breachdesk.sources.countries import country_code\n"
        "assert country_code('United States') == 'US'\n"
        'line = b\'{"event": "a", "properties": {"distinct_id": "u1", '
        '"u": "https://x.example/?password=hunter22"}}\\n\'\n'
        "found = scan_with(Worker(config), LineBlock(0, 'mixpanel.events', 1, line))\n"
        "print(len(r.default_rules().rules), [f.kind.value for f in found.findings])\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code, str(package), str(SRC)],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    count, kinds = ran.stdout.split(" ", 1)
    assert int(count) > 20 and "credential" in kinds


@pytest.mark.spark
def test_spark_submit_runs_an_assessment_with_the_zip(tmp_path: Path) -> None:
    pyspark = pytest.importorskip("pyspark")
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark: .ci/run installs Debian's default-jre-headless")
    package, entry = write_bundle(tmp_path / "dist")
    export, directory = build_small_export(tmp_path / "in")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    ran = subprocess.run(
        [str(submit), "--master", "local[1]", "--py-files", str(package),
         "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=1",
         str(entry), "assess", str(export), "--directory", str(directory),
         "--out", str(tmp_path / "ws"), "--engine", "spark", "--json"],
        capture_output=True, text=True, check=False, env=env, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stderr[-3000:]
    impact = json.loads((tmp_path / "ws" / "impact.json").read_text())
    assert impact["provenance"]["engine"] == "spark"
    assert impact["affected"]["users"] == 9
