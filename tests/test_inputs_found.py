"""Nothing found under an input folder is dropped without a trace (issue 10): hidden files
are read when they have a known shape and listed otherwise, links to folders are followed
(a loop is listed, not followed), dangling links, fifos and second names of a file are
listed in skipped.csv, and a relative ``../dir`` input is read like any other."""

from __future__ import annotations

import csv
import os
import threading
import zipfile
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.errors import ExportError

runner = CliRunner()


def _events(user: str, n: int = 2) -> bytes:
    line = {"event": "Sign In", "properties": {"time": 1700000000, "distinct_id": user}}
    return b"".join(orjson.dumps(line) + b"\n" for _ in range(n))


def _tree(root: Path) -> Path:
    export = root / "export"
    (export / ".cache").mkdir(parents=True)
    (export / "events.jsonl").write_bytes(_events("u1"))
    (export / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (export / ".late.jsonl").write_bytes(_events("u2"))  # hidden, of a known shape
    (export / ".cache" / "events3.jsonl").write_bytes(_events("u3"))
    (export / ".keep").write_bytes(b"")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "events4.jsonl").write_bytes(_events("u4"))
    (export / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "back").symlink_to(export, target_is_directory=True)  # a loop through linked
    (export / "latest.jsonl").symlink_to(export / "gone.jsonl")  # dangling
    (export / "again.jsonl").symlink_to(export / "events.jsonl")  # the same file twice
    os.mkfifo(export / "pipe")  # opening it would block forever
    with zipfile.ZipFile(export / "archive.zip", "w") as archive:
        archive.writestr("people.jsonl", _events("u5"))
        archive.writestr("__MACOSX/._people.jsonl", b"\x00\x05\x16\x07" + bytes(40))
        archive.writestr(".hidden.jsonl", _events("u6"))
    return export


def _skipped(workspace: Path) -> dict[str, str]:
    with (workspace / "skipped.csv").open(newline="") as fh:
        return {row["source"]: row["reason"] for row in csv.DictReader(fh)}


def _inputs(workspace: Path) -> list[str]:
    impact = orjson.loads((workspace / "impact.json").read_bytes())
    return sorted(Path(i["path"]).name for i in impact["provenance"]["inputs"])


def _unblock(fifo: Path, stop: threading.Event) -> None:
    """Should anything open the fifo to read, a writer comes after a while: the test then
    fails on its assertions instead of hanging."""
    while not stop.wait(5):
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            continue  # no reader: good


def test_everything_found_is_read_or_listed(tmp_path: Path, engine: str) -> None:
    export = _tree(tmp_path)
    stop = threading.Event()
    threading.Thread(target=_unblock, args=(export / "pipe", stop), daemon=True).start()
    workspace = tmp_path / "ws"
    result = assess(AssessRequest([export], workspace, workers=1, engine=engine))
    assert sorted(_inputs(workspace)) == sorted([
        "events.jsonl", ".late.jsonl", "events3.jsonl", "events4.jsonl",
        "archive.zip!people.jsonl", "archive.zip!.hidden.jsonl",
    ])  # fmt: skip
    assert result.impact["records"]["read"] == 12
    skipped = _skipped(workspace)
    assert skipped.pop(".DS_Store").startswith("hidden file of no known shape (binary")
    assert skipped.pop(".keep") == "hidden file of no known shape (empty)"
    assert skipped.pop("archive.zip!__MACOSX/._people.jsonl").startswith(
        "hidden file of no known shape"
    )
    assert skipped.pop("latest.jsonl") == "dangling link"
    assert skipped.pop("again.jsonl") == "the same file as events.jsonl, read once"
    assert skipped.pop("back") == "a link back to a folder it is in (a loop)"
    assert skipped.pop("pipe").startswith("not a regular file")
    assert skipped == {}
    stop.set()


def test_a_relative_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = tmp_path / "incoming" / "export"
    export.mkdir(parents=True)
    (export / "events.jsonl").write_bytes(_events("u1"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = runner.invoke(app, ["assess", "../incoming/export", "--out", "../ws"])
    assert result.exit_code == 0, result.output
    assert _inputs(tmp_path / "ws") == ["events.jsonl"]
    monkeypatch.chdir(export)
    result = runner.invoke(app, ["assess", ".", "--out", "../../ws2"])
    assert result.exit_code == 0, result.output


def test_an_empty_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match=r"no readable input at all \(no file found\)"):
        assess(AssessRequest([tmp_path / "empty"], tmp_path / "ws", workers=1))


def test_a_dangling_link_named_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(ExportError, match="a dangling link"):
        assess(AssessRequest([tmp_path / "link.jsonl"], tmp_path / "ws", workers=1))
