#!/usr/bin/env python3
"""Set-up and task runner: needs only Python 3.11+ and the package registries.

    python3 dev.py demo [ARGS...]   install, then run the demo incident end to end
    python3 dev.py check            install (with the spark extra), then ruff, mypy and the
                                    whole test suite
    python3 dev.py run ARGS...      install, then `breachdesk ARGS...`

It installs uv into .cache/uv (a private virtualenv), then `uv sync --frozen` builds
.venv from uv.lock, so every machine runs the exact locked versions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
UV_VERSION = "0.13.9"
TOOL_ENV = ROOT / ".cache" / "uv"


def _uv() -> Path:
    uv = TOOL_ENV / "bin" / "uv"
    if not uv.exists():
        print(f"dev.py: installing uv {UV_VERSION} into {TOOL_ENV.relative_to(ROOT)}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOL_ENV)
        subprocess.run(
            [str(TOOL_ENV / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"],
            check=True,
        )
    return uv


def _sync(uv: Path, extras: tuple[str, ...] = ()) -> None:
    cmd = [str(uv), "sync", "--frozen", "--quiet", "--compile-bytecode"]
    cmd += [arg for extra in extras for arg in ("--extra", extra)]
    subprocess.run(cmd, cwd=ROOT, check=True)


def _run(uv: Path, *argv: str) -> int:
    return subprocess.run([str(uv), "run", "--frozen", "--no-sync", *argv], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "check", "run"}:
        print(__doc__)
        return 2
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    uv = _uv()
    task, rest = argv[0], argv[1:]
    # the checks cover the optional Spark engine too; the demo and a run need it only when
    # asked for (`run assess ... --engine spark`)
    spark = task == "check" or "spark" in rest or "--engine=spark" in rest
    _sync(uv, ("spark",) if spark else ())
    if task == "demo":
        return _run(uv, "breachdesk", "demo", *rest)
    if task == "run":
        return _run(uv, "breachdesk", *rest)
    steps = [
        ("ruff", ["ruff", "check", "src", "tests", "benchmarks", "dev.py"]),
        ("ruff format", ["ruff", "format", "--check", "src", "tests", "benchmarks", "dev.py"]),
        ("mypy", ["mypy"]),
        ("pytest", ["pytest", *rest]),
    ]
    for name, cmd in steps:
        print(f"== {name}", flush=True)
        code = _run(uv, *cmd)
        if code != 0:
            print(f"dev.py: {name} failed (exit {code})", flush=True)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
