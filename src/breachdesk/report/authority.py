"""The notification a regulator receives: the same sections written as Markdown and as a
PDF (fpdf2, with Debian's DejaVu font where installed; the PDF core font otherwise).

Every text is text, never markup: titles, decisions and their rationales are typed by
people (and may be pasted from anywhere). In the Markdown each is escaped so that nothing
in it makes a heading, list, quote, code block, table, link, image, emphasis or raw HTML;
its line breaks stay line breaks inside its own item; a bare URL is not turned into a link.
(An address stays as written: a renderer may link it to itself, never elsewhere.) In both
the Markdown and the PDF, bidirectional controls are shown as ``[U+202E]``
(:mod:`breachdesk.display`) and other control characters become spaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from breachdesk.display import visible_controls

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_INLINE = re.compile(r"([\\`*_\[\]<&~|])")  # emphasis, code, links, images, HTML, tables
_AUTOLINK = re.compile(r"(?i)(:)(?=//)|(?<=www)(\.)")  # https://… and www.… autolinks
_BLOCK_START = re.compile(r"^([#>+=\-]|\d{1,9}(?=[.)]))")  # headings, quotes, lists, rules


def text_lines(value: str) -> list[str]:
    """``value`` as the lines a reader should see: control characters made visible or
    blank, each line trimmed, empty lines dropped (one item stays one block)."""
    lines = []
    for line in visible_controls(value).splitlines():
        clean = "".join(" " if unicodedata.category(c) == "Cc" else c for c in line).strip()
        if clean:
            lines.append(clean)
    return lines


def md_lines(value: str) -> list[str]:
    """``value`` as Markdown source lines that render as exactly that text."""
    out = []
    for line in text_lines(value):
        line = _AUTOLINK.sub(r"\\\1\2", _INLINE.sub(r"\\\1", line))
        found = _BLOCK_START.match(line)
        if found:
            # a digit run keeps its digits and escapes the "." or ")" after it
            cut = found.end() if found.group(1).isdigit() else 0
            line = line[:cut] + "\\" + line[cut:]
        out.append(line)
    return out


def md_inline(value: str) -> str:
    """``value`` on one line (a heading): its line breaks become spaces."""
    return " ".join(md_lines(value))


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)


@dataclass
class AuthorityReport:
    title: str
    lead: list[str]
    sections: list[Section]

    def headings(self) -> list[str]:
        return [s.heading for s in self.sections]

    def markdown(self) -> str:
        lines = [f"# {md_inline(self.title)}", ""]
        lines += ["  \n".join(md_lines(line)) + "  " for line in self.lead] + [""]
        for section in self.sections:
            lines += [f"## {md_inline(section.heading)}", ""]
            for paragraph in section.paragraphs:
                lines += ["  \n".join(md_lines(paragraph)), ""]
            if section.bullets:
                # a line break inside an item: two spaces, then the item's indentation
                lines += ["- " + "  \n  ".join(md_lines(item)) for item in section.bullets]
                lines += [""]
        return "\n".join(lines).rstrip() + "\n"

    def pdf(self) -> bytes:
        """A4, every line inside the margins: each block starts at the left margin and wraps
        within the text width (a word longer than the line is broken), page numbers below."""
        doc = _Pages(format="A4")
        doc.set_margins(18, 18, 18)
        doc.set_auto_page_break(True, margin=20)
        doc.set_title(self.title)
        doc.set_creator("breachdesk")
        family = _font(doc)
        doc.family = family
        doc.add_page()
        width = doc.w - doc.l_margin - doc.r_margin

        def text(value: str) -> str:
            shown = "\n".join(text_lines(value))  # line breaks kept, controls shown
            return (
                shown
                if family != "Helvetica"
                else shown.encode("latin-1", "replace").decode("latin-1")
            )

        def block(value: str, height: float, indent: float = 0.0) -> None:
            doc.set_x(doc.l_margin + indent)
            doc.multi_cell(
                width - indent, height, text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
            )

        doc.set_font(family, "B", 15)
        block(self.title, 7)
        doc.ln(2)
        doc.set_font(family, "", 9.5)
        for line in self.lead:
            block(line, 5)
        bullet = "•" if family != "Helvetica" else "-"
        for section in self.sections:
            doc.ln(3)
            doc.set_font(family, "B", 12)
            block(section.heading, 6.5)
            doc.set_font(family, "", 10)
            for paragraph in section.paragraphs:
                block(paragraph, 5)
                doc.ln(1)
            for item in section.bullets:
                doc.set_x(doc.l_margin)
                doc.cell(5, 5, bullet)
                block(item, 5, indent=5)
        return bytes(doc.output())


class _Pages(FPDF):
    """Page numbers at the foot of every page, inside the margins."""

    family = "Helvetica"

    def footer(self) -> None:
        self.set_y(-17)
        self.set_font(self.family, "", 8)
        self.cell(0, 6, f"page {self.page_no()} of {{nb}}", align="C")


def _font(doc: FPDF) -> str:
    regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        doc.add_font("DejaVu", "", str(regular))
        doc.add_font("DejaVu", "B", str(bold))
        return "DejaVu"
    return "Helvetica"
