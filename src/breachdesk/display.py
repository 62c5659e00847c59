"""Showing text the desk did not write: bidirectional controls made visible.

A name, field, org id or rationale can hold Unicode's invisible direction controls (U+202E
RIGHT-TO-LEFT OVERRIDE and its kin), which reverse the text after them on a page:
``invoice`` U+202E ``fdp.exe`` reads as ``invoiceexe.pdf``. Isolating them (``<bdi>``)
would still show the reversed text, so the decision is to make them visible instead: each
is replaced by ``[U+202E]``. Every Jinja environment the desk renders pages with uses
:func:`finalize` (the dashboard, the public check, report.html, notices and their
previews), and the report for the authority passes its text through
:func:`visible_controls`. Letters of right-to-left scripts are untouched: only the
invisible controls are replaced.

Also here: :func:`count_of`, how the desk's own English text counts things ("1 value",
"2 values").
"""

from __future__ import annotations

from markupsafe import Markup

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_VISIBLE = {ord(c): f"[U+{ord(c):04X}]" for c in BIDI_CONTROLS}


def visible_controls(text: str) -> str:
    """``text`` with every bidirectional control shown as ``[U+XXXX]``."""
    return text.translate(_VISIBLE)


def finalize(value: object) -> object:
    """Jinja's ``finalize``: applied to every ``{{ … }}`` before it is escaped. Numbers are
    left for Jinja to format; markup stays markup (only ASCII text is put in)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    html = getattr(value, "__html__", None)
    if html is not None:
        return Markup(str.translate(html(), _VISIBLE))  # noqa: S704 - input already markup
    return str(value).translate(_VISIBLE)


def count_of(n: int, noun: str) -> str:
    """``n`` (grouped by thousands) and ``noun``, plural unless ``n`` is 1."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
