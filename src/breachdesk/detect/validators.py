"""Offline validators that confirm a candidate: checksums, entropy, structure.

Nothing here ever contacts a provider: a key is judged by its shape and checksum only.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
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


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def _placeholder(body: str) -> bool:
    """A run of one character, or the usual stand-ins for a real secret."""
    lowered = body.lower()
    return len(set(lowered.replace("-", "").replace("_", ""))) <= 2 or any(
        word in lowered for word in ("example", "xxxxx", "placeholder", "changeme", "your")
    )


def _crc_token(candidate: str, prefix_len: int) -> Verdict:
    """GitHub classic and npm tokens: 30 random base62 characters, then the base62 CRC32 of
    them in 6 characters (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/)."""
    body = candidate[prefix_len:]
    if len(body) != 36 or _placeholder(body):
        return Verdict(False)
    random_part, checksum = body[:30], body[30:]
    expected = base62(zlib.crc32(random_part.encode()) & 0xFFFFFFFF, 6)
    return Verdict(expected == checksum, {"checksum": "valid"})


@register_validator("github_checksum")
def _github(candidate: str) -> Verdict:
    return _crc_token(candidate, 4)


@register_validator("npm_checksum")
def _npm(candidate: str) -> Verdict:
    return _crc_token(candidate, 4)


@register_validator("not_placeholder")
def _not_placeholder(candidate: str) -> Verdict:
    body = candidate.split("-", 1)[-1] if "-" in candidate[:8] else candidate
    return Verdict(not _placeholder(body) and shannon_entropy(body) >= 3.0)


@register_validator("aws_key_id")
def _aws(candidate: str) -> Verdict:
    body = candidate[4:]
    return Verdict(
        not _placeholder(body) and not body.endswith("EXAMPLE") and shannon_entropy(body) >= 2.8
    )


@register_validator("anthropic_key")
def _anthropic(candidate: str) -> Verdict:
    body = candidate.split("-", 3)[-1]
    return Verdict(candidate.endswith("AA") and len(body) == 95 and not _placeholder(body))


@register_validator("pem_private_key")
def _pem(candidate: str) -> Verdict:
    lines = [ln.strip() for ln in candidate.replace("\\n", "\n").splitlines()]
    body = "".join(ln for ln in lines[1:-1] if ln and ":" not in ln and not ln.startswith("="))
    if len(body) < 40 or any(ch not in _B64_CHARS for ch in body):
        return Verdict(False)
    kind = lines[0].strip("-").replace("BEGIN", "").strip() if lines else ""
    return Verdict(True, {"type": kind})


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

# IBAN lengths by country (ISO 13616 registry), for the countries most seen
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


@register_validator("iban")
def _iban(candidate: str) -> Verdict:
    text = candidate.replace(" ", "").upper()
    if IBAN_LENGTHS.get(text[:2]) != len(text) or not text[2:4].isdigit():
        return Verdict(False)
    rearranged = text[4:] + text[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return Verdict(int(digits) % 97 == 1, {"country": text[:2]})


_SSN_EXAMPLES = frozenset({"078051120", "219099999", "123456789", "111111111", "333333333"})


@register_validator("us_ssn")
def _ssn(candidate: str) -> Verdict:
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if len(digits) != 9 or digits in _SSN_EXAMPLES:
        return Verdict(False)
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    ok = area not in (0, 666) and area < 900 and group != 0 and serial != 0
    return Verdict(ok)


@register_validator("ro_cnp")
def _cnp(candidate: str) -> Verdict:
    """Romanian CNP: S YY MM DD JJ NNN C, C from the weights 279146358279 (mod 11)."""
    digits = candidate
    if len(digits) != 13 or not digits.isdigit() or digits[0] in "09":
        return Verdict(False)
    month, day, county = int(digits[3:5]), int(digits[5:7]), int(digits[7:9])
    if not (1 <= month <= 12 and 1 <= day <= 31 and (1 <= county <= 52 or county == 70)):
        return Verdict(False)
    weights = "279146358279"
    total = sum(int(d) * int(w) for d, w in zip(digits[:12], weights, strict=True)) % 11
    return Verdict((1 if total == 10 else total) == int(digits[12]))


@register_validator("br_cpf")
def _cpf(candidate: str) -> Verdict:
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if len(digits) != 11 or len(set(digits)) == 1:
        return Verdict(False)
    for n in (9, 10):
        total = sum(int(digits[i]) * (n + 1 - i) for i in range(n))
        check = (total * 10) % 11 % 10
        if check != int(digits[n]):
            return Verdict(False)
    return Verdict(True)


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


@register_validator("es_dni")
def _dni(candidate: str) -> Verdict:
    text = candidate.replace("-", "").upper()
    number = text[:-1]
    if number[:1] in ("X", "Y", "Z"):
        number = str("XYZ".index(number[0])) + number[1:]
    if not number.isdigit() or len(number) != 8:
        return Verdict(False)
    return Verdict(_DNI_LETTERS[int(number) % 23] == text[-1])
