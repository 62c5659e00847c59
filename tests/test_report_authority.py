"""The report for the authority: Markdown and PDF with the required headings, and an evidence
bundle whose audit chain and hashes check out."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from typer.testing import CliRunner

from breachdesk.cli import app
from helpers import store_of

runner = CliRunner()
HEADINGS = [
    "Controller and data protection officer (Art. 33(3)(b))",
    "Nature of the personal data breach (Art. 33(3)(a))",
    "Categories and approximate number of data subjects concerned (Art. 33(3)(a))",
    "Likely consequences of the personal data breach (Art. 33(3)(c))",
    "Reasons for the delay (Art. 33(1))",
]


@pytest.fixture
def workspace(small_ws: Path) -> Path:
    ws = str(small_ws)
    for args in (
        ["incident", "set", ws, "--title", "Analytics vendor breach", "--vendor", "Mixpanel",
         "--aware", "company=2026-11-24T09:00:00Z", "--official-domain", "example.com",
         "--sender", "security@example.com"],
        ["incident", "event", ws, "--at", "2026-11-24T12:00:00Z", "--summary", "SDK removed"],
        ["incident", "decide", ws, "--subject", "gdpr-art34", "--decision", "required",
         "--rationale", "a reset token leaked", "--by", "dpo"],
        ["duty", "delay-reason", ws, "gdpr-art33", "--reason", "the dataset came on day 4"],
    ):  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0
    return small_ws


def test_markdown_pdf_and_verified_bundle(workspace: Path) -> None:
    result = runner.invoke(app, ["report", "authority", str(workspace), "--regime", "gdpr-art33"])
    assert result.exit_code == 0, result.output
    folder = workspace / "reports"
    markdown = (folder / "authority-gdpr-art33.md").read_text()
    for heading in HEADINGS:
        assert f"## {heading}" in markdown
    assert "the dataset came on day 4" in markdown and "security@example.com" in markdown
    assert "SDK removed" not in markdown  # a timeline event is not a measure unless flagged
    pdf_text = (
        "".join(
            page.extract_text() for page in PdfReader(folder / "authority-gdpr-art33.pdf").pages
        )
        .replace("\n", "")
        .replace(" ", "")
    )
    for heading in HEADINGS:
        assert heading.replace(" ", "") in pdf_text
    with zipfile.ZipFile(folder / "evidence-gdpr-art33.zip") as bundle:
        names = set(bundle.namelist())
        assert names == {"audit-log.jsonl", "authority-gdpr-art33.md", "authority-gdpr-art33.pdf",
                         "hashes.json", "impact.json"}  # fmt: skip
        hashes = json.loads(bundle.read("hashes.json"))
        for name, digest in hashes["bundle"].items():
            assert hashlib.sha256(bundle.read(name)).hexdigest() == digest
        lines = [json.loads(line) for line in io.BytesIO(bundle.read("audit-log.jsonl"))]
    log, head = lines[:-1], lines[-1]["head"]
    assert hashes["audit_chain"]["intact"] and hashes["audit_chain"]["entries"] == len(log)
    assert hashes["audit_chain"]["last_hash"] == log[-1]["hash"] == head["hash"]
    assert hashes["audit_chain"]["head"] == f"{len(log)}:{log[-1]['hash']}"
    assert all(len(h) == 64 for h in hashes["inputs"].values())
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unknown_regime_and_broken_chain(workspace: Path) -> None:
    unknown = runner.invoke(app, ["report", "authority", str(workspace), "--regime", "gdpr-art99"])
    assert unknown.exit_code == 2 and "no regime 'gdpr-art99'" in unknown.output
    store = store_of(workspace)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 1"))
    store.close()
    broken = runner.invoke(app, ["report", "authority", str(workspace), "--regime", "gdpr-art33"])
    assert broken.exit_code == 3 and "does not verify" in broken.output
    assert not (workspace / "reports" / "evidence-gdpr-art33.zip").exists()
