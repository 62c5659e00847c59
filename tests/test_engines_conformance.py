"""The two engines give the same workspace: every file byte for byte, apart from run times and
the engine's name in provenance — on an export with every reader form, the planted corpus,
people whose country appears late, fields with more values than the sample keeps, odd lines
(BOM, CRLF, blank, invalid UTF-8, over the size limit), no newline at the end, a file name
Hadoop would take for a pattern, hashed emails and a user rule file.

Spark runs in local mode with splits of a few KiB (``conftest.spark_local``), so the files are
cut into several splits and the line numbers, record numbers, samples, first countries and
first appearances must all survive the cut. The embedded engine is also held to its own
results when its units are cut at another size.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.directory import directory_digest
from breachdesk.errors import InputError
from conftest import build_small_export, record_identity
from helpers import open_ws
from planted import cases, plant
from reader_samples import DIRECTORY, SAMPLES, pack

RULE = (
    '[[rule]]\nid = "acme-key"\nkind = "api_key"\nkeywords = ["acme_"]\n'
    "pattern = 'acme_[a-z0-9]{24}'\n"
    'examples.true_positive = ["acme_0123456789abcdefghijklmn"]\n'
)
COUNTRIES = ["DE", "FR", "US", "JP", "BR", ""]


def _events(rng: random.Random) -> bytes:
    """Real-shaped events: ids, emails (plain and hashed), devices, late countries, nested and
    list values, more distinct values per field than the classifier's sample, secrets."""
    lines: list[bytes] = [b"\xef\xbb\xbf" + orjson.dumps({"event": "Start", "properties": {}})]
    # a person whose first country (DE) comes in another field shape, between two records of
    # one shape, the second of them with another country (FR): DE, however the input is cut
    pad = "y" * 400
    for extra, country in (({"a": 1}, "x1"), ({"b": 1}, "DE"), ({"a": 1}, "FR")):
        props = {"distinct_id": "late-1", "pad": pad, "mp_country_code": country, **extra}
        lines.append(orjson.dumps({"event": "Late", "properties": props}))
    for i in range(700):
        user = rng.randrange(60)
        props: dict[str, Any] = {
            "distinct_id": f"p{user}" if user % 7 else f"$device:dev-{user}",
            "time": 1760000000 + i * 37,
            "$current_url": f"https://app.example.com/item/{rng.randrange(10_000)}?ref={i}",
            "$device_id": f"dev-{user}",
            "plan": rng.choice(["free", "team", "enterprise", None, ""]),
            "score": rng.random() * 100 if i % 3 else rng.randrange(10),
            "tags": [f"t{rng.randrange(5)}", {"k": i}] if i % 5 == 0 else [],
            "meta": {"screen": {"w": 1280 + i % 3, "h": 720}, "empty": {}},
        }
        if i > user * 9:  # a person's country appears only after some of their events
            props["mp_country_code"] = COUNTRIES[(user + i // 200) % len(COUNTRIES)]
        if user % 4 == 0:
            props["$email"] = f"Person{user}@Example.COM "
        if user % 11 == 3:
            email = f"person{user}@example.com".encode()
            hashed = (
                hashlib.md5(email, usedforsecurity=False) if user % 2 else hashlib.sha256(email)
            )
            props["$user_id"] = hashed.hexdigest()
        if i % 97 == 5:
            props["note"] = f"acme_{rng.getrandbits(96):024x}"[:29]
        if i % 50 == 10:
            props["org_id"] = [f"o{user % 3 + 1}", f"ext-{user}"]
        lines.append(orjson.dumps({"event": rng.choice(["View", "Click"]), "properties": props}))
        if i % 131 == 7:
            lines.append(b"")
        if i % 173 == 9:
            lines.append(b'{"event": "Broken", "properties": {"distinct_id": "p1", \xff}')
        if i % 211 == 3:
            lines.append(b"  \r")
    for kind, shape in cases():  # every finding kind in every field shape, decoys beside
        for decoy in (False, True):
            props = {"distinct_id": f"p{rng.randrange(60)}", "time": 1760100000}
            plant(rng, props, kind, shape, decoy)
            lines.append(orjson.dumps({"event": "Planted", "properties": props}))
    lines.append(b'{"event": "Huge", "properties": {"blob": "' + b"x" * 9000 + b'"}}')
    crlf = [line + b"\r" if n % 9 == 4 else line for n, line in enumerate(lines)]
    return b"\n".join(crlf)  # no newline after the last line


def _scenario(dest: Path) -> tuple[Path, Path]:
    export, directory = build_small_export(dest)
    rng = random.Random(16)
    (export / "events [eu]*.jsonl").write_bytes(_events(rng))
    users = (directory / "users.csv").read_text().rstrip("\n").split("\n")
    for user in range(0, 60, 2):
        mfa = ["true", "false", ""][user % 3]
        users.append(f"p{user},person{user}@example.com,P {user},en,,{mfa},active,,")
    users.append("late-1,late@example.com,Late,en,,true,active,,")
    (directory / "users.csv").write_text("\n".join(users) + "\n")
    return export, directory


def _workspace(base: Path, name: str, key: bytes) -> Path:
    """A workspace holding ``key`` (fingerprints are keyed per workspace) and a rule file."""
    ws = base / name
    (ws / "keys").mkdir(parents=True)
    (ws / "keys").chmod(0o700)
    (ws / "keys" / "hmac.key").write_bytes(key)
    (ws / "keys" / "hmac.key").chmod(0o600)
    (ws / "acme.toml").write_text(RULE)
    # records over 8 KiB are refused: the huge line spans several splits
    (ws / "breachdesk.toml").write_text('rule_files = ["acme.toml"]\nmax_record_bytes = 8192\n')
    return ws


def _files(ws: Path) -> dict[str, bytes]:
    """Every output of the run in force, times and the engine's name made equal."""
    found: dict[str, bytes] = {}
    for path in sorted((ws / "current").rglob("*")):
        if path.is_file():
            found[str(path.relative_to(ws / "current"))] = path.read_bytes()
    impact = json.loads(found["impact.json"])
    for key in ("started", "finished", "engine", "command"):
        impact["provenance"][key] = "-"
    found["impact.json"] = json.dumps(impact, indent=1).encode()
    report = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", b"-", found["report.html"])
    # the briefing says when it was written and names the workspace in its next steps
    report = re.sub(rb"written \d{4}-\d\d-\d\d \d\d:\d\d UTC", b"-", report)
    report = report.replace(str(ws).encode(), b"WS").replace(str(ws.resolve()).encode(), b"WS")
    found["report.html"] = re.sub(rb"Command: <code>.*?</code>. Engine: \w+", b"-", report)
    return found


@pytest.mark.spark
def test_spark_writes_the_embedded_engines_workspace(
    tmp_path: Path, spark_local: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, directory = _scenario(tmp_path / "in")
    key = bytes(range(32))
    embedded = _workspace(tmp_path, "embedded", key)
    first = assess(AssessRequest([export], embedded, directory=directory, workers=2))
    spark = _workspace(tmp_path, "spark", key)
    # blocks of 1 KiB inside each split, so a split is also scanned in several blocks
    monkeypatch.setattr("breachdesk.engine.spark.scan.BLOCK_BYTES", 1024)
    runner = CliRunner()
    ran = runner.invoke(
        app,
        ["assess", str(export), "--out", str(spark), "--directory", str(directory),
         "--engine", "spark", "--json"],
    )  # fmt: skip
    assert ran.exit_code == first.exit_code == 1, ran.output
    got, want = _files(spark), _files(embedded)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name
    impact = json.loads((spark / "impact.json").read_text())
    assert impact["provenance"]["engine"] == "spark"
    assert first.impact["provenance"]["engine"] == "embedded"
    # the scenario holds what it claims: every kind found, lines past the cut, late countries
    assert all(f["count"] for f in impact["findings"])
    assert impact["records"]["rejected"] >= 8
    lines = [r.split(",")[1] for r in (spark / "rejected.csv").read_text().splitlines()[1:]]
    assert max(map(int, lines)) > 700
    assert impact["by_country"]
    late = [r for r in (spark / "affected_users.csv").read_text().splitlines() if "late-1" in r]
    assert late and late[0].split(",")[5] == "DE"
    assert "acme-key" in (spark / "findings.csv").read_text()


def test_embedded_results_do_not_depend_on_where_the_input_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The definitions both engines share: the same outputs whether the scan's units are
    4 MiB or a few hundred bytes (the first 200 values of a field, a signature's first country,
    first appearance, line and record numbers)."""
    export, directory = _scenario(tmp_path / "in")
    key = bytes(range(32))
    whole = _workspace(tmp_path, "whole", key)
    assess(AssessRequest([export], whole, directory=directory, workers=1))
    monkeypatch.setattr("breachdesk.sources.framing.BLOCK_BYTES", 300)
    cut = _workspace(tmp_path, "cut", key)
    assess(AssessRequest([export], cut, directory=directory, workers=1))
    got, want = _files(cut), _files(whole)
    for name in want:
        assert got[name] == want[name], name
    shutil.rmtree(tmp_path / "in")


def _rows(ws: Path, name: str) -> list[list[str]]:
    """A CSV's rows, findings and unmatched identities without their fingerprints (keyed per
    workspace)."""
    rows = [r.split(",") for r in (ws / name).read_text().splitlines()]
    if name == "unmatched.csv":
        return [r[:4] + r[5:] for r in rows]
    return [r[:7] + r[8:] for r in rows] if name == "findings.csv" else rows


@pytest.mark.spark
def test_spark_reads_inputs_at_hadoop_uris(tmp_path: Path, spark_local: object) -> None:
    """Inputs named by URI are listed, recognised and hashed through Hadoop's client (here its
    local file system, as ``file://``); the results are those of the same files named by path."""
    export, directory = build_small_export(tmp_path / "in")
    # a name Spark's file sources skip unasked (``_`` or ``.`` first): read all the same
    late = {"event": "Late", "properties": {"distinct_id": "u3", "token": "ghp_" + "a1" * 18}}
    (export / "_late.jsonl").write_bytes(orjson.dumps(late) + b"\n")
    local = tmp_path / "local"
    assess(AssessRequest([export], local, directory=directory, workers=1))
    remote = tmp_path / "remote"
    uri, folder = export.absolute().as_uri(), directory.absolute().as_uri()
    ran = CliRunner().invoke(
        app, ["assess", uri, "--out", str(remote), "--directory", folder, "--engine", "spark"]
    )
    assert ran.exit_code == 1, ran.output
    for name in ("affected_users.csv", "affected_organizations.csv", "unmatched.csv",
                 "findings.csv", "rejected.csv", "skipped.csv"):  # fmt: skip
        assert _rows(remote, name) == _rows(local, name), name
    got = json.loads((remote / "impact.json").read_text())["provenance"]["inputs"]
    want = json.loads((local / "impact.json").read_text())["provenance"]["inputs"]
    assert [(i["bytes"], i["sha256"], i["reader"]) for i in got] == [
        (i["bytes"], i["sha256"], i["reader"]) for i in want
    ]
    got_in = json.loads((remote / "impact.json").read_text())["provenance"]["containers"]
    want_in = json.loads((local / "impact.json").read_text())["provenance"]["containers"]
    assert [(c["bytes"], c["sha256"]) for c in got_in] == [
        (c["bytes"], c["sha256"]) for c in want_in
    ]
    assert len(got_in) == 1 and got_in[0]["path"].endswith("/more.zip")
    # each zip member with the size and hash of its own bytes, read in the driver's JVM
    with zipfile.ZipFile(export / "more.zip") as archive:
        member = archive.read("inner/people2.jsonl")
    packed = next(i for i in got if i["path"].endswith("more.zip!inner/people2.jsonl"))
    assert (packed["bytes"], packed["sha256"]) == (len(member), hashlib.sha256(member).hexdigest())
    assert packed["container"] == got_in[0]["path"]
    assert all(i["path"].startswith("file:") for i in got)
    assert any(i["path"].endswith("/_late.jsonl") for i in got)
    assert any(i["path"].endswith("more.zip!inner/people2.jsonl") for i in got)
    # the directory was copied into the workspace byte for byte: the same digest
    provenance = [
        json.loads((ws / "impact.json").read_text())["provenance"] for ws in (remote, local)
    ]
    assert provenance[0]["directory"]["sha256"] == provenance[1]["directory"]["sha256"]
    assert provenance[0]["directory"]["source"] == folder
    sha = provenance[0]["directory"]["sha256"]
    assert provenance[0]["directory"]["path"] == str((remote / "directories" / sha[:16]).resolve())


@pytest.mark.spark
def test_a_directory_snapshot_stays_as_its_run_matched(tmp_path: Path, spark_local: object) -> None:
    """Assessing again (--replace) with a directory at a URI that has changed: the new
    snapshot goes beside the first, which the replaced run's provenance still names with its
    digest; without --replace the workspace is refused and left as it was."""
    export, directory = build_small_export(tmp_path / "in")
    uri, ws = directory.absolute().as_uri(), tmp_path / "ws"
    first = assess(
        AssessRequest([export], ws, directory_location=uri, workers=1, engine="spark")
    ).impact["provenance"]["directory"]
    users = (directory / "users.csv").read_text().splitlines()
    (directory / "users.csv").write_text("\n".join(users[:-1]) + "\n")  # one user fewer
    again = AssessRequest([export], ws, directory_location=uri, workers=1, engine="spark")
    with pytest.raises(InputError, match="already holds an incident"):
        assess(again)
    assert sorted(p.name for p in (ws / "directories").iterdir()) == [first["sha256"][:16]]
    second = assess(replace(again, replace=True)).impact["provenance"]["directory"]
    assert second["path"] != first["path"] and second["sha256"] == directory_digest(directory)
    assert directory_digest(Path(first["path"])) == first["sha256"]  # never altered
    assert not [p for p in (ws / "directories").iterdir() if p.name.startswith(".")]


@pytest.mark.spark
def test_spark_reads_the_directory_from_catalog_tables(tmp_path: Path, spark_local: Any) -> None:
    """``--directory table:NAMESPACE``: three tables of the Spark catalog, snapshotted into the
    workspace (0600 Parquet) and matched as the same directory's files are."""
    import pyarrow.csv as pacsv

    export, directory = build_small_export(tmp_path / "in")
    local = tmp_path / "local"
    assess(AssessRequest([export], local, directory=directory, workers=1))
    for stem in ("users", "organizations", "memberships"):
        columns = pacsv.read_csv(directory / f"{stem}.csv").column_names
        table = pacsv.read_csv(
            directory / f"{stem}.csv",
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, "string"), strings_can_be_null=False
            ),
        )
        spark_local.createDataFrame(table).createOrReplaceGlobalTempView(stem)
    tables = tmp_path / "tables"
    result = assess(
        AssessRequest(
            [export], tables, directory_location="table:global_temp", workers=1, engine="spark"
        )
    )
    assert result.exit_code == 1
    for name in ("affected_users.csv", "affected_organizations.csv", "unmatched.csv"):
        assert _rows(tables, name) == _rows(local, name), name
    snapshot = Path(result.impact["provenance"]["directory"]["path"]) / "users.parquet"
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert result.impact["provenance"]["directory"]["source"] == "table:global_temp"


def test_a_uri_needs_the_spark_engine(tmp_path: Path) -> None:
    ran = CliRunner().invoke(app, ["assess", "s3a://bucket/export/", "--out", str(tmp_path / "w")])
    assert ran.exit_code == 2
    assert "s3a://bucket/export/: a URI input needs --engine spark" in ran.output
    assert not (tmp_path / "w").exists()


# The readers' samples (tests/data/readers), packed as each vendor ships them: device ids
# tying people (stitching), country names (one mapped to none), nested and key/value fields,
# per-vendor time units and device namespaces, and a --mapping reader of a CSV export.
VENDORS = ["segment", "amplitude", "posthog", "ga4", "mapping"]
MAPPING = SAMPLES / "mapping" / "acme-crm.toml"


def _on_both(
    base: Path, exports: list[Path], directory: Path | None, mapping: Path | None = None
) -> dict[str, Any]:
    """Assess on each engine into its own workspace; their files must be the same bytes.
    Returns the Spark run's impact."""
    key = bytes(range(32))
    results = {}
    for engine in ("embedded", "spark"):
        ws = _workspace(base, engine, key)
        request = AssessRequest(
            exports, ws, directory=directory, workers=1, mapping=mapping, engine=engine
        )
        results[engine] = assess(request)
    assert results["spark"].exit_code == results["embedded"].exit_code
    got, want = _files(base / "spark"), _files(base / "embedded")
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name
    assert results["spark"].impact["provenance"]["engine"] == "spark"
    return results["spark"].impact


@pytest.mark.spark
@pytest.mark.parametrize("vendor", VENDORS)
def test_spark_writes_the_embedded_engines_workspace_for_every_reader(
    tmp_path: Path, spark_local: object, vendor: str
) -> None:
    export = pack(vendor, tmp_path / "in")
    mapping = MAPPING if vendor == "mapping" else None
    impact = _on_both(tmp_path, [export], DIRECTORY, mapping)
    # what the samples hold came through: people tied by devices, devices nobody signs in on
    assert impact["records"]["stitched"] > 0 and impact["records"]["anonymous"] > 0
    if vendor != "posthog":  # PostHog gives codes, the others names (one unknown each)
        assert impact["records"]["country_unmapped"] == 1
    if vendor == "posthog":
        # assessed again on Spark into the embedded engine's workspace: nothing changed
        again = assess(
            AssessRequest([export], tmp_path / "embedded", directory=DIRECTORY, workers=1,
                          engine="spark", replace=True)
        )  # fmt: skip
        assert again.run == 2 and again.changes is not None
        counts = again.changes.counts()
        assert all(not n for part in ("users", "organizations") for n in counts[part].values())


@pytest.mark.spark
def test_spark_stitches_without_a_directory_across_vendors(
    tmp_path: Path, spark_local: object
) -> None:
    """Every vendor's files in one run, no directory: the device-only records tied to a person
    somewhere in the export (each vendor's device ids in its own namespace) and the rest."""
    exports = [pack(vendor, tmp_path / "in" / vendor) for vendor in VENDORS if vendor != "mapping"]
    impact = _on_both(tmp_path, exports, None)
    readers = {i["reader"].split(".")[0] for i in impact["provenance"]["inputs"]}
    assert readers >= {"segment", "amplitude", "posthog", "ga4"}
    records = impact["records"]
    assert records["stitched"] > 0 and records["anonymous"] > 0
    assert records["country_unmapped"] == 3


@pytest.mark.spark
def test_spark_reads_lines_through_a_mapping_cut_into_splits(
    tmp_path: Path, spark_local: object
) -> None:
    """A --mapping reader of JSON Lines with dotted and ``*`` paths, country names and epoch
    times, in a file Spark cuts into several splits (a few KiB each)."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[reader]\nname = "helpdesk"\nformat = "jsonl"\n'
        '[keys]\nuser_ids = ["requester.id"]\nemails = ["requester.contact.email"]\n'
        'device_ids = ["session.browser"]\norg_keys = ["orgs.*"]\n'
        'countries = ["requester.country"]\n'
        '[time]\npath = "at"\nunit = "epoch"\n'
    )
    rng = random.Random(15)
    names = ["United States", "Germany", "Côte d’Ivoire", "Elbonia", "(not set)", "FR"]
    lines = []
    for i in range(600):
        person = rng.randrange(12)
        requester: dict[str, Any] = {"country": names[(person + i // 150) % len(names)]}
        if person % 3:
            requester["id"] = f"u{person}"
        if person % 4 == 0:
            requester["contact"] = {"email": f"Person{person}@Example.org"}
        record: dict[str, Any] = {
            "requester": requester if i % 5 else {},
            "session": {"browser": f"b{person % 7}"},
            "orgs": {"billing": f"o{person % 3 + 1}", "support": [f"o{person % 2 + 6}"]},
            "at": 1714560000 + i * 60,
            "body": f"ticket {i}: " + ("please reset my password" if i % 9 else "x" * 300),
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    (tmp_path / "tickets.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (tmp_path / "tickets.ndjson").stat().st_size > 4 * 16384  # several splits
    for directory in (DIRECTORY, None):
        base = tmp_path / ("with" if directory else "without")
        impact = _on_both(base, [tmp_path / "tickets.ndjson"], directory, mapping)
        assert impact["provenance"]["inputs"][0]["reader"] == "mapping.helpdesk"
        assert impact["records"]["stitched"] > 0 and impact["records"]["country_unmapped"] > 0


@pytest.mark.spark
def test_notify_rematch_assesses_again_on_spark(tmp_path: Path, spark_local: object) -> None:
    """``notify plan --rematch`` after a Spark run over an input at a URI: the run again on
    Spark, with that input (the embedded engine cannot read a URI)."""
    export, directory = build_small_export(tmp_path / "in")
    ws = tmp_path / "ws"
    ran = CliRunner().invoke(
        app, ["assess", export.absolute().as_uri(), "--out", str(ws), "--directory",
              str(directory), "--engine", "spark"],
    )  # fmt: skip
    assert ran.exit_code == 1, ran.output
    with open_ws(ws) as opened:
        record_identity(opened)
    users = directory / "users.csv"
    users.write_text(users.read_text() + "u12,new@example.com,New,en,US,true,active,,\n")
    rematched = CliRunner().invoke(app, ["notify", "plan", str(ws), "--rematch"])
    assert rematched.exit_code == 0, rematched.output
    impact = json.loads((ws / "impact.json").read_text())
    assert impact["provenance"]["engine"] == "spark"
    assert impact["provenance"]["command"] == "breachdesk notify plan --rematch"
    assert all(i["path"].startswith("file:") for i in impact["provenance"]["inputs"])
