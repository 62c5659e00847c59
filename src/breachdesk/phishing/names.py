"""Host names in both their forms: the ASCII (punycode) form that is registered and the
Unicode form a reader sees, read with IDNA 2008 (the ``idna`` package, UTS #46 mapping);
registrable domains by the Public Suffix List; IP literals in every spelling a browser
accepts.

ASCII names take a fast path (no IDNA work unless a label is an ``xn--`` A-label): a check
of a message reads every host it links to, and a watch classifies candidates by the
hundred thousand.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import idna
from publicsuffixlist import PSLFILE, PublicSuffixList, encode_idn

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"(?=[^\n]{{1,253}}\Z)(?:{_LABEL}\.)*{_LABEL}\Z")
_NUMERIC = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z")
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_PSL = PublicSuffixList()


@dataclass(frozen=True)
class Host:
    """A valid host name: ``ascii`` as registered (lower case, no final dot), ``unicode``
    as shown."""

    ascii: str
    unicode: str


class HostError(ValueError):
    """Not a host name; the message says why (it never holds more than the name)."""


def host(name: str) -> Host:
    """``name`` (Unicode, punycode or mixed; any case; a final dot allowed) in both forms;
    :class:`HostError` when it is not a valid host name under IDNA 2008."""
    ascii_name = ascii_host(name)
    return Host(ascii_name, unicode_of(ascii_name))


def ascii_host(name: str) -> str:
    """The ASCII form of ``name``; A-labels (``xn--``) are checked by :func:`unicode_of`."""
    text = name.strip()
    if text.endswith("."):
        text = text[:-1]
    if text.isascii():
        lowered = text.lower()
        if not _HOST.match(lowered):
            raise HostError(f"{_shown(text)} is not a host name" if text else "an empty host name")
        return lowered
    return _encoded(text)


def unicode_of(ascii_name: str) -> str:
    """The Unicode form of a name :func:`ascii_host` gave."""
    return _decoded(ascii_name) if "xn--" in ascii_name else ascii_name


@lru_cache(maxsize=8192)
def _encoded(text: str) -> str:
    try:
        return idna.encode(text.translate(_DOTS), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise HostError(f"{_shown(text)} is not a valid IDNA 2008 name ({exc})") from None


@lru_cache(maxsize=8192)
def _decoded(ascii_name: str) -> str:
    try:  # decoding checks each A-label as IDNA 2008 does when encoding
        return str(idna.decode(ascii_name))
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise HostError(f"{_shown(ascii_name)} is not a valid IDNA 2008 name ({exc})") from None


def _shown(text: str) -> str:
    return repr(text[:80] + ("…" if len(text) > 80 else ""))


@cache
def _tails() -> frozenset[str]:
    """Every trailing part of every Public Suffix List rule, in ASCII: beyond the longest
    trailing part of a name found here, no rule can reach."""
    tails: set[str] = set()
    with open(PSLFILE, encoding="utf-8") as rules:
        for line in rules:
            rule = line.strip().split(" ")[0].lstrip("!").removeprefix("*.")
            if not rule or rule.startswith("//"):
                continue
            labels = encode_idn(rule.lower()).split(".")
            tails.update(".".join(labels[i:]) for i in range(len(labels)))
    return frozenset(tails)


@cache
def _public_labels(tail: str, more: bool) -> int:
    """How many labels of a name ending in ``tail`` (the longest trailing part of it that
    is in :func:`_tails`) are public; ``more``: the name has labels before ``tail``."""
    probe = f"not-a-rule--.{tail}" if more else tail
    found = _PSL.publicsuffix(probe)
    return found.count(".") + 1 if found else 1


def registrable(ascii_name: str) -> str:
    """The registrable domain of a host (``login.example.co.uk`` → ``example.co.uk``): the
    Public Suffix List, private section included; an unknown top-level label counts as a
    public suffix. A bare public suffix is its own answer.

    The list is asked once per distinct trailing part (``co.uk``), not once per name."""
    labels = ascii_name.split(".")
    tails = _tails()
    tail = labels[-1]
    depth = 1
    while depth < len(labels):
        longer = f"{labels[-depth - 1]}.{tail}"
        if longer not in tails:
            break
        tail, depth = longer, depth + 1
    public = _public_labels(tail, depth < len(labels))
    return ".".join(labels[-public - 1 :]) if public < len(labels) else ascii_name


def public_suffix(ascii_name: str) -> str | None:
    """The public suffix of a host when its top-level label is a known one, else None
    (``notes.txt`` names no host)."""
    return _PSL.publicsuffix(ascii_name, accept_unknown=False)


def ip_literal(text: str) -> bool:
    """Whether a URL's host is an IP address in any form a browser reads as one:
    ``192.0.2.1``, ``[2001:db8::1]``, ``3221225985``, ``0xc0.0.2.1``, ``0300.0.2.1``."""
    bare = text.strip().rstrip(".").lower()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    try:
        ipaddress.ip_address(bare)
        return True
    except ValueError:
        pass
    labels = bare.split(".")
    # WHATWG URL: a host whose last label is numeric is parsed as an IPv4 address
    return 1 <= len(labels) <= 4 and bool(labels[-1]) and bool(_NUMERIC.match(labels[-1]))


def within(ascii_name: str, domains: frozenset[str]) -> str | None:
    """The domain of ``domains`` that ``ascii_name`` is or lies under, if any."""
    name = ascii_name
    while True:
        if name in domains:
            return name
        dot = name.find(".")
        if dot < 0:
            return None
        name = name[dot + 1 :]
