"""Scanning values for findings: a fast pass over raw bytes picks candidate records, then
each value of a candidate goes through the confirming patterns, validators and URL analysis.

The fast pass is a superset: every rule contributes its keywords or prefilter, and any JSON
escape (``\\u00``, ``\\/``) makes a record a candidate, so the raw bytes never hide a value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from breachdesk.detect.prefilter import Prefilter
from breachdesk.detect.rules import Rule, RuleSet
from breachdesk.detect.urls import URL_PREFILTER, analyse_url, find_urls
from breachdesk.detect.validators import Verdict, get_validator, shannon_entropy
from breachdesk.taxonomy import FindingKind

_ESCAPES = rb"\\u00|\\/"
_SEPARATED = re.compile(r"[ -]")


@dataclass(frozen=True, slots=True)
class Hit:
    """A confirmed finding in one value. ``secret`` never leaves the scanning process."""

    kind: FindingKind
    rule: str
    secret: str
    detail: dict[str, Any]


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
        parts = [r.prefilter_pattern().encode() for r in self.rules]
        # a secret wrapped in base64 one level deep still makes its record a candidate
        wrapped = {v for r in self.rules for k in r.keywords for v in base64_cores(k)}
        parts += [re.escape(v).encode() for v in sorted(wrapped)]
        parts += [URL_PREFILTER, _ESCAPES]
        self.prefilter = Prefilter(parts)
        self._text_filters = [re.compile(r.prefilter) if r.prefilter else None for r in self.rules]
        self._keywords = [r.keywords for r in self.rules]
        self._validators = [get_validator(r.validator) if r.validator else None for r in self.rules]

    def fingerprint(self, kind: FindingKind, secret: str) -> str:
        digest = hmac.new(self._key, f"{kind.value}:{secret}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def is_candidate(self, raw: bytes) -> bool:
        return self.prefilter.search(raw)

    def scan_value(self, field: str, value: str | int | float) -> list[Hit]:
        """Every finding in one value (a string, or a JSON number as its decimal form)."""
        text = value if isinstance(value, str) else _number_text(value)
        hits = self._scan_text(field, text, bare_number=not isinstance(value, str))
        if isinstance(value, str):
            if "://" in text:
                seen = {h.secret for h in hits}
                for url in find_urls(text):
                    for url_hit in analyse_url(url):
                        if any(url_hit.secret in s or s in url_hit.secret for s in seen):
                            continue
                        seen.add(url_hit.secret)
                        detail = {"where": url_hit.detail} if url_hit.detail else {}
                        hits.append(Hit(url_hit.kind, url_hit.rule, url_hit.secret, detail))
            if "%" in text:
                decoded = unquote(text)
                if decoded != text:
                    seen = {h.secret for h in hits}
                    hits.extend(h for h in self._scan_text(field, decoded) if h.secret not in seen)
            for layer in _base64_layers(text):
                seen = {h.secret for h in hits}
                for hit in self._scan_text(field, layer):
                    if hit.secret not in seen:
                        detail = {**hit.detail, "wrapped": "base64"}
                        hits.append(Hit(hit.kind, hit.rule, hit.secret, detail))
        return hits

    def _scan_text(self, field: str, text: str, bare_number: bool = False) -> list[Hit]:
        hits: list[Hit] = []
        for i, rule in enumerate(self.rules):
            text_filter = self._text_filters[i]
            if text_filter is not None:
                if not text_filter.search(text) and not _context_in(rule, field.lower()):
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
                if rule.bare_context and not _SEPARATED.search(candidate):
                    near = text[max(0, match.start() - 40) : match.end() + 40].lower()
                    whole = bare_number or match.group(0).strip() == text.strip()
                    if not _context_in(rule, field.lower()) and (
                        whole or not _context_in(rule, near)
                    ):
                        continue
                if any(candidate in h.secret or h.secret in candidate for h in hits):
                    continue  # the same value, already found by an earlier (more specific) rule
                hits.append(Hit(rule.kind, rule.id, candidate, verdict.detail))
        return hits


_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")


def base64_cores(keyword: str) -> list[str]:
    """The parts of ``keyword``'s base64 encoding that do not depend on what surrounds it,
    at each of the three alignments, in both alphabets (only for keywords of 5+ bytes)."""
    raw = keyword.encode()
    if len(raw) < 5:
        return []
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = {0: 0, 1: 2, 2: 3}[offset]
        end = (offset + len(raw)) * 8 // 6
        core = encoded[start:end]
        if len(core) >= 4:
            cores.append(core)
            cores.append(core.replace("+", "-").replace("/", "_"))
    return cores


def _base64_layers(text: str) -> list[str]:
    """Printable text hidden one base64 level down in ``text`` (runs of 24+ characters)."""
    found = []
    for match in _B64_RUN.finditer(text):
        run = match.group(0)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(run + "=" * (-len(run) % 4)).decode("utf-8")
            except (binascii.Error, ValueError):
                continue
            if decoded.isprintable() and len(decoded) >= 8:
                found.append(decoded)
                break
    return found


def _context_in(rule: Rule, text: str) -> bool:
    return any(word in text for word in rule.bare_context)


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
