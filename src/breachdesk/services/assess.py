"""The assess use case: from export files (and optionally the directory) to a complete
impact workspace — inventory, findings, match, report — recorded in the audit log.

A workspace that already holds an incident is refused (and left untouched) unless the
request says ``replace``: then the run in force stays under ``runs/<n>/`` as it was, the
new run gets the differences (:mod:`breachdesk.services.changes`), and the log records
both runs with their files' hashes. A run without a directory into a workspace whose run
matched one is refused either way: it would forget every affected person.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from breachdesk import __version__
from breachdesk.detect.inventory import FieldEntry, build_inventory
from breachdesk.detect.rules import builtin_rule_files
from breachdesk.directory import Directory, directory_digest, load_directory
from breachdesk.engine import Engine
from breachdesk.engine.aggregate import RunAggregate
from breachdesk.engine.match import CATEGORY_BITS
from breachdesk.engine.scan import ScanConfig, scan_units
from breachdesk.engine.tables import DuckDBEngine
from breachdesk.errors import EXIT_FINDINGS, EXIT_OK, ExportError, InputError
from breachdesk.impact import Impact
from breachdesk.private import write_private
from breachdesk.report.outputs import AssessOutputs, write_outputs
from breachdesk.services.briefing import brief
from breachdesk.services.changes import (
    CHANGES_CSV,
    CHANGES_JSON,
    Changes,
    Holding,
    compare_runs,
    holding,
    refuse_forgetting,
    write_changes,
)
from breachdesk.services.rules import rule_files
from breachdesk.services.workspace import (
    LOCK_FILE,
    RUNNING,
    Workspace,
    abandon_run,
    current_run,
    next_run_number,
    prepare_workspace,
    publish_run,
    start_run,
)
from breachdesk.settings import Settings, load_settings, write_settings
from breachdesk.sources.base import IdentityKeys, Reader, declared
from breachdesk.sources.files import (
    InputFile,
    digest_stream,
    find_inputs,
    member_digests,
    open_inputs,
)
from breachdesk.sources.framing import WorkUnit, frame, recognise
from breachdesk.sources.mapping import load_mapping
from breachdesk.sources.registry import get_reader, readers
from breachdesk.store import append_event
from breachdesk.taxonomy import Category

ProgressFn = Callable[[str, int, int | None], None]
log = logging.getLogger("breachdesk.assess")


@dataclass(frozen=True)
class AssessRequest:
    exports: Sequence[Path]
    out: Path
    directory: Path | None = None
    allow_duplicate_emails: bool = False
    reveal: bool = False
    workers: int | None = None
    command: str = "breachdesk assess"
    engine: str = "embedded"  # embedded (DuckDB, this machine) | spark
    master: str | None = None  # the Spark master URL (default: spark-submit's, else local)
    locations: Sequence[str] = ()  # inputs at Hadoop-compatible URIs (Spark), after exports
    # the directory at a Hadoop URI or as tables (table:NAMESPACE); Spark snapshots it into
    # the workspace, which then stands as ``directory``
    directory_location: str | None = None
    mapping: Path | None = None  # a mapping file (TOML) making a reader of any export
    # into a workspace that already holds an incident: keep its run in force as a snapshot,
    # report what changed; without it such a workspace is refused and left untouched
    replace: bool = False


@dataclass
class InputEntry:
    item: InputFile
    reader: str  # a reader name, or "none" for an empty file
    found: Reader | None = None  # the reader itself


@dataclass
class AssessResult:
    workspace: Path
    impact: dict[str, Any]
    exit_code: int
    notes: list[str] = field(default_factory=list)
    run: int = 0
    changes: Changes | None = None  # against the run replaced (--replace)


def rules_version(extra: Sequence[Path] = ()) -> str:
    """A short hash of the rule files in force (built-in, then the user's)."""
    digest = hashlib.sha256()
    for name, text in builtin_rule_files():
        digest.update(name.encode() + b"\0" + text.encode())
    for path in extra:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{'custom' if extra else 'builtin'}-{digest.hexdigest()[:12]}"


@contextmanager
def _stage(name: str, report: ProgressFn | None = None) -> Iterator[None]:
    """Show the stage as running, then log how long it took (seconds only, never values)."""
    start = time.perf_counter()
    if report is not None:
        report(name, 0, None)
    yield
    if report is not None:
        report(name, 1, 1)
    log.info("%s: %.2f s", name, time.perf_counter() - start)


def _sha256_file(path: Path) -> str:
    return _file_digest(path)[1]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def assess(
    request: AssessRequest, progress: ProgressFn | None = None, ws: Workspace | None = None
) -> AssessResult:
    """Run assess; raises :class:`~breachdesk.errors.InputError` for bad input.

    The outputs go into a new run folder that replaces the workspace's outputs in one
    rename once complete; a run that fails or is stopped leaves the previous outputs as they
    were (and a killed one is seen as unfinished by every later command until run again).
    ``ws``: the workspace, already open (``notify plan --rematch``).
    """
    started = _now()
    report = progress or (lambda stage, done, total: None)
    workspace = request.out
    _may_write(workspace, request)  # first, so that a refusal leaves everything as it was
    settings = (
        ws.settings
        if ws is not None
        else load_settings(workspace if (workspace / "breachdesk.toml").exists() else None)
    )
    directory: Directory | None = None
    directory_sha: str | None = None
    if request.directory_location is not None:
        request = replace(request, directory=_snapshot_directory(request))
    if request.directory is not None:
        with _stage("directory", report):
            allow = request.allow_duplicate_emails or settings.allow_duplicate_emails
            directory = load_directory(request.directory, allow_duplicate_emails=allow)
            directory_sha = directory_digest(request.directory)

    extra = [load_mapping(request.mapping)] if request.mapping is not None else []
    entries, skipped = _recognise(request.exports, extra, _remote(request))
    if not entries:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped[:3]) or "no file found"
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        raise ExportError(f"no readable input at all ({reasons}{more})")

    prepare_workspace(workspace)
    with assess_lock(workspace):
        found = _may_write(workspace, request)  # again: another assess may have finished since
        opened = ws or Workspace.create(workspace, settings)
        try:
            return _run(request, opened, entries, skipped, directory, directory_sha, started,
                        report, found)  # fmt: skip
        finally:
            if ws is None:
                opened.close()


def _may_write(workspace: Path, request: AssessRequest) -> Holding | None:
    """What the workspace holds; InputError when this assess may not replace it."""
    found = holding(workspace)
    if found is not None:
        if not request.replace:
            raise InputError(found.refusal())
        given = request.directory_location or request.directory
        refuse_forgetting(found, Path(given) if given is not None else None)
    return found


def _run(
    request: AssessRequest,
    ws: Workspace,
    entries: list[InputEntry],
    skipped: list[tuple[str, str]],
    directory: Directory | None,
    directory_sha: str | None,
    started: str,
    report: ProgressFn,
    found: Holding | None,
) -> AssessResult:
    workspace, settings, store = ws.path, ws.settings, ws.store
    previous = current_run(workspace) if found is not None else None
    previous_run = found.current if found is not None else None
    append_event(
        store,
        "assess.started",
        {"inputs": len(entries), "skipped": len(skipped), "directory": directory_sha,
         "replace": request.replace, "previous_run": previous_run},
    )  # fmt: skip
    running = workspace / RUNNING
    write_private(running, f"{started} pid {os.getpid()}\n".encode())
    folder = start_run(workspace)
    config = _scan_config(entries, workspace, settings, ws.key)
    tables: Engine
    if request.engine == "spark":
        from breachdesk.engine.spark import SparkEngine, spark_session

        tables = SparkEngine(spark_session(request.master))
    else:
        tables = DuckDBEngine(
            temp_dir=folder / ".engine-tmp", memory_limit=f"{settings.engine_memory_mb}MB"
        )
    try:
        if directory is not None:
            # the engine's copy is within its bounded memory (spilled past it): the Arrow
            # tables, the largest thing this process held, go before the scan starts
            tables.hold_directory(directory)
            directory.release()
        with ThreadPoolExecutor(max_workers=1) as hasher:
            hashes: dict[Path | str, Future[Digest]] = {}
            members: dict[Path | str, Future[dict[str, Digest]]] = {}
            for entry in entries:
                where = _where(entry.item)
                if where not in hashes:
                    hashes[where] = _hash(hasher, entry.item, tables)
                if entry.item.compression == "zip" and where not in members:
                    members[where] = _hash_members(hasher, entry.item, tables)
            with _stage("scan"):
                if isinstance(tables, DuckDBEngine):
                    aggregate = _scan(entries, settings, config, request.workers, tables, report)
                else:
                    aggregate = _scan_spark(entries, config, tables, report)
            inputs, containers = _inputs_provenance(
                entries,
                {where: fut.result() for where, fut in hashes.items()},
                {where: fut.result() for where, fut in members.items()},
            )
        with _stage("inventory", report):
            inventory = build_inventory(aggregate.total, _field_hints(entries))
            tables.finish(*_masks(aggregate, inventory))
        signature_ids = tables.signature_ids([f.signature for f in aggregate.total.findings])
        impact: Impact | None = None
        if directory is not None:
            with _stage("match", report):
                impact = tables.match(aggregate.total.org_ids, list(signature_ids.values()))
        provenance: dict[str, Any] = {
            "tool_version": __version__,
            "rules_version": rules_version(rule_files(settings, workspace)),
            "command": request.command,
            "engine": request.engine,
            "started": started,
            "inputs": inputs,
            "containers": containers,
            "directory": (
                {
                    "path": str(request.directory.resolve()),
                    "sha256": directory_sha,
                    **({"source": source} if (source := request.directory_location) else {}),
                }
                if request.directory is not None
                else None
            ),
        }
        if request.mapping is not None:
            provenance["mapping"] = {
                "path": str(request.mapping.resolve()),
                "sha256": _sha256_file(request.mapping),
            }
        stitched, anonymous = (
            (impact.stitched_records, impact.anonymous_records)
            if impact is not None
            else tables.device_only_records()
        )
        outputs = AssessOutputs(
            folder=folder,
            provenance=provenance,
            aggregate=aggregate,
            inventory=inventory,
            signature_ids=signature_ids,
            export_countries=tables.export_countries() if directory is None else {},
            impact=impact,
            skipped=skipped,
            sources=[e.item.name for e in entries],
            reveal=request.reveal,
            stitched=stitched,
            anonymous=anonymous,
            key=ws.key,
        )
        changes: Changes | None = None
        kept: dict[str, str] = {}
        number = next_run_number(workspace)
        if previous is not None:
            changes = compare_runs(store, previous, previous_run, impact, number)
            kept = _hashes(previous)
        outputs.briefing = brief(ws, impact, aggregate, request.directory, number, changes)
        # everything the outputs need is out of the engine now: its memory goes back before
        # the files are written, not after
        tables.close()
        with _stage("outputs", report):
            written = write_outputs(outputs, finished=_now())
            if changes is not None:
                written.hashes.update(write_changes(folder, changes))
        shutil.rmtree(folder / ".engine-tmp", ignore_errors=True)
        settings.inputs = [str(p.resolve()) for p in request.exports] + list(request.locations)
        settings.directory = str(request.directory.resolve()) if request.directory else None
        settings.mapping = str(request.mapping.resolve()) if request.mapping else None
        write_settings(workspace, settings)
        run = publish_run(workspace, folder)
    except BaseException as exc:
        tables.close()
        abandon_run(folder)
        # a clean failure leaves the previous outputs in force, and says so in the log
        append_event(store, "assess.failed", {"error": type(exc).__name__})
        running.unlink(missing_ok=True)
        raise
    ws.outputs = current_run(workspace)
    append_event(
        store,
        "assess.finished",
        {
            "run": run,
            "inputs": {e["path"]: e["sha256"] for e in provenance["inputs"]},
            "containers": {c["path"]: c["sha256"] for c in provenance["containers"]},
            "directory": directory_sha,
            "outputs": written.hashes,
            "records": written.impact["records"],
            "affected": written.impact["affected"],
            # the run replaced stays under runs/, unchanged: its files' hashes, as kept
            "previous_run": previous_run,
            "previous_outputs": kept,
        },
    )
    if changes is not None:
        append_event(
            store,
            "assess.changes",
            {"run": run, "previous_run": previous_run, "counts": changes.counts(),
             "note": changes.note or None,
             "files": {k: written.hashes[k] for k in (CHANGES_JSON, CHANGES_CSV)}},
        )  # fmt: skip
    running.unlink()
    sensitive = any(f.kind.sensitive for f in aggregate.total.findings)
    notes = list(directory.notes) if directory is not None else []  # its len() is 0 by now
    code = EXIT_FINDINGS if sensitive else EXIT_OK
    return AssessResult(workspace, written.impact, code, notes, run, changes)


def _hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a run folder, by its path in the folder."""
    return {
        str(path.relative_to(folder)): _sha256_file(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@contextmanager
def assess_lock(workspace: Path) -> Iterator[None]:
    """One assess at a time per workspace; a second is refused at once, saying why."""
    fd = os.open(workspace / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{workspace}: another assess is running in it; wait for it") from None
        yield
    finally:
        os.close(fd)


def _masks(
    aggregate: RunAggregate, inventory: list[FieldEntry]
) -> tuple[list[int], dict[str, int]]:
    """Category bitmasks per field shape (from the inventory) and per signature with findings."""
    categories = {f.path: f.category for f in inventory}
    shape_masks = [_mask(categories.get(p) for p in shape) for shape in aggregate.total.shapes]
    finding_masks = {
        sig: _mask(kind.category for kind in kinds)
        for sig, kinds in aggregate.total.finding_kinds.items()
    }
    return shape_masks, finding_masks


def _mask(categories: Any) -> int:
    mask = 0
    for category in categories:
        if category is not None:
            mask |= CATEGORY_BITS[Category(category)]
    return mask


def _where(item: InputFile) -> Path | str:
    return item.uri or item.path


Digest = tuple[int, str]  # a size in bytes and a SHA-256 (hex)


def _hash(hasher: ThreadPoolExecutor, item: InputFile, tables: Engine) -> Future[Digest]:
    """The size and SHA-256 of the file holding the input (the archive, for a zip member),
    computed beside the scan (a remote one by the Spark driver)."""
    if item.uri:
        from breachdesk.engine.spark import SparkEngine
        from breachdesk.engine.spark.hadoop import remote_sha256

        assert isinstance(tables, SparkEngine) and item.size is not None  # listed with it
        size, session, uri = item.size, tables.session, item.uri
        return hasher.submit(lambda: (size, remote_sha256(session, uri)))
    return hasher.submit(_file_digest, item.path)


def _file_digest(path: Path) -> Digest:
    with path.open("rb") as fh:
        return digest_stream(fh)


def _hash_members(
    hasher: ThreadPoolExecutor, item: InputFile, tables: Engine
) -> Future[dict[str, Digest]]:
    """The size and SHA-256 of each member of the zip archive holding the input, of the
    member's own bytes (a remote archive's by the Spark driver)."""
    if item.uri:
        from breachdesk.engine.spark import SparkEngine
        from breachdesk.engine.spark.hadoop import remote_member_digests

        assert isinstance(tables, SparkEngine)
        return hasher.submit(remote_member_digests, tables.session, item.uri)
    return hasher.submit(member_digests, item.path)


def _inputs_provenance(
    entries: list[InputEntry],
    files: dict[Path | str, Digest],
    members: dict[Path | str, dict[str, Digest]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Provenance's ``inputs`` (each with its own size and SHA-256: a zip member's are those
    of its bytes, and it names its archive as ``container``) and ``containers`` (each archive
    once, with the size and SHA-256 of the archive file)."""
    inputs: list[dict[str, Any]] = []
    containers: dict[str, dict[str, Any]] = {}
    for entry in entries:
        item, where = entry.item, _where(entry.item)
        size, sha256 = files[where]
        line: dict[str, Any] = {"path": _display_path(item)}
        if item.compression == "zip":
            archive = item.uri or str(item.path.resolve())
            containers.setdefault(archive, {"path": archive, "bytes": size, "sha256": sha256})
            found = members[where].get(item.member)
            if found is None:
                raise ExportError(f"{archive}: member {item.member} changed while being read")
            size, sha256 = found
            line.update(bytes=size, sha256=sha256, reader=entry.reader, container=archive)
        else:
            line.update(bytes=size, sha256=sha256, reader=entry.reader)
        inputs.append(line)
    return inputs, list(containers.values())


def _snapshot_directory(request: AssessRequest) -> Path:
    """The directory named by URI or as tables, copied into the workspace by Spark, under
    ``directories/`` by its digest: a snapshot never changes once a run matched against it
    (a run replaced keeps its own, and a second assess starting meanwhile cannot alter it)."""
    location = str(request.directory_location)
    if request.engine != "spark":
        raise InputError(f"{location}: a directory there needs --engine spark")
    from breachdesk.engine.spark import spark_session
    from breachdesk.engine.spark.directory import snapshot_directory

    folder = prepare_workspace(request.out) / "directories"
    folder.mkdir(mode=0o700, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".copying-", dir=folder))
    try:
        snapshot_directory(spark_session(request.master), location, staging)
        final = folder / directory_digest(staging)[:16]
        if final.exists():  # the same directory, snapshotted before
            shutil.rmtree(staging)
        else:
            staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _remote(request: AssessRequest) -> list[InputFile]:
    """The inputs at Hadoop URIs, found through the Spark session's Hadoop client."""
    if not request.locations:
        return []
    if request.engine != "spark":
        raise InputError(
            f"{request.locations[0]}: a URI input needs --engine spark (the embedded engine "
            "reads files on this machine)"
        )
    from breachdesk.engine.spark import spark_session
    from breachdesk.engine.spark.hadoop import remote_inputs

    return remote_inputs(spark_session(request.master), list(request.locations))


def _display_path(item: InputFile) -> str:
    where = item.uri or str(item.path.resolve())
    return f"{where}!{item.member}" if item.compression == "zip" else where


def _field_hints(entries: list[InputEntry]) -> dict[str, Category]:
    """The categories the run's readers state for their fields: those they name, and those
    their identity declarations imply (a user-id key is ``user.unique_id``, a device-id key
    ``user.device.cookie_id``…). A field two readers state differently is left to the
    classifier."""
    hints: dict[str, Category] = {}
    clashes: set[str] = set()
    for reader in {id(e.found): e.found for e in entries if e.found is not None}.values():
        for path, category in _reader_hints(reader).items():
            if hints.setdefault(path, category) is not category:
                clashes.add(path)
    return {path: c for path, c in hints.items() if path not in clashes}


def _reader_hints(reader: Reader) -> dict[str, Category]:
    keys = reader.keys
    implied = [
        (keys.user_ids, Category.UNIQUE_ID),
        (keys.emails, Category.EMAIL),
        (keys.device_ids, Category.COOKIE_ID),
        (keys.org_keys, Category.ORGANIZATION_ID),
        (keys.countries, Category.LOCATION_IMPRECISE),
        ((keys.time.path,) if keys.time is not None else (), Category.OPERATIONS),
    ]
    found = {path: category for paths, category in implied for path in paths if "*" not in path}
    found.update((path, Category(c)) for path, c in declared(reader, "field_categories").items())
    return found


def _recognise(
    exports: Sequence[Path], extra: Sequence[Reader] = (), remote: Sequence[InputFile] = ()
) -> tuple[list[InputEntry], list[tuple[str, str]]]:
    entries: list[InputEntry] = []
    found = find_inputs(exports)
    skipped = found.skipped
    for item in [*open_inputs(found.files, found.hidden), *remote]:
        try:
            recognised = recognise(item, extra)
        except (OSError, EOFError) as exc:
            skipped.append((item.name, f"unreadable: {type(exc).__name__}"))
            continue
        if recognised.reader is not None:
            entries.append(InputEntry(item, recognised.reader.name, recognised.reader))
        elif item.hidden:  # .DS_Store, ._name, .keep: listed, never an input of its own
            skipped.append((item.name, f"hidden file of no known shape ({recognised.reason})"))
        elif recognised.empty:
            entries.append(InputEntry(item, "none"))
        else:
            skipped.append((item.name, recognised.reason))
    return entries, skipped


def _scan_config(
    entries: list[InputEntry], workspace: Path, settings: Settings, key: bytes
) -> ScanConfig:
    extra = settings.identity_keys
    extra_keys = IdentityKeys(
        tuple(extra.user_ids), tuple(extra.emails), tuple(extra.device_ids), tuple(extra.org_keys)
    )
    registered = {r.name for r in readers()}
    used = {e.found.name: e.found for e in entries if e.found is not None}
    mapped = tuple(r for name, r in used.items() if name not in registered)
    return ScanConfig(
        keys={r.name: r.keys.extended(extra_keys) for r in (*readers(), *mapped)},
        readers=mapped,
        hmac_key=key,
        max_record=settings.max_record_bytes,
        rule_files=tuple(rule_files(settings, workspace)),
    )


def _scan_spark(
    entries: list[InputEntry], config: ScanConfig, tables: Engine, report: ProgressFn
) -> RunAggregate:
    """The scan in Spark's executors (the same scan, cut into Spark's splits)."""
    from breachdesk.engine.spark import SparkEngine, SparkInput, scan_on_spark

    assert isinstance(tables, SparkEngine)
    inputs = [
        SparkInput(
            source=index,
            location=entry.item.uri or str(entry.item.path.absolute()),
            reader=entry.reader,
            framing=(entry.found or get_reader(entry.reader)).framing,
            compression=entry.item.compression,
            member=entry.item.member,
        )
        for index, entry in enumerate(entries)
        if entry.reader != "none"
    ]
    return scan_on_spark(tables, inputs, config, report=report)


def _scan(
    entries: list[InputEntry],
    settings: Settings,
    config: ScanConfig,
    workers: int | None,
    tables: Engine,
    report: ProgressFn,
) -> RunAggregate:
    processes = (workers if workers is not None else settings.workers) or os.cpu_count() or 1
    plain = all(e.item.compression == "none" for e in entries)
    total = sum(e.item.path.stat().st_size for e in entries) if plain else None

    def units() -> Iterator[WorkUnit]:
        for index, entry in enumerate(entries):
            if entry.reader != "none":
                reader = entry.found or get_reader(entry.reader)
                yield from frame(entry.item, index, reader, settings.max_record_bytes)

    aggregate = RunAggregate(tables)
    done = 0
    report("scan", 0, total)
    # merging creates millions of small acyclic objects: keep the cyclic GC out of it
    enabled = gc.isenabled()
    gc.disable()
    try:
        for result in scan_units(units(), config, processes):
            aggregate.merge(result)
            done += result.size
            report("scan", done, total)
    finally:
        if enabled:
            gc.enable()
    return aggregate
