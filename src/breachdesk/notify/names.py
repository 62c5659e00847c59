"""Whether a name from the directory may be echoed in a notice: a greeting, an organization's
name, the members an admin should ask to turn on MFA.

A name is text an attacker may control (a sign-up form, a synced profile). It is echoed only
when it plainly looks like a person's name: letters of one script (Han, Hiragana and Katakana
count as one), spaces, hyphens, apostrophes and initials; nothing shaped like a URL, a domain,
an address or markup; no control or formatting characters (right-to-left overrides among
them); at most 64 characters. Anything else gets the generic greeting.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 64
MAX_WORDS = 5
_JOINERS = frozenset(" -'’")
_JAPANESE = frozenset({"CJK", "HIRAGANA", "KATAKANA"})


def _script(char: str) -> str:
    """The script of a letter, from the first word of its Unicode name (LATIN, CYRILLIC…)."""
    name = unicodedata.name(char, "")
    script = name.split(" ", 1)[0]
    if script in _JAPANESE or name.startswith("IDEOGRAPHIC"):
        return "JAPANESE"
    if script == "HALFWIDTH" and "KATAKANA" in name:
        return "JAPANESE"
    return script


def safe_name(raw: str, max_words: int = MAX_WORDS, also: str = "") -> str | None:
    """The name to greet with, normalised, or None when it must not be echoed.
    ``max_words`` and ``also`` (more punctuation allowed between words): an organization's
    name may be longer than a person's and hold "," or "&" ("Smith, Jones & Co.")."""
    if any(c != " " and (c.isspace() or unicodedata.category(c)[0] == "C") for c in raw):
        return None  # line breaks, tabs, controls, bidi overrides: not from a name form
    name = " ".join(unicodedata.normalize("NFC", raw).split(" "))
    name = " ".join(name.split())
    if not name or len(name) > MAX_LENGTH or len(name.split(" ")) > max_words:
        return None
    scripts: set[str] = set()
    previous = " "
    for char in name:
        category = unicodedata.category(char)
        if category[0] == "L":
            scripts.add(_script(char))
        elif category[0] == "M":
            if previous == " " or previous in _JOINERS:
                return None  # a mark must sit on a letter
        elif char == ".":
            # initials ("J. R. Smith", "Jr.") but never a dot between letters: example.com
            if unicodedata.category(previous)[0] != "L":
                return None
        elif char in also:
            if previous in also:
                return None  # "Smith, Jones & Co": one at a time, never first or last (below)
        elif char not in _JOINERS:
            return None  # digits, symbols, @ : / < > and every control or format character
        if char in _JOINERS and previous in _JOINERS:
            return None
        if previous == "." and char != " ":
            return None
        previous = char
    if len(scripts) != 1 or name[0] in _JOINERS or name[-1] in "-'’" or name[0] in also:
        return None
    if name[-1] in also:
        return None
    lowered = name.casefold()
    if lowered.startswith(("www", "http")) or " www" in lowered:
        return None
    return name
