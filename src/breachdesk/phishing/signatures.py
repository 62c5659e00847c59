"""DKIM signatures verified offline against the workspace's own keys: dkimpy does the
verification, through a DNS function that answers from the key store (never the network),
and each signature must also fall within its selector's validity window.

A signature counts only when it is ours (its ``d=`` an official domain, its selector one
whose key the workspace holds or held), it verifies, it covers the whole body (no ``l=``)
and its time (``t=``) lies between the selector's creation and retirement.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from breachdesk.phishing.names import HostError, ascii_host, within

MAX_SIGNATURES = 8  # a message with more is read for these; the rest are not verified
CLOCK_SKEW = 300  # seconds a signing clock may run ahead of the key's recorded creation
_QUIET = logging.getLogger("breachdesk.phishing.dkim")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class PublicKey:
    """A selector's public key (its TXT record) and validity window (Unix times)."""

    selector: str
    record: bytes
    created: int | None
    retired: int | None


@dataclass(frozen=True)
class Signature:
    """One DKIM-Signature of a message: its ``d=`` (ASCII, lower case) and ``s=``;
    ``valid`` only when every condition above holds; ``ours`` when d= is official and the
    selector one of ours; ``body_altered`` when the body hash no longer matches."""

    d: str
    s: str
    valid: bool
    ours: bool
    body_altered: bool
    reason: str


def _tag(tags: Mapping[bytes, bytes], name: bytes) -> str:
    return tags.get(name, b"").decode("ascii", "replace").strip()


def verify(
    data: bytes, keys: Mapping[str, PublicKey], official: frozenset[str], now: int
) -> list[Signature]:
    """Every DKIM signature of ``data`` (CRLF line endings), verified (topmost first)."""
    try:
        signer = dkim.DKIM(data, logger=_QUIET, minkey=1024)
    except Exception as exc:  # dkimpy's header parser on any input: a failure is a fact
        why = f"the headers cannot be read for DKIM ({type(exc).__name__})"
        return [Signature("", "", False, False, False, why)]
    headers = [value for name, value in signer.headers if name.lower() == b"dkim-signature"]
    return [
        _one(signer, i, value, keys, official, now)
        for i, value in enumerate(headers[:MAX_SIGNATURES])
    ]


def _one(
    signer: dkim.DKIM,
    index: int,
    value: bytes,
    keys: Mapping[str, PublicKey],
    official: frozenset[str],
    now: int,
) -> Signature:
    try:
        tags = parse_tag_value(value)
    except (InvalidTagValueList, ValueError, IndexError) as exc:
        return Signature(
            "", "", False, False, False, f"a DKIM-Signature cannot be read ({type(exc).__name__})"
        )
    raw_d, s = _tag(tags, b"d"), _tag(tags, b"s").lower()
    try:
        d = ascii_host(raw_d)
    except HostError:
        return Signature(raw_d[:80], s[:80], False, False, False, "its d= is not a domain name")
    key = keys.get(s)
    if within(d, official) is None or key is None:
        return Signature(d, s, False, False, False, "not signed with a key of ours")
    problem = _window(key, _tag(tags, b"t"))
    if b"l" in tags:
        problem = problem or "it covers only part of the body (l=)"
    name = f"{s}._domainkey.{d}.".encode("ascii")

    def dns(query: bytes, timeout: float = 5) -> bytes | None:
        return key.record if query.lower() == name else None

    try:
        verified = bool(signer.verify(idx=index, dnsfunc=dns))
    except dkim.ValidationError as exc:
        if str(exc).startswith("body hash mismatch"):
            return Signature(d, s, False, True, True, "the body was changed after it was signed")
        return Signature(d, s, False, True, False, f"it is not valid ({_first_words(exc)})")
    except Exception as exc:  # dkimpy on a malformed signature: a fact about the message
        return Signature(d, s, False, True, False, f"it cannot be verified ({type(exc).__name__})")
    if not verified:
        why = "it does not verify: a signed header was changed, or another key signed it"
        return Signature(d, s, False, True, False, why)
    if problem:
        return Signature(d, s, False, True, False, problem)
    return Signature(d, s, True, True, False, "valid")


def _window(key: PublicKey, t: str) -> str:
    signed = int(t) if re.fullmatch(r"[0-9]{1,12}", t) else None
    if key.retired is not None:
        if signed is None:
            return f"selector {key.selector} is retired and the signature carries no time (t=)"
        if signed > key.retired:
            return f"signed after selector {key.selector} was retired"
    if key.created is not None and signed is not None and signed < key.created - CLOCK_SKEW:
        return f"dated before selector {key.selector} existed"
    return ""


def _first_words(exc: Exception) -> str:
    """dkimpy's reason without the values it quotes (they come from the message)."""
    return str(exc).split("(", 1)[0].strip()[:80] or type(exc).__name__
