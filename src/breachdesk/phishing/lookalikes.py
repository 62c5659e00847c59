"""The domains an attacker would register to imitate an official one, each with the
technique that makes it: dnstwist's fuzzers (used as a library and offline: its
``Fuzzer`` never touches the network), TR39 confusables, and brand-containing names.

Techniques, in the order a domain found by several is credited to:
dnstwist's ``addition``, ``bitsquatting``, ``cyrillic``, ``homoglyph``, ``hyphenation``,
``insertion``, ``omission``, ``plural``, ``repetition``, ``replacement``, ``subdomain``,
``transposition``, ``vowel-swap``, ``dictionary``, ``tld-swap``, ``various``; then
``confusable`` (a letter swapped for one of another script with the same TR39 skeleton,
or the whole name written in Cyrillic or Greek) and ``brand`` (the official name inside
another: ``example-security.com``, ``secure-example.net``, ``example-com.org``).
"""

from __future__ import annotations

import socket
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from breachdesk.phishing.names import Host, HostError, host, registrable, within
from breachdesk.phishing.skeleton import look_alikes

DNSTWIST_FUZZERS = (
    "addition", "bitsquatting", "cyrillic", "homoglyph", "hyphenation", "insertion",
    "omission", "plural", "repetition", "replacement", "subdomain", "transposition",
    "vowel-swap", "dictionary", "tld-swap", "various",
)  # fmt: skip
TECHNIQUES = (*DNSTWIST_FUZZERS, "confusable", "brand")
# words phishing domains put beside a brand
WATCH_WORDS = (
    "account", "alert", "auth", "billing", "secure", "security", "login", "signin",
    "support", "help", "verify", "verification", "update", "service", "online", "portal",
    "notice", "incident", "breach", "mail", "pay", "payment", "id", "sso", "mfa", "my",
)  # fmt: skip
# top-level domains cheap to register or easy to mistake for the real one
WATCH_TLDS = (
    "com", "net", "org", "info", "biz", "co", "io", "app", "online", "site", "xyz", "top",
    "support", "security", "email", "help", "me", "us", "eu", "de", "ro", "jp", "uk",
    "co.uk", "cc", "ws", "live", "link", "click", "shop", "services",
)  # fmt: skip
BRAND_TLDS = ("com", "net", "org", "info", "online", "support")
_ASCII_PAIRS = (("m", "rn"), ("rn", "m"), ("w", "vv"), ("vv", "w"), ("d", "cl"), ("cl", "d"))


@dataclass(frozen=True)
class Lookalike:
    """One domain to watch: its ASCII (registered) and Unicode forms, how it imitates
    ``official``."""

    domain: str
    unicode: str
    technique: str
    official: str


def _fuzzer() -> type:
    """dnstwist's Fuzzer. dnstwist sets the process-wide socket timeout when imported;
    that is put back, so that importing it changes nothing else here."""
    before = socket.getdefaulttimeout()
    try:
        import dnstwist
    finally:
        socket.setdefaulttimeout(before)
    fuzzer: type = dnstwist.Fuzzer
    return fuzzer


def _dnstwist(
    official: str, words: Sequence[str], tlds: Sequence[str]
) -> Iterator[tuple[str, str]]:
    fuzzer = _fuzzer()(official, dictionary=list(words), tld_dictionary=list(tlds))
    fuzzer.generate()
    for permutation in fuzzer.domains:
        if permutation["fuzzer"] != "*original" and permutation["domain"]:
            yield permutation["domain"], permutation["fuzzer"]


def _split(official: str) -> tuple[str, str, str]:
    """(subdomain part, brand label, public suffix) of an official ASCII domain."""
    base = registrable(official)
    label, _, suffix = base.partition(".")
    sub = official[: -len(base)].rstrip(".")
    return sub, label, suffix


def _confusables(official: str) -> Iterator[str]:
    sub, label, suffix = _split(official)
    decoded = host(label).unicode
    variants: set[str] = set()
    for i, char in enumerate(decoded):
        for other in look_alikes(char):
            variants.add(decoded[:i] + other + decoded[i + 1 :])
    for pair, swap in _ASCII_PAIRS:
        start = decoded.find(pair)
        while start >= 0:
            variants.add(decoded[:start] + swap + decoded[start + len(pair) :])
            start = decoded.find(pair, start + 1)
    for script in ("CYRILLIC", "GREEK"):  # the whole name in one other script
        whole = "".join(_in_script(c, script) for c in decoded)
        if whole != decoded:
            variants.add(whole)
    for variant in variants:
        yield ".".join(p for p in (sub, variant, suffix) if p)


def _in_script(char: str, script: str) -> str:
    for other in look_alikes(char):
        if unicodedata.name(other, "").startswith(script + " "):
            return other
    return char


def _brand(official: str, words: Sequence[str]) -> Iterator[str]:
    _, label, suffix = _split(official)
    tlds = dict.fromkeys((*BRAND_TLDS, suffix))
    dashed = f"{label}-{suffix.replace('.', '-')}"
    for tld in tlds:
        yield f"{dashed}.{tld}"
        for word in words:
            yield from (f"{label}-{word}.{tld}", f"{word}-{label}.{tld}", f"{label}{word}.{tld}")


def _decoded(ascii_name: str) -> Host:
    """A name dnstwist has already encoded with IDNA 2008: its A-labels only decoded
    (checking them again would double the time the set takes to build)."""
    if "xn--" not in ascii_name:
        return Host(ascii_name, ascii_name)
    labels = [
        label[4:].encode("ascii").decode("punycode") if label.startswith("xn--") else label
        for label in ascii_name.split(".")
    ]
    return Host(ascii_name, ".".join(labels))


def generate(
    official: Iterable[str],
    words: Sequence[str] = WATCH_WORDS,
    tlds: Sequence[str] = WATCH_TLDS,
) -> list[Lookalike]:
    """Every lookalike of every official domain, sorted by domain; a name that is or lies
    under an official domain is never one."""
    domains = sorted({host(d).ascii for d in official})
    ours = frozenset(domains)
    found: dict[str, Lookalike] = {}
    rank = {t: i for i, t in enumerate(TECHNIQUES)}
    for domain in domains:
        candidates = [
            *_dnstwist(domain, words, tlds),
            *((name, "confusable") for name in _confusables(domain)),
            *((name, "brand") for name in _brand(domain, words)),
        ]
        for name, technique in candidates:
            try:
                parsed = _decoded(name) if technique in DNSTWIST_FUZZERS else host(name)
            except HostError:
                continue
            if within(parsed.ascii, ours):
                continue
            known = found.get(parsed.ascii)
            if known is None or rank[technique] < rank[known.technique]:
                found[parsed.ascii] = Lookalike(parsed.ascii, parsed.unicode, technique, domain)
    return [found[name] for name in sorted(found)]
