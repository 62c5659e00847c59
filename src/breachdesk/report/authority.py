"""The notification a regulator receives: the same sections written as Markdown and as a
PDF (fpdf2, with Debian's DejaVu font where installed; the PDF core font otherwise)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


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

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        lines += [f"{line}  " for line in self.lead] + [""]
        for section in self.sections:
            lines += [f"## {section.heading}", ""]
            for paragraph in section.paragraphs:
                lines += [paragraph, ""]
            if section.bullets:
                lines += [f"- {item}" for item in section.bullets] + [""]
        return "\n".join(lines).rstrip() + "\n"

    def pdf(self) -> bytes:
        doc = FPDF(format="A4")
        doc.set_margins(18, 18, 18)
        doc.set_auto_page_break(True, margin=18)
        doc.set_title(self.title)
        doc.set_creator("breachdesk")
        family = _font(doc)
        doc.add_page()
        width = doc.w - doc.l_margin - doc.r_margin

        def text(value: str) -> str:
            return (
                value
                if family != "Helvetica"
                else value.encode("latin-1", "replace").decode("latin-1")
            )

        doc.set_font(family, "B", 15)
        doc.multi_cell(width, 7, text(self.title))
        doc.ln(2)
        doc.set_font(family, "", 9.5)
        for line in self.lead:
            doc.multi_cell(width, 5, text(line))
        for section in self.sections:
            doc.ln(3)
            doc.set_font(family, "B", 12)
            doc.multi_cell(width, 6.5, text(section.heading))
            doc.set_font(family, "", 10)
            for paragraph in section.paragraphs:
                doc.multi_cell(width, 5, text(paragraph))
                doc.ln(1)
            for item in section.bullets:
                doc.multi_cell(
                    width, 5, text(f"• {item}") if family != "Helvetica" else text(f"- {item}")
                )
        return bytes(doc.output())


def _font(doc: FPDF) -> str:
    regular, bold = DEJAVU / "DejaVuSans.ttf", DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        doc.add_font("DejaVu", "", str(regular))
        doc.add_font("DejaVu", "B", str(bold))
        return "DejaVu"
    return "Helvetica"
