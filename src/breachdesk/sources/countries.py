"""Country values as ISO 3166-1 alpha-2 codes.

Exports give a country as a code (Mixpanel's ``mp_country_code``: ``"US"``) or as an
English name (Amplitude's and GA4's ``country``: ``"United States"``, from MaxMind GeoIP or
Google's own list). A name is looked up, never guessed: exactly (case and spacing aside) in
pycountry's ISO names (``name``, ``official_name``, ``common_name``), in the CLDR English names
Babel carries (``"Myanmar (Burma)"``, ``"Congo - Kinshasa"``, ``"Côte d’Ivoire"``), and in a
short table of GeoIP spellings neither has. A name none of them knows is *unmapped*: the scan
counts those records and reports them; it does not pick the nearest country.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Spellings used by GeoIP databases and analytics tools that neither ISO 3166 (pycountry) nor
# CLDR (Babel) uses. Each is one country beyond doubt; anything ambiguous stays unmapped.
GEOIP_NAMES = {
    "bosnia and herzegovina": "BA",
    "burma": "MM",
    "cape verde": "CV",
    "congo republic": "CG",
    "czech republic": "CZ",
    "dr congo": "CD",
    "east timor": "TL",
    "hong kong": "HK",
    "ivory coast": "CI",
    "macau": "MO",
    "macedonia": "MK",
    "palestine": "PS",
    "republic of korea": "KR",
    "russia": "RU",
    "st kitts and nevis": "KN",
    "st lucia": "LC",
    "st vincent and grenadines": "VC",
    "swaziland": "SZ",
    "the netherlands": "NL",
    "turkey": "TR",
    "vatican city": "VA",
}
# Values that mean "not known" (GA4 writes ``(not set)``): no country, and not unmapped.
NOT_SET = frozenset({"(not set)", "(none)", "unknown", "n/a", "-"})


def _key(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("&", "and")
    return " ".join(text.replace(".", " ").split()).casefold()


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every known English name (normalised) → alpha-2."""
    import pycountry
    from babel import Locale

    codes = {c.alpha_2 for c in pycountry.countries}
    names: dict[str, str] = {}
    for code, name in Locale("en").territories.items():
        if code in codes:
            names[_key(name)] = code
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                names[_key(name)] = country.alpha_2
    for name, code in GEOIP_NAMES.items():
        names[_key(name)] = code
    return names


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries)


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """The alpha-2 code of a country code or English name; ``""`` for an empty or "not set"
    value; None for a name that maps to no country (counted by the caller, never guessed)."""
    text = value.strip()
    if not text or text.casefold() in NOT_SET:
        return ""
    if len(text) == 2 and text.isascii() and text.isalpha():
        # a two-letter value is a code (``uk`` included, as exports write it)
        return "GB" if text.upper() == "UK" else text.upper()
    return _names().get(_key(text))


def is_code(value: str) -> bool:
    return value in _codes()
