"""Bidirectional controls (U+202E and its kin) in names, fields and people's text are shown,
never obeyed (issue 10: they reversed text on pages). Every page environment makes them
visible as ``[U+XXXX]``: the dashboard, report.html, notices and their previews."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from breachdesk import AssessRequest, assess
from breachdesk.cli import app
from breachdesk.display import BIDI_CONTROLS, finalize, visible_controls
from breachdesk.notify.compose import Composer, Context, NoticeRow
from breachdesk.services.users import add
from breachdesk.web.dashboard import create_app
from helpers import within

runner = CliRunner()
CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
PASSWORD = "correct horse battery"


def _raw_controls(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if c in CONTROLS]


def test_each_control_is_shown() -> None:
    assert set(CONTROLS) == BIDI_CONTROLS
    shown = visible_controls("a" + CONTROLS + "b")
    assert not _raw_controls(shown)
    assert shown == "a" + "".join(f"[U+{ord(c):04X}]" for c in CONTROLS) + "b"
    assert visible_controls("שלום עולם مرحبا") == "שלום עולם مرحبا"  # letters untouched
    assert finalize(7) == 7 and finalize(None) is None
    assert not _raw_controls(str(finalize(["x\u202ey", {"k": "\u2067"}])))


def test_report_html(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    line = {"event": "Sign In", "properties": {"time": 1700000000, "distinct_id": "u1",
                                               "pass\u202edrow": "x", "org_id": "o\u202e1"}}  # fmt: skip
    (export / "events.jsonl").write_bytes(orjson.dumps(line) + b"\n")
    (export / "invoice\u202efdp.exe").write_bytes(b"\x00binary")  # skipped, listed by name
    assess(AssessRequest([export], tmp_path / "ws", workers=1))
    page = (tmp_path / "ws" / "report.html").read_text()
    assert not _raw_controls(page)
    assert "pass[U+202E]drow" in page and "invoice[U+202E]fdp.exe" in page


def test_the_dashboard(notify_ws: Path) -> None:
    within(notify_ws, add, "rita", PASSWORD, "responder")
    ws = str(notify_ws)
    for args in (
        ["incident", "set", ws, "--title", "Breach \u202eterces pot\u202c", "--vendor", "Mix\u2067panel"],
        ["incident", "event", ws, "--at", "2026-11-24T12:00:00Z", "--summary", "SDK \u202eremoved"],
        ["incident", "decide", ws, "--subject", "gdpr-art34", "--decision", "required",
         "--rationale", "token \u202eleaked\u202c", "--by", "d\u202epo"],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    client = TestClient(create_app(notify_ws), base_url="http://127.0.0.1")
    login = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    form = {"username": "rita", "password": PASSWORD} | ({"csrf": token[1]} if token else {})
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    seen = ""
    for path in ["/", "/timeline", "/decisions", "/audit", "/notices"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert not _raw_controls(page.text), path
        seen += page.text
    assert "[U+202E]leaked[U+202C]" in seen and "SDK [U+202E]removed" in seen


@pytest.mark.parametrize("language", ["en", "de"])
def test_notices_and_their_previews(language: str) -> None:
    context = Context(
        company="Example \u202eInc", sender="security@example.com",
        official_domains=("example.com",), verify_url="https://example.com/security/notice",
        vendor="Mix\u202epanel", learned_at=datetime(2026, 11, 20, tzinfo=UTC),
        timezone="UTC", incident_id=1,
    )  # fmt: skip
    notice = NoticeRow(1, "user", "u1", "", "maria@example.org", "Maria", language,
                       "BD-7KQ4M-2XPAR", {"categories": ["user.contact.email"], "mfa": "on"})  # fmt: skip
    composed = Composer(context).compose(notice)
    for text in (composed.html, composed.text, composed.subject):
        assert not _raw_controls(text)
    assert "Mix[U+202E]panel" in composed.html and "Mix[U+202E]panel" in composed.text
