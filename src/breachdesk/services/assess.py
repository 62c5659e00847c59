"""The assess use case: from export files (and optionally the directory) to a complete
impact workspace — inventory, findings, match, report — recorded in the audit log."""

from __future__ import annotations

import gc
import hashlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from breachdesk import __version__
from breachdesk.detect.inventory import build_inventory
from breachdesk.detect.rules import builtin_rule_files
from breachdesk.directory.loader import Directory, directory_digest, load_directory
from breachdesk.domain.impact import Impact
from breachdesk.engine.aggregate import RunAggregate
from breachdesk.engine.match import CATEGORY_BITS, SignatureRow, match_impact
from breachdesk.engine.scan import ScanConfig, scan_units
from breachdesk.errors import EXIT_FINDINGS, EXIT_OK, ExportError
from breachdesk.report.outputs import AssessOutputs, write_outputs
from breachdesk.services.workspace import hmac_key, prepare_workspace
from breachdesk.settings import load_settings, write_settings
from breachdesk.sources.base import IdentityKeys
from breachdesk.sources.files import InputFile, expand_inputs, open_inputs
from breachdesk.sources.framing import LineBlock, RecordBatch, WorkUnit, frame, recognise
from breachdesk.sources.registry import readers
from breachdesk.store import append_event, open_store
from breachdesk.taxonomy import Category

ProgressFn = Callable[[str, int, int | None], None]

TIME_KEYS = {"mixpanel.events": "time"}
COUNTRY_KEYS = ("mp_country_code", "$country_code", "country_code")


@dataclass(frozen=True)
class AssessRequest:
    exports: Sequence[Path]
    out: Path
    directory: Path | None = None
    allow_duplicate_emails: bool = False
    reveal: bool = False
    workers: int | None = None
    command: str = "breachdesk assess"


@dataclass
class InputEntry:
    item: InputFile
    reader: str  # a reader name, or "none" for an empty file


@dataclass
class AssessResult:
    workspace: Path
    impact: dict[str, Any]
    exit_code: int
    notes: list[str] = field(default_factory=list)


def rules_version() -> str:
    digest = hashlib.sha256()
    for name, text in builtin_rule_files():
        digest.update(name.encode() + b"\0" + text.encode())
    return f"builtin-{digest.hexdigest()[:12]}"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def assess(request: AssessRequest, progress: ProgressFn | None = None) -> AssessResult:
    """Run assess; raises :class:`~breachdesk.errors.InputError` for bad input."""
    started = _now()
    report = progress or (lambda stage, done, total: None)
    workspace = request.out
    settings = load_settings(workspace if (workspace / "breachdesk.toml").exists() else None)
    directory: Directory | None = None
    directory_sha: str | None = None
    if request.directory is not None:
        directory = load_directory(
            request.directory,
            allow_duplicate_emails=request.allow_duplicate_emails
            or settings.allow_duplicate_emails,
        )
        directory_sha = directory_digest(request.directory)

    entries, skipped = _recognise(request.exports)
    if not entries:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        raise ExportError(f"no readable input at all ({reasons}{more})")

    prepare_workspace(workspace)
    key = hmac_key(workspace, settings)
    store = open_store(settings.store_url, workspace)
    try:
        append_event(
            store,
            "assess.started",
            {"inputs": len(entries), "skipped": len(skipped), "directory": directory_sha},
        )
        with ThreadPoolExecutor(max_workers=1) as hasher:
            hashes: dict[Path, Future[str]] = {}
            for entry in entries:
                if entry.item.path not in hashes:
                    hashes[entry.item.path] = hasher.submit(_sha256_file, entry.item.path)
            aggregate = _scan(entries, settings.identity_keys, key, settings, request, report)
            input_hashes = {path: fut.result() for path, fut in hashes.items()}

        inventory = build_inventory(aggregate.total)
        categories = {f.path: f.category for f in inventory}
        shape_masks = [_mask(categories.get(p) for p in shape) for shape in aggregate.total.shapes]
        rows = []
        for signature, stats in aggregate.total.signatures.items():
            mask = 0
            for shape_id in stats.shapes:
                mask |= shape_masks[shape_id]
            mask |= _mask(kind.category for kind in stats.kinds)
            rows.append(SignatureRow(signature, stats.records, mask, stats.country))
        impact: Impact | None = None
        if directory is not None:
            report("match", 0, None)
            sig_index = {row.signature: i for i, row in enumerate(rows)}
            wanted = [sig_index[f.signature] for f in aggregate.total.findings]
            impact = match_impact(rows, aggregate.total.org_ids, directory, wanted)
            report("match", 1, 1)
        provenance: dict[str, Any] = {
            "tool_version": __version__,
            "rules_version": rules_version(),
            "command": request.command,
            "started": started,
            "inputs": [
                {
                    "path": _display_path(e.item),
                    "bytes": e.item.path.stat().st_size,
                    "sha256": input_hashes[e.item.path],
                    "reader": e.reader,
                }
                for e in entries
            ],
            "directory": (
                {"path": str(request.directory.resolve()), "sha256": directory_sha}
                if request.directory is not None
                else None
            ),
        }
        outputs = AssessOutputs(
            workspace=workspace,
            provenance=provenance,
            aggregate=aggregate,
            inventory=inventory,
            rows=rows,
            impact=impact,
            directory=directory,
            skipped=skipped,
            sources=[_display_name(e.item) for e in entries],
            reveal=request.reveal,
        )
        settings.inputs = [str(p.resolve()) for p in request.exports]
        settings.directory = str(request.directory.resolve()) if request.directory else None
        write_settings(workspace, settings)
        os.chmod(workspace / "breachdesk.toml", 0o600)
        written = write_outputs(outputs, finished=_now())
        append_event(
            store,
            "assess.finished",
            {
                "inputs": {e["path"]: e["sha256"] for e in provenance["inputs"]},
                "directory": directory_sha,
                "outputs": written.hashes,
                "records": written.impact["records"],
                "affected": written.impact["affected"],
            },
        )
    finally:
        store.close()
    sensitive = any(f.kind.sensitive for f in aggregate.total.findings)
    notes = list(directory.notes) if directory else []
    return AssessResult(workspace, written.impact, EXIT_FINDINGS if sensitive else EXIT_OK, notes)


def _mask(categories: Any) -> int:
    mask = 0
    for category in categories:
        if category is not None:
            mask |= CATEGORY_BITS[Category(category)]
    return mask


def _display_name(item: InputFile) -> str:
    return item.name


def _display_path(item: InputFile) -> str:
    resolved = str(item.path.resolve())
    if item.compression == "zip":
        return f"{resolved}!{item.name.split('!', 1)[1]}"
    return resolved


def _recognise(exports: Sequence[Path]) -> tuple[list[InputEntry], list[tuple[str, str]]]:
    entries: list[InputEntry] = []
    skipped: list[tuple[str, str]] = []
    for item in open_inputs(expand_inputs(exports)):
        try:
            found = recognise(item)
        except (OSError, EOFError) as exc:
            skipped.append((item.name, f"unreadable: {type(exc).__name__}"))
            continue
        if found.reader is not None:
            entries.append(InputEntry(item, found.reader.name))
        elif found.empty:
            entries.append(InputEntry(item, "none"))
        else:
            skipped.append((item.name, found.reason))
    return entries, skipped


def _scan(
    entries: list[InputEntry],
    extra_keys: Any,
    key: bytes,
    settings: Any,
    request: AssessRequest,
    report: ProgressFn,
) -> RunAggregate:
    extra = IdentityKeys(
        tuple(extra_keys.user_ids),
        tuple(extra_keys.emails),
        tuple(extra_keys.device_ids),
        tuple(extra_keys.org_keys),
    )
    config = ScanConfig(
        keys={r.name: r.keys.extended(extra) for r in readers()},
        time_keys=TIME_KEYS,
        country_keys=COUNTRY_KEYS,
        hmac_key=key,
        max_record=settings.max_record_bytes,
    )
    workers = request.workers if request.workers is not None else settings.workers
    workers = workers or (os.cpu_count() or 1)
    total_bytes = sum(e.item.path.stat().st_size for e in entries)
    plain = all(e.item.compression == "none" for e in entries)
    aggregate = RunAggregate()
    done = 0

    def units() -> Any:
        from breachdesk.sources.registry import get_reader

        for index, entry in enumerate(entries):
            if entry.reader == "none":
                continue
            reader = get_reader(entry.reader)
            yield from frame(entry.item, index, reader, settings.max_record_bytes)

    def size(unit: WorkUnit) -> int:
        if isinstance(unit, LineBlock):
            return len(unit.data)
        if isinstance(unit, RecordBatch):
            return 0
        return 0

    report("scan", 0, total_bytes if plain else None)
    pending_sizes: deque[int] = deque()

    def sized() -> Any:
        for unit in units():
            pending_sizes.append(size(unit))
            yield unit

    # merging creates millions of small acyclic objects: keep the cyclic GC out of it
    enabled = gc.isenabled()
    gc.disable()
    try:
        for result in scan_units(sized(), config, workers):
            aggregate.merge(result)
            done += pending_sizes.popleft() if pending_sizes else 0
            report("scan", done, total_bytes if plain else None)
    finally:
        if enabled:
            gc.enable()
    return aggregate
