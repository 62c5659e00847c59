"""A seeded corpus that proves "absent" statements: one value of every finding kind planted in
every field shape the readers produce, with a decoy (a near miss that must not be found)
beside each. Used by the tests and by ``benchmarks/assess.py`` (planted recall/precision).

Shapes: top-level string, nested object, list item, numeric field, URL query, fragment,
path, userinfo, referrer, free text, percent-encoded, base64-wrapped, JSON inside a string.
A kind is planted only in the shapes it can take (an API key is never a number; userinfo
holds a password; an email is a finding only inside a URL).
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SHAPES = ("top_level", "nested", "list_item", "numeric", "url_query", "fragment", "path",
          "userinfo", "referrer", "free_text", "percent", "base64", "json_string")  # fmt: skip
KINDS = ("api_key", "credential", "payment_card", "bank_account", "government_id", "email_in_url")
SITE = "https://app.devplatform.example"
_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ALNUM = string.ascii_letters + string.digits
_NOT_JWT = "eyJub3RqU09OIGF0IGFsbA"


@dataclass(frozen=True, slots=True)
class Plant:
    kind: str
    shape: str
    field: str  # the field path the finding must name
    decoy: bool  # a near miss: nothing may be found in ``field``


def _rand(rng: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for last in string.digits:
        digits = body + last
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _b62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(6, "0")


def _iban(rng: random.Random, good: bool) -> str:
    body = f"{rng.randrange(10**8):08d}{rng.randrange(10**10):010d}"
    check = 98 - int("".join(str(int(c, 36)) for c in body + "DE00")) % 97
    return f"DE{check if good else (check % 97) + 1:02d}{body}"


def _ssn(rng: random.Random) -> str:
    return f"{rng.randrange(100, 665)}-{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"


def secret(rng: random.Random, kind: str, decoy: bool) -> str:
    """A value of ``kind`` (valid structure and checksum), or a near miss of it."""
    if kind == "api_key":
        body = _rand(rng, 30)
        crc = _b62(zlib.crc32(body.encode()) & 0xFFFFFFFF)
        if decoy:  # a wrong checksum
            crc = crc[:-1] + ("A" if crc[-1] != "A" else "B")
        return f"ghp_{body}{crc}"
    if kind == "credential":
        head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
        claims = json.dumps({"sub": "u", "exp": 1760086400}).encode()
        payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
        if decoy:  # a header that is not JSON
            head = _NOT_JWT
        return f"{head}.{payload}.{_rand(rng, 43, _ALNUM + '-_')}"
    if kind == "payment_card":
        prefix = rng.choice(["4", "51", "55", "37"])
        card = _luhn(rng, prefix, 15 if prefix == "37" else 16)
        if decoy:  # the Luhn digit off by one
            card = card[:-1] + str((int(card[-1]) + 1) % 10)
        return card
    if kind == "bank_account":
        return _iban(rng, not decoy)
    if kind == "government_id":
        ssn = _ssn(rng)
        return ("666" + ssn[3:]) if decoy else ssn
    if kind == "email_in_url":
        user = _rand(rng, 6, string.ascii_lowercase)
        return f"{user}@example" if decoy else f"{user}@example.org"
    raise ValueError(kind)


def applicable(kind: str, shape: str) -> bool:
    if kind == "email_in_url":
        return shape in ("url_query", "fragment", "path", "referrer", "percent")
    if shape == "userinfo":
        return kind == "credential"
    if shape == "numeric":
        return kind in ("payment_card", "government_id")
    return True


def embed(rng: random.Random, kind: str, shape: str, value: str) -> tuple[str, Any]:
    """(field, value) holding ``value`` in ``shape``: the field is where the finding is."""
    words = rng.choice(["please check", "see attached", "urgent", "thanks", "re: ticket 41"])
    decoy = value.startswith(_NOT_JWT)
    if kind == "payment_card" and shape in ("top_level", "nested", "list_item"):
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))  # as typed in a form
    if kind == "credential" and shape in ("url_query", "fragment", "referrer"):
        # a password of ordinary length in a URL parameter, or a token
        param = "password" if rng.random() < 0.5 else "id_token"
        if param == "password":
            value = "xxxx" if decoy else _rand(rng, rng.randrange(6, 12))
        elif decoy:
            value = "undefined"
        sep = "#" if shape == "fragment" else "?"
        url = f"{SITE}/login{sep}user=ann&{param}={value}"
        return ("$referrer" if shape == "referrer" else "$current_url"), url
    if shape == "top_level":
        return "note", value
    if shape == "nested":
        return "form.fields.comment", {"fields": {"comment": value, "n": 3}}
    if shape == "list_item":
        return "tags[]", ["alpha", value, "beta"]
    if shape == "numeric":
        digits = value.replace("-", "")
        return ("card_number" if kind == "payment_card" else "ssn"), int(digits)
    if shape == "url_query":
        return "$current_url", f"{SITE}/search?q=x&ref={value}&page=2"
    if shape == "fragment":
        return "$current_url", f"{SITE}/page#ref={value}"
    if shape == "path":
        if kind == "credential":
            if decoy:  # an id, not a secret
                value = "3f2b8c1e-9a4d-4e7b-8c2d-1a2b3c4d5e6f"
            return "$current_url", f"{SITE}/reset/{value}"
        return "$current_url", f"{SITE}/files/{value}/view"
    if shape == "userinfo":
        password = "****" if decoy else _rand(rng, 12)
        return "$referrer", f"https://deploy:{password}@git.devplatform.example/r.git"
    if shape == "referrer":
        return "$referrer", f"https://other.example/out?to={value}"
    if shape == "free_text":
        return "search_query", f"{words}: {value} {rng.choice(['asap', 'thx', '!'])}"
    if shape == "percent":
        if kind == "email_in_url":
            return "$current_url", f"{SITE}/invite?to={quote(value, safe='')}"
        return "$current_url", f"{SITE}/s?q={quote(f'{words} {value}', safe='')}"
    if shape == "base64":
        return "state", base64.b64encode(f"state={words} {value} end".encode()).decode()
    if shape == "json_string":
        return "payload", json.dumps({"message": f"{words} {value}", "ok": True})
    raise ValueError(shape)


def plant(rng: random.Random, props: dict[str, Any], kind: str, shape: str, decoy: bool) -> Plant:
    """Put one planted value (or decoy) of ``kind`` in ``shape`` into an event's properties."""
    field, value = embed(rng, kind, shape, secret(rng, kind, decoy))
    top = field.split(".", 1)[0].removesuffix("[]")
    props[top] = value
    return Plant(kind, shape, field, decoy)


def cases() -> list[tuple[str, str]]:
    return [(k, s) for k in KINDS for s in SHAPES if applicable(k, s)]


def planter(
    seed: int = 11,
) -> Callable[[random.Random, dict[str, Any]], tuple[str | None, str, str]]:
    """For ``benchmarks/webevents.write_events``: cycles through every (kind, shape), a
    planted value then its decoy."""
    order = [(k, s, d) for k, s in cases() for d in (False, True)]
    state = {"i": seed % len(order)}

    def apply(rng: random.Random, event: dict[str, Any]) -> tuple[str | None, str, str]:
        kind, shape, decoy = order[state["i"] % len(order)]
        state["i"] += 1
        found = plant(rng, event["properties"], kind, shape, decoy)
        return (None if decoy else kind), found.field, shape

    return apply
