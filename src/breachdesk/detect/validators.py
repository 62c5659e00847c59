"""Offline validators that confirm a candidate: checksums, entropy, structure.

Nothing here ever contacts a provider: a key is judged by its shape and checksum only.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

Validator = Callable[[str], "Verdict"]
_VALIDATORS: dict[str, Validator] = {}


class Verdict:
    """A validator's answer: whether the candidate holds, and non-personal facts about it."""

    __slots__ = ("detail", "ok")

    def __init__(self, ok: bool, detail: dict[str, Any] | None = None) -> None:
        self.ok = ok
        self.detail = detail or {}

    def __bool__(self) -> bool:
        return self.ok


def register_validator(name: str) -> Callable[[Validator], Validator]:
    def add(fn: Validator) -> Validator:
        _VALIDATORS[name] = fn
        return fn

    return add


def get_validator(name: str) -> Validator:
    try:
        return _VALIDATORS[name]
    except KeyError:
        known = ", ".join(sorted(_VALIDATORS))
        raise KeyError(f"unknown validator {name!r}; known: {known}") from None


def validator_names() -> list[str]:
    return sorted(_VALIDATORS)


def shannon_entropy(text: str) -> float:
    """Bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# (prefixes, allowed lengths) per brand; prefixes as inclusive numeric ranges of a given width
_BRANDS: list[tuple[str, list[tuple[int, int, int]], set[int]]] = [
    ("visa", [(4, 4, 1)], {13, 16, 19}),
    ("mastercard", [(51, 55, 2), (2221, 2720, 4)], {16}),
    ("amex", [(34, 34, 2), (37, 37, 2)], {15}),
    ("discover", [(6011, 6011, 4), (65, 65, 2), (644, 649, 3)], {16, 17, 18, 19}),
    ("jcb", [(3528, 3589, 4)], {16, 17, 18, 19}),
    ("diners", [(300, 305, 3), (36, 36, 2), (38, 39, 2)], {14, 16, 19}),
    ("unionpay", [(62, 62, 2)], {16, 17, 18, 19}),
]


def card_brand(digits: str) -> str | None:
    for brand, ranges, lengths in _BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high, width in ranges:
            if low <= int(digits[:width]) <= high:
                return brand
    return None


@register_validator("payment_card")
def _card(candidate: str) -> Verdict:
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 2:
        return Verdict(False)
    brand = card_brand(digits)
    if brand is None or not luhn_ok(digits):
        return Verdict(False)
    return Verdict(True, {"brand": brand})


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@register_validator("jwt")
def _jwt(candidate: str) -> Verdict:
    parts = candidate.split(".")
    if len(parts) != 3:
        return Verdict(False)
    try:
        header = orjson.loads(_b64url(parts[0]))
        payload = orjson.loads(_b64url(parts[1]))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return Verdict(False)
    if not isinstance(header, dict) or "alg" not in header or not isinstance(payload, dict):
        return Verdict(False)
    detail: dict[str, Any] = {"alg": str(header.get("alg"))}
    for claim in ("iss", "aud", "exp", "iat"):
        value = payload.get(claim)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            detail[claim] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            detail[claim] = " ".join(value)
    return Verdict(True, detail)


@register_validator("openai_key")
def _openai(candidate: str) -> Verdict:
    return Verdict(len(candidate) >= 40 and shannon_entropy(candidate) >= 3.5)
