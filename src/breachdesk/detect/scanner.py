"""Scanning values for findings: a fast pass over raw bytes reports which triggers fired on
which lines, then only the rules those triggers name are confirmed, value by value, with
their confirming patterns and validators; URL analysis runs only where a URL trigger fired.

Every trigger is a superset of what its rule (or the URL analysis) can confirm, so confirming
only what fired finds exactly what running every rule over every value finds
(:meth:`Scanner.scan_record` does that: the reference the tests compare against). Values the
raw bytes hide — JSON escapes, percent-encoding, base64 — are decoded one level where their
own triggers fire, and the fast pass runs again over the decoded text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote

from breachdesk.detect.prefilter import Prefilter
from breachdesk.detect.rules import Rule, RuleSet
from breachdesk.detect.urls import URL_TRIGGERS, analyse_url, find_urls
from breachdesk.detect.validators import Verdict, get_validator, shannon_entropy
from breachdesk.taxonomy import FindingKind

_SEPARATED = re.compile(r"[ -]")
# Any JSON escape can hide or change a character a pattern looks at (``\u0041KIA``, ``\n``).
_ESCAPES = rb"\\u[0-9A-Fa-f]{4}|\\[nrtbf\"\\/]"
_PERCENT = rb"%[0-9A-Fa-f]{2}"
# Base64 of printable ASCII: six 4-character groups each encoding three bytes below 0x80 (the
# first character of a group is at most 31, the second's value mod 16 below 8, the third's
# value mod 4 below 2). Random ids and hex almost never hold such a run; encoded text does.
_B64_GROUP = rb"[A-Za-f][A-HQ-Xg-nw-z0-3][ABEFIJMNQRUVYZcdghklopstwx014589][A-Za-z0-9+/_-]"
B64_TEXT = rb"(?:" + _B64_GROUP + rb"){6}"
_B64_TEXT = re.compile(B64_TEXT.decode())


class Layer(Enum):
    """What a trigger that is not a rule's asks for."""

    URL = "url"  # analyse the record's URLs
    ESCAPE = "escape"  # run the fast pass over the record's decoded strings
    PERCENT = "percent"  # … over their percent-decoded form
    BASE64 = "base64"  # … over their base64 layers


@dataclass(frozen=True, slots=True)
class Hit:
    """A confirmed finding in one value. ``secret`` never leaves the scanning process."""

    kind: FindingKind
    rule: str
    secret: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wanted:
    """What to confirm in one record: rule indexes (in rule order), and whether to analyse
    URLs."""

    rules: tuple[int, ...]
    urls: bool

    def __bool__(self) -> bool:
        return bool(self.rules) or self.urls


NOTHING = Wanted((), False)


def mask_secret(kind: FindingKind, secret: str) -> str:
    """A form safe to show: enough to recognise the thing, never enough to use it."""
    if kind is FindingKind.PAYMENT_CARD:
        digits = "".join(ch for ch in secret if ch.isdigit())
        return f"…{digits[-4:]}"
    if kind is FindingKind.EMAIL_IN_URL:
        local, _, domain = secret.partition("@")
        return f"{local[:1]}***@{domain}"
    if secret.startswith("sk-"):
        prefix = secret[: secret.find("-", 3) + 1] if secret.count("-") >= 2 else "sk-"
        marker = "T3Bl…" if "T3BlbkFJ" in secret else ""
        return f"{prefix}…{marker}{secret[-2:]}" if marker else f"{prefix}…{secret[-2:]}"
    if secret.startswith("eyJ"):
        return f"{secret[:8]}…"
    if len(secret) <= 6:
        return "***"
    return f"{secret[:2]}…{secret[-2:]}"


class Scanner:
    """Runs a rule set over values. Pickle-free: each scanning process builds its own."""

    def __init__(self, rules: RuleSet, hmac_key: bytes) -> None:
        self.rules: list[Rule] = list(rules.rules)
        self._key = hmac_key
        patterns: list[bytes] = []
        # what each pattern means: a rule's index, or a layer
        self.meaning: list[int | Layer] = []
        for i, rule in enumerate(self.rules):
            # one expression per top-level alternative: Hyperscan runs them faster apart
            for text in (*alternatives(rule.prefilter_pattern()), *rule.context_triggers()):
                patterns.append(text.encode())
                self.meaning.append(i)
        for part in URL_TRIGGERS:
            patterns.append(part)
            self.meaning.append(Layer.URL)
        for part, layer in ((_ESCAPES, Layer.ESCAPE), (_PERCENT, Layer.PERCENT)):
            patterns.append(part)
            self.meaning.append(layer)
        patterns.append(B64_TEXT)
        self.meaning.append(Layer.BASE64)
        self.prefilter = Prefilter(patterns)
        self._text_filters = [re.compile(r.prefilter) if r.prefilter else None for r in self.rules]
        self._keywords = [r.keywords for r in self.rules]
        self._validators = [get_validator(r.validator) if r.validator else None for r in self.rules]
        self._all = Wanted(tuple(range(len(self.rules))), True)

    def fingerprint(self, kind: FindingKind, secret: str) -> str:
        return keyed_fingerprint(self._key, kind.value, secret)

    def is_candidate(self, raw: bytes) -> bool:
        return self.prefilter.search(raw)

    # -- the fast pass -----------------------------------------------------------------
    def triggers(self, data: bytes) -> dict[int, set[int]]:
        """Line index (0-based) -> the pattern ids that fired on it."""
        return self.prefilter.line_hits(data)

    def wanted(self, fired: Set[int], strings: Iterable[str] | None) -> Wanted:
        """What to confirm in a record, from the patterns that fired on its raw bytes.

        ``strings`` (the record's keys, each written ``"key":``, and its string values,
        decoded) is read only when an escape, percent or base64 trigger fired: the fast pass
        then runs again over their decoded forms."""
        rules: set[int] = set()
        urls = False
        layers: set[Layer] = set()
        for pattern in fired:
            meaning = self.meaning[pattern]
            if type(meaning) is int:
                rules.add(meaning)
            elif meaning is Layer.URL:
                urls = True
            else:
                layers.add(meaning)  # type: ignore[arg-type]
        if layers and strings is not None:
            texts = list(strings)
            decoded = self._fired("\n".join(texts)) if Layer.ESCAPE in layers else set()
            for pattern in decoded:
                meaning = self.meaning[pattern]
                if type(meaning) is int:
                    rules.add(meaning)
                elif meaning is Layer.URL:
                    urls = True
                else:
                    layers.add(meaning)  # type: ignore[arg-type]
            if Layer.PERCENT in layers:
                # parameter names and userinfo are judged decoded too: URL triggers count here
                unquoted = "\n".join(unquote(t) for t in texts if "%" in t)
                for pattern in self._fired(unquoted):
                    meaning = self.meaning[pattern]
                    if type(meaning) is int:
                        rules.add(meaning)
                    elif meaning is Layer.URL:
                        urls = True
            if Layer.BASE64 in layers:
                wrapped = "\n".join(layer for t in texts for layer in _base64_layers(t))
                rules.update(self._fired_rules(wrapped))
        if not rules and not urls:
            return NOTHING
        return Wanted(tuple(sorted(rules)), urls)

    def _fired(self, text: str) -> set[int]:
        if not text:
            return set()
        return self.prefilter.fired(text.encode("utf-8", "surrogatepass"))

    def _fired_rules(self, text: str) -> set[int]:
        return {m for m in map(self.meaning.__getitem__, self._fired(text)) if type(m) is int}

    # -- confirming ----------------------------------------------------------------------
    def scan_record(
        self, leaves: Iterable[tuple[str, Any]], wanted: Wanted | None = None
    ) -> Iterator[tuple[str, Hit]]:
        """(path, hit) of every finding among a record's leaves: every rule and the URL
        analysis when ``wanted`` is None (the reference), else only what it names."""
        want = self._all if wanted is None else wanted
        if not want:
            return
        for path, value in leaves:
            if value.__class__ is bool:
                continue
            for hit in self.scan_value(path, value, want):
                yield path, hit

    def scan_value(
        self, field: str, value: str | int | float, wanted: Wanted | None = None
    ) -> list[Hit]:
        """Every finding in one value (a string, or a JSON number as its decimal form)."""
        want = self._all if wanted is None else wanted
        only = want.rules
        text = value if isinstance(value, str) else _number_text(value)
        hits = self._scan_text(field, text, only, bare_number=not isinstance(value, str))
        if isinstance(value, str):
            if want.urls and "://" in text:
                seen = {h.secret for h in hits}
                for url in find_urls(text):
                    for url_hit in analyse_url(url):
                        if any(url_hit.secret in s or s in url_hit.secret for s in seen):
                            continue
                        seen.add(url_hit.secret)
                        detail = {"where": url_hit.detail} if url_hit.detail else {}
                        hits.append(Hit(url_hit.kind, url_hit.rule, url_hit.secret, detail))
            if not only:
                return hits
            if "%" in text:
                decoded = unquote(text)
                if decoded != text:
                    seen = {h.secret for h in hits}
                    hits.extend(
                        h for h in self._scan_text(field, decoded, only) if h.secret not in seen
                    )
            for layer in _base64_layers(text):
                seen = {h.secret for h in hits}
                for hit in self._scan_text(field, layer, only):
                    if hit.secret not in seen:
                        detail = {**hit.detail, "wrapped": "base64"}
                        hits.append(Hit(hit.kind, hit.rule, hit.secret, detail))
        return hits

    def _scan_text(
        self, field: str, text: str, only: tuple[int, ...], bare_number: bool = False
    ) -> list[Hit]:
        hits: list[Hit] = []
        for i in only:
            rule = self.rules[i]
            text_filter = self._text_filters[i]
            if text_filter is not None:
                if not text_filter.search(text) and not (
                    rule.bare_context and rule.context_in_field(field)
                ):
                    continue
            elif not any(k in text for k in self._keywords[i]):
                continue
            validator = self._validators[i]
            for match in rule.pattern.finditer(text):
                candidate = match.group(rule.group)
                verdict = validator(candidate) if validator else Verdict(True)
                if not verdict:
                    continue
                if rule.min_entropy and shannon_entropy(candidate) < rule.min_entropy:
                    continue
                if (
                    rule.bare_context
                    and not _SEPARATED.search(candidate)
                    and not rule.context_in_field(field)
                ):
                    whole = bare_number or match.group(0).strip() == text.strip()
                    if whole:
                        continue
                    if not rule.in_text_without_context:
                        near = text[max(0, match.start() - 40) : match.end() + 40].lower()
                        if not _context_in(rule, near):
                            continue
                if any(candidate in h.secret or h.secret in candidate for h in hits):
                    continue  # the same value, already found by an earlier (more specific) rule
                hits.append(Hit(rule.kind, rule.id, candidate, verdict.detail))
        return hits


_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")


def _base64_layers(text: str) -> list[str]:
    """Printable text hidden one base64 level down in ``text``: runs of 24+ characters that
    hold encoded ASCII text (the fast pass's base64 trigger)."""
    found = []
    for match in _B64_RUN.finditer(text):
        run = match.group(0)
        if not _B64_TEXT.search(run):
            continue
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(run + "=" * (-len(run) % 4)).decode("utf-8")
            except (binascii.Error, ValueError):
                continue
            if decoded.isprintable() and len(decoded) >= 8:
                found.append(decoded)
                break
    return found


def alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression (``a|(b|c)`` → ``a``, ``(b|c)``)."""
    parts: list[str] = []
    depth = 0
    in_class = False
    start = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _context_in(rule: Rule, text: str) -> bool:
    return any(word in text for word in rule.bare_context)


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def keyed_fingerprint(key: bytes, kind: str, value: str) -> str:
    """A value's fingerprint under the workspace's HMAC key: the same value (of one kind)
    gets the same one in every file of the workspace, and it cannot be turned back into the
    value without the key."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
