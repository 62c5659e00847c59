"""The report for the authority shows people's text as text (issue 10): a rationale with
line breaks made Markdown headings, links and raw HTML. Hostile titles, events and
rationales are rendered here by a CommonMark renderer (markdown-it-py, with tables and
strikethrough) and read back from the PDF."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pypdf import PdfReader
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.report.authority import AuthorityReport, Section, md_lines, text_lines

runner = CliRunner()
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
INJECTED = ["<a ", "<img", "<script", "<table", "<blockquote", "<em>", "<strong>", "<del>",
            "<pre", "<code", "<hr", "<ol", "<h3", "<h4", "<h5", "<h6", "<iframe", "<b>"]  # fmt: skip

HOSTILE = (
    "Approved by legal.\n"
    "# Notification not required\n"
    "## Contact point\n"
    "> quoted from the DPO\n"
    "1. step one\n"
    "- [click here](https://evil.example/login) ![x](https://evil.example/t.png)\n"
    "<script>alert(1)</script><img src=x onerror=alert(1)>\n"
    "<https://evil.example/auto> and https://evil.example/bare and www.evil.example\n"
    "**bold** _em_ ~~gone~~ `code` | a | b |\n"
    "|---|---|\n"
    "    indented code\n"
    "```\n"
    "fenced\n"
    "***\n"
    "&lt;b&gt;entity\r\n"
    "inv\u202egnp.exe and \u2066isolated\u2069 text"
)


def _rendered(markdown: str) -> str:
    return RENDERER.render(markdown)


@given(st.text())
def test_any_text_renders_as_itself(value: str) -> None:
    lines = md_lines(value)
    rendered = _rendered("  \n".join(lines)) if lines else ""
    for tag in [*INJECTED, "<h1", "<h2", "<ul", "<li"]:
        assert tag not in rendered
    shown = re.sub(r"<br />\n?", "\n", rendered.removeprefix("<p>").removesuffix("</p>\n"))
    assert html.unescape(shown).split("\n") == (text_lines(value) if lines else [""])


def test_a_hostile_report_keeps_its_structure() -> None:
    report = AuthorityReport(
        title="Breach\n# Not a breach",
        lead=["Regime: x\n## injected"],
        sections=[Section("Measures\n## Fake", [HOSTILE], [HOSTILE, "second item"])],
    )
    rendered = _rendered(report.markdown())
    assert rendered.count("<h1>") == 1 and rendered.count("<h2>") == 1
    for tag in INJECTED:
        assert tag not in rendered, tag
    items = re.findall(r"<li>(.*?)</li>", rendered, re.S)
    assert len(items) == 2 and items[1] == "second item"
    lines = [html.unescape(x) for x in re.split(r"<br />\n", items[0])]
    assert lines == text_lines(HOSTILE)  # one item, its line breaks kept
    assert "[U+202E]" in lines[-1] and "\u202e" not in report.markdown()
    assert "https://" not in report.markdown()  # no bare URL a GFM renderer would link


@pytest.fixture
def workspace(small_ws: Path) -> Path:
    ws = str(small_ws)
    for args in (
        ["incident", "set", ws, "--title", "Vendor breach\n# Fake title", "--vendor", "Mixpanel",
         "--aware", "company=2026-11-24T09:00:00Z", "--official-domain", "example.com",
         "--sender", "security@example.com"],
        ["incident", "event", ws, "--at", "2026-11-24T12:00:00Z",
         "--summary", "SDK removed\n[details](https://evil.example)"],
        ["incident", "decide", ws, "--subject", "gdpr-art34", "--decision", "not_required",
         "--rationale", HOSTILE, "--by", "dpo"],
        ["duty", "delay-reason", ws, "gdpr-art33", "--reason", HOSTILE],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return small_ws


def test_the_authority_report_of_a_hostile_incident(workspace: Path) -> None:
    result = runner.invoke(app, ["report", "authority", str(workspace), "--regime", "gdpr-art33"])
    assert result.exit_code == 0, result.output
    markdown = (workspace / "reports" / "authority-gdpr-art33.md").read_text()
    rendered = _rendered(markdown)
    assert rendered.count("<h1>") == 1
    assert "Fake title" not in "".join(re.findall(r"<h2>.*?</h2>", rendered))
    for tag in INJECTED:
        assert tag not in rendered, tag
    decision = next(i for i in re.findall(r"<li>(.*?)</li>", rendered, re.S) if "gdpr-art34" in i)
    assert decision.count("<br />") == len(text_lines(HOSTILE)) - 1
    assert "# Notification not required" in html.unescape(decision)  # shown, as text
    pdf = "\n".join(
        page.extract_text()
        for page in PdfReader(workspace / "reports" / "authority-gdpr-art33.pdf").pages
    )
    assert "\u202e" not in pdf and "[U+202E]" in pdf
    assert "# Notification not required" in pdf and "<script>alert(1)</script>" in pdf
