"""The readers' hand-written samples (``tests/data/readers/<vendor>``), packed the way each
vendor ships them, assessed with the small incident's directory and compared to golden files
(``tests/golden/readers/<vendor>``). Run with BREACHDESK_UPDATE_GOLDEN=1 to rewrite them
after an intended change (then review the diff)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

from breachdesk import AssessRequest, assess

DATA = Path(__file__).parent / "data"
SAMPLES = DATA / "readers"
DIRECTORY = DATA / "small" / "directory"
GOLDEN = Path(__file__).parent / "golden" / "readers"
FILES = [
    "affected_users.csv",
    "affected_organizations.csv",
    "unmatched.csv",
    "findings.csv",
    "rejected.csv",
    "impact.json",
]


def gzip_to(source: Path, target: Path) -> None:
    """``source`` gzipped into ``target`` (no name or time in the header: same bytes each run)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(source.read_bytes())


def pack(vendor: str, dest: Path) -> Path:
    """The vendor's sample as the vendor ships it, under ``dest``; returns the export path."""
    src = SAMPLES / vendor
    export = dest / "export"
    if vendor == "segment":
        for path in sorted(src.rglob("*.jsonl")):  # S3 archive: day folders of .gz
            relative = path.relative_to(src).with_suffix(".gz")
            gzip_to(path, export / relative)
    elif vendor == "amplitude":
        export.mkdir(parents=True)
        with zipfile.ZipFile(export / "export-187520.zip", "w") as archive:
            for path in sorted(src.rglob("*.json")):
                packed = gzip.compress(path.read_bytes(), mtime=0)
                member = zipfile.ZipInfo(f"{path.relative_to(src)}.gz", (2024, 5, 1, 12, 0, 0))
                archive.writestr(member, packed)
    elif vendor == "posthog":
        for path in sorted(src.glob("*.jsonl")):
            gzip_to(path, export / f"{path.name}.gz")
    else:
        shutil.copytree(src, export)
    (export / "README.txt").write_text("Delivered by the vendor's support team.\n")
    return export


def assess_sample(
    vendor: str, dest: Path, mapping: Path | None = None
) -> tuple[Path, dict[str, Any]]:
    export = pack(vendor, dest)
    ws = dest / "ws"
    result = assess(AssessRequest([export], ws, directory=DIRECTORY, workers=1, mapping=mapping))
    return ws, result.impact


def stable(ws: Path, name: str) -> str:
    """A workspace file without what changes from run to run (times, paths, keyed hashes)."""
    text = (ws / name).read_text()
    if name == "findings.csv":
        return "\n".join(",".join(r.split(",")[:7] + r.split(",")[8:]) for r in text.splitlines())
    if name == "unmatched.csv":  # without its last column, the keyed fingerprint
        return "".join(r.rsplit(",", 1)[0] + "\n" for r in text.splitlines())
    if name != "impact.json":
        return text
    impact = json.loads(text)
    prov = impact["provenance"]
    for key in ("started", "finished", "command", "tool_version", "rules_version"):
        prov[key] = "<varies>"
    for item in [*prov["inputs"], *prov["containers"]]:
        item["path"] = item["path"].rsplit("/export/", 1)[-1]
        if "container" in item:
            item["container"] = item["container"].rsplit("/export/", 1)[-1]
    if prov["directory"]:
        prov["directory"]["path"] = "<directory>"
    if prov.get("mapping"):
        prov["mapping"]["path"] = prov["mapping"]["path"].rsplit("/", 1)[-1]
    return json.dumps(impact, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def check_golden(vendor: str, ws: Path) -> None:
    for name in FILES:
        got = stable(ws, name)
        golden = GOLDEN / vendor / name
        if os.environ.get("BREACHDESK_UPDATE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got)
        assert got == golden.read_text(), f"{vendor}: {name} differs from its golden file"
