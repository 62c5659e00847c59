"""The zipped breachdesk package for Spark executors, and the entry point for ``spark-submit``.

    python -m breachdesk.engine.spark.package DIR

writes ``DIR/breachdesk.zip`` (the package's modules and data files, for ``--py-files``) and
``DIR/breachdesk_submit.py`` (the application file ``spark-submit`` runs: the breachdesk
command line, on the session ``spark-submit`` made). The executors also need breachdesk's
dependencies (orjson, pyarrow, hyperscan, …) in their Python; see the README.
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import breachdesk

SUBMIT = '''"""spark-submit entry point: the breachdesk command line on spark-submit's session."""

from breachdesk.cli import main

if __name__ == "__main__":
    main()
'''


def build_zip(out: Path | None = None) -> Path:
    """Zip the installed package (sources and data files, no caches); returns its path."""
    root = Path(breachdesk.__file__).resolve().parent
    target = out or Path(tempfile.mkdtemp(prefix="breachdesk-spark-")) / "breachdesk.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, Path("breachdesk") / path.relative_to(root))
            elif path.is_dir() and any(path.glob("*.py")) and not (path / "__init__.py").exists():
                # zipimport knows no namespace packages: such a folder becomes a plain one
                name = Path("breachdesk") / path.relative_to(root) / "__init__.py"
                archive.writestr(str(name), "")
    return target


def write_bundle(folder: Path) -> tuple[Path, Path]:
    """``breachdesk.zip`` and ``breachdesk_submit.py`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    entry = folder / "breachdesk_submit.py"
    entry.write_text(SUBMIT, encoding="utf-8")
    return build_zip(folder / "breachdesk.zip"), entry


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    package, entry = write_bundle(Path(argv[0]))
    print(f"{package}\n{entry}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
