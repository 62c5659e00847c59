"""Inline SVG charts for the report: drawn when the report is written, no JavaScript.

Horizontal bars are all the report needs; a hand-drawn SVG of a few elements keeps the page
small, deterministic and free of any script (every label is XML-escaped here).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR = 18
GAP = 6
LABEL_W = 260
CHART_W = 360
VALUE_W = 90


def bar_chart(title: str, items: Sequence[tuple[str, int]], limit: int = 25) -> Markup:
    """A horizontal bar chart of ``items`` (label, value), largest first."""
    shown = list(items)[:limit]
    if not shown:
        return Markup('<p class="muted">nothing to chart</p>')
    top = max(v for _, v in shown) or 1
    height = len(shown) * (BAR + GAP) + GAP
    width = LABEL_W + CHART_W + VALUE_W
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(shown):
        y = GAP + i * (BAR + GAP)
        w = max(1, round(CHART_W * value / top)) if value else 0
        text = label if len(label) <= 38 else label[:37] + "…"
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + BAR - 5}" text-anchor="end" '
            f'font-size="12">{escape(text)}</text>'
            f'<rect x="{LABEL_W}" y="{y}" width="{w}" height="{BAR}" fill="#3b6ea5"/>'
            f'<text x="{LABEL_W + w + 6}" y="{y + BAR - 5}" font-size="12">{value:,}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
