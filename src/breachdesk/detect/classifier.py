"""The field classifier: a field's data categories from its name and from a sample of its
values, each with a share and a confidence. It feeds the inventory, never the match.

Names give a prior; values confirm, overrule or fill in. A custom property full of emails
is ``user.contact.email`` whatever its name; a property named ``email`` holding booleans
is not.

A name is read the way vendors write it: ``userAgent`` is ``user_agent``, Amplitude's
``[Amplitude] Page URL`` is ``page_url``, PostHog's ``$geoip_city_name`` a place; and a field
inside a known object takes that object's meaning (Segment's ``context.page.title`` is
browsing history, ``context.library.name`` the SDK's, ``context.device.id`` a device id). A
reader may state the category of a vendor field whose name misleads (a Segment page
message's ``name`` is the page's); that hint replaces the name's prior.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from breachdesk.domain.identity import DEVICE_PREFIX, EMAIL_SHAPE
from breachdesk.taxonomy import Category

C = Category

# Exact names (lower-cased, without a leading "$" or "mp_"), then word patterns.
_EXACT: dict[str, Category] = {
    "name": C.NAME, "first_name": C.NAME, "last_name": C.NAME, "full_name": C.NAME,
    "display_name": C.NAME, "username": C.NAME, "user_name": C.NAME,
    "email": C.EMAIL, "e-mail": C.EMAIL, "email_address": C.EMAIL, "mail": C.EMAIL,
    "phone": C.PHONE, "phone_number": C.PHONE, "mobile": C.PHONE,
    "city": C.LOCATION_IMPRECISE, "region": C.LOCATION_IMPRECISE,
    "country": C.LOCATION_IMPRECISE, "country_code": C.LOCATION_IMPRECISE,
    "timezone": C.LOCATION_IMPRECISE, "time_zone": C.LOCATION_IMPRECISE,
    "postal_code": C.LOCATION_IMPRECISE, "zip": C.LOCATION_IMPRECISE,
    "geo_source": C.LOCATION_IMPRECISE, "state": C.LOCATION_IMPRECISE,
    "latitude": C.LOCATION_PRECISE, "longitude": C.LOCATION_PRECISE, "lat": C.LOCATION_PRECISE,
    "lng": C.LOCATION_PRECISE, "lon": C.LOCATION_PRECISE, "address": C.LOCATION_PRECISE,
    "ip": C.IP_ADDRESS, "ip_address": C.IP_ADDRESS, "ip_addr": C.IP_ADDRESS,
    "os": C.USER_AGENT, "os_version": C.USER_AGENT, "browser": C.USER_AGENT,
    "browser_version": C.USER_AGENT, "device": C.USER_AGENT, "model": C.USER_AGENT,
    "manufacturer": C.USER_AGENT, "brand": C.USER_AGENT, "user_agent": C.USER_AGENT,
    "screen_height": C.USER_AGENT, "screen_width": C.USER_AGENT, "screen_dpi": C.USER_AGENT,
    "carrier": C.USER_AGENT, "app_version": C.USER_AGENT, "app_version_string": C.USER_AGENT,
    "device_type": C.USER_AGENT, "platform": C.USER_AGENT, "wifi": C.USER_AGENT,
    "device_id": C.COOKIE_ID, "anon_id": C.COOKIE_ID, "anonymous_id": C.COOKIE_ID,
    "cookie_id": C.COOKIE_ID, "session_id": C.COOKIE_ID,
    "current_url": C.BROWSING_HISTORY, "url": C.BROWSING_HISTORY, "referrer": C.BROWSING_HISTORY,
    "initial_referrer": C.BROWSING_HISTORY, "referring_domain": C.BROWSING_HISTORY,
    "initial_referring_domain": C.BROWSING_HISTORY, "search_engine": C.BROWSING_HISTORY,
    "pathname": C.BROWSING_HISTORY, "page": C.BROWSING_HISTORY, "page_title": C.BROWSING_HISTORY,
    "current_page_title": C.BROWSING_HISTORY, "current_domain": C.BROWSING_HISTORY,
    "current_url_path": C.BROWSING_HISTORY, "host": C.BROWSING_HISTORY,
    "page_location": C.BROWSING_HISTORY, "page_domain": C.BROWSING_HISTORY,
    "link_domain": C.BROWSING_HISTORY, "page_counter": C.OPERATIONS,
    "el_text": C.CONTENT, "element_text": C.CONTENT,
    "message_id": C.OPERATIONS, "previous_id": C.UNIQUE_ID, "advertising_id": C.COOKIE_ID,
    "idfa": C.COOKIE_ID, "idfv": C.COOKIE_ID, "adid": C.COOKIE_ID, "android_id": C.COOKIE_ID,
    "user_pseudo_id": C.COOKIE_ID, "amplitude_id": C.COOKIE_ID, "window_id": C.COOKIE_ID,
    "dma": C.LOCATION_IMPRECISE, "metro": C.LOCATION_IMPRECISE, "locale": C.LOCATION_IMPRECISE,
    "street": C.LOCATION_PRECISE, "viewport_height": C.USER_AGENT,
    "viewport_width": C.USER_AGENT, "event_type": C.OPERATIONS,
    "distinct_id": C.UNIQUE_ID, "user_id": C.UNIQUE_ID, "distinct_id_before_identity": C.UNIQUE_ID,
    "identified_id": C.UNIQUE_ID, "anon_distinct_id": C.COOKIE_ID, "userid": C.UNIQUE_ID,
    "org_id": C.ORGANIZATION_ID, "organization_id": C.ORGANIZATION_ID,
    "company_id": C.ORGANIZATION_ID, "group_id": C.ORGANIZATION_ID, "team_id": C.ORGANIZATION_ID,
    "workspace_id": C.ORGANIZATION_ID, "account_id": C.ORGANIZATION_ID,
    "org_ids": C.ORGANIZATION_ID, "organization": C.ORGANIZATION_ID,
    "time": C.OPERATIONS, "timestamp": C.OPERATIONS, "event": C.OPERATIONS,
    "insert_id": C.OPERATIONS, "lib": C.OPERATIONS, "lib_version": C.OPERATIONS,
    "processing_time_ms": C.OPERATIONS, "mp_api_endpoint": C.OPERATIONS,
    "api_endpoint": C.OPERATIONS,
    "api_timestamp_ms": C.OPERATIONS, "created": C.OPERATIONS, "last_seen": C.OPERATIONS,
    "import": C.OPERATIONS, "duration": C.OPERATIONS, "event_name": C.OPERATIONS,
    "message": C.CONTENT, "body": C.CONTENT, "comment": C.CONTENT, "notes": C.CONTENT,
    "note": C.CONTENT, "query": C.CONTENT, "search_query": C.CONTENT, "search": C.CONTENT,
    "prompt": C.CONTENT, "content": C.CONTENT, "text": C.CONTENT, "feedback": C.CONTENT,
    "card_number": C.CREDIT_CARD, "cc_number": C.CREDIT_CARD, "credit_card": C.CREDIT_CARD,
    "ccnum": C.CREDIT_CARD, "pan": C.CREDIT_CARD, "card": C.CREDIT_CARD,
    "iban": C.BANK_ACCOUNT, "bank_account": C.BANK_ACCOUNT, "account_number": C.BANK_ACCOUNT,
    "routing_number": C.BANK_ACCOUNT, "sort_code": C.BANK_ACCOUNT,
    "ssn": C.GOVERNMENT_ID, "national_id": C.GOVERNMENT_ID, "passport": C.GOVERNMENT_ID,
    "passport_number": C.GOVERNMENT_ID, "tax_id": C.GOVERNMENT_ID, "cnp": C.GOVERNMENT_ID,
    "cpf": C.GOVERNMENT_ID, "dni": C.GOVERNMENT_ID, "nie": C.GOVERNMENT_ID,
    "password": C.CREDENTIALS, "passwd": C.CREDENTIALS, "pwd": C.CREDENTIALS,
    "api_key": C.CREDENTIALS, "apikey": C.CREDENTIALS, "secret": C.CREDENTIALS,
    "access_token": C.CREDENTIALS, "refresh_token": C.CREDENTIALS, "auth_token": C.CREDENTIALS,
    "session_token": C.CREDENTIALS, "private_key": C.CREDENTIALS, "client_secret": C.CREDENTIALS,
}  # fmt: skip
_WORDS: list[tuple[re.Pattern[str], Category]] = [
    (re.compile(r"e-?mail"), C.EMAIL),
    (re.compile(r"phone|mobile_number"), C.PHONE),
    (re.compile(r"(^|_)(first|last|full|display)_?name$"), C.NAME),
    (re.compile(r"(^|_)(lat|lng|latitude|longitude|geo_?point)($|_)"), C.LOCATION_PRECISE),
    (
        re.compile(r"(^|_)(city|country|region|time_?zone|continent|subdivision|postal)($|_)"),
        C.LOCATION_IMPRECISE,
    ),
    (re.compile(r"^geoip_"), C.LOCATION_IMPRECISE),
    (re.compile(r"(^|_)ip($|_)|ip_?address"), C.IP_ADDRESS),
    (re.compile(r"(^|_)(os|browser|device_model|user_agent|screen)($|_)"), C.USER_AGENT),
    (
        re.compile(r"^device_(brand|family|manufacturer|carrier|model|type|name|category)$"),
        C.USER_AGENT,
    ),
    (re.compile(r"(^|_)(device|anon|cookie)_?id$"), C.COOKIE_ID),
    (
        re.compile(r"url|referr?er|referring|utm_|(^|_)(path|href)$|landing_page"),
        C.BROWSING_HISTORY,
    ),
    (
        re.compile(r"(^|_)(org|organi[sz]ation|company|team|workspace|group)_?ids?$"),
        C.ORGANIZATION_ID,
    ),
    (re.compile(r"(^|_)user_?id$"), C.UNIQUE_ID),
    (re.compile(r"(^|_)(time|timestamp|insert_id|version)$|_at$"), C.OPERATIONS),
    (re.compile(r"message|comment|note|feedback|prompt|search_term|query"), C.CONTENT),
    (re.compile(r"(^|_)(card_?number|credit_?card|cc_?num(ber)?)($|_)"), C.CREDIT_CARD),
    (re.compile(r"(^|_)(iban|bank_?account)($|_)"), C.BANK_ACCOUNT),
    (re.compile(r"(^|_)(ssn|passport|national_?id|tax_?id)($|_)"), C.GOVERNMENT_ID),
    (re.compile(r"(^|_)(password|passwd|api_?key|secret|access_?token)($|_)"), C.CREDENTIALS),
]

_UA = re.compile(
    r"^Mozilla/\d|AppleWebKit|Chrome/\d|Safari/\d|Firefox/\d|^okhttp/|CFNetwork/", re.I
)
_URL = re.compile(r"^(?:https?|ftp|wss?)://\S+$|^www\.\S+$", re.I)
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$", re.I)
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_WORDS_RE = re.compile(r"[^\W\d_]{2,}")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_VENDOR_PREFIX = re.compile(r"^\[[^\]]*\]\s*")  # "[Amplitude] Page URL"


def _word(segment: str) -> str:
    text = _VENDOR_PREFIX.sub("", segment.replace("[]", "").strip())
    text = _CAMEL.sub("_", text).lower().lstrip("$")
    if text.startswith("mp_"):
        text = text[3:]
    return text.replace(" ", "_").replace("-", "_")


def base_name(path: str) -> str:
    """``properties.$initial_referrer`` → ``initial_referrer``; ``userAgent`` → ``user_agent``;
    ``[Amplitude] Page URL`` → ``page_url``; list markers dropped."""
    return _word(path.rsplit(".", 1)[-1])


# A field inside one of these objects takes the object's meaning (``context.page.title``);
# the leaves listed with an object override it (``context.device.id`` is a device id).
_PARENTS: dict[str, tuple[Category, dict[str, Category]]] = {
    "page": (C.BROWSING_HISTORY, {}),
    "campaign": (C.BROWSING_HISTORY, {}),
    "traffic_source": (C.BROWSING_HISTORY, {}),
    "collected_traffic_source": (C.BROWSING_HISTORY, {}),
    "library": (C.OPERATIONS, {}),
    "app": (C.OPERATIONS, {}),
    "app_info": (C.OPERATIONS, {}),
    "integrations": (C.OPERATIONS, {}),
    "privacy_info": (C.OPERATIONS, {}),
    "os": (C.USER_AGENT, {}),
    "browser": (C.USER_AGENT, {}),
    "screen": (C.USER_AGENT, {}),
    "network": (C.USER_AGENT, {}),
    "web_info": (C.USER_AGENT, {"hostname": C.BROWSING_HISTORY}),
    "device": (
        C.USER_AGENT,
        {"id": C.COOKIE_ID, "advertising_id": C.COOKIE_ID, "vendor_id": C.COOKIE_ID,
         "token": C.COOKIE_ID},
    ),
    "location": (C.LOCATION_IMPRECISE, {"latitude": C.LOCATION_PRECISE,
                                        "longitude": C.LOCATION_PRECISE}),
    "geo": (C.LOCATION_IMPRECISE, {}),
    "address": (C.LOCATION_IMPRECISE, {"street": C.LOCATION_PRECISE,
                                       "line1": C.LOCATION_PRECISE,
                                       "line2": C.LOCATION_PRECISE}),
    "groups": (C.ORGANIZATION_ID, {}),
    "company": (C.OPERATIONS, {"id": C.ORGANIZATION_ID, "name": C.ORGANIZATION_ID}),
}  # fmt: skip


def category_from_name(path: str) -> Category | None:
    name = base_name(path)
    if "." in path:
        parent = _word(path.rsplit(".", 2)[-2])
        found = _PARENTS.get(parent)
        if found is not None:
            default, leaves = found
            if parent != "company" or name in leaves:
                return leaves.get(name, default)
    if name in _EXACT:
        return _EXACT[name]
    if name == "e_mail":
        return C.EMAIL
    for pattern, category in _WORDS:
        if pattern.search(name):
            return category
    return None


def value_kind(value: Any) -> str:
    """A coarse kind of one sampled value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if not isinstance(value, str):
        return "other"
    text = value.strip()
    if text.lower() in ("true", "false"):
        return "bool"
    if EMAIL_SHAPE.fullmatch(text):
        return "email"
    if _URL.match(text):
        return "url"
    if text.startswith(DEVICE_PREFIX):
        return "device"
    if _UA.search(text):
        return "user_agent"
    if _TIMESTAMP.match(text):
        return "timestamp"
    if _UUID.match(text):
        return "uuid"
    if _is_ip(text):
        return "ip"
    if _DOMAIN.match(text):
        return "domain"
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return "number"
    if len(text) >= 40 and len(_WORDS_RE.findall(text)) >= 6:
        return "prose"
    return "text"


def _is_ip(text: str) -> bool:
    if not (text[:1].isdigit() or ":" in text) or len(text) > 45:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# Which category each value kind shows by itself (None: the value alone says nothing).
_KIND_CATEGORY: dict[str, Category | None] = {
    "email": C.EMAIL,
    "url": C.BROWSING_HISTORY,
    "user_agent": C.USER_AGENT,
    "ip": C.IP_ADDRESS,
    "device": C.COOKIE_ID,
    "prose": C.CONTENT,
}
# Value kinds that cannot hold a name's category (an ``email`` property full of booleans).
_INCOMPATIBLE: dict[Category, set[str]] = {
    C.EMAIL: {"bool", "number", "timestamp", "uuid", "url", "ip"},
    C.NAME: {"bool", "number", "timestamp", "email", "url", "ip"},
    C.PHONE: {"bool", "email", "url", "timestamp"},
    C.IP_ADDRESS: {"bool", "email", "url", "timestamp"},
    C.BROWSING_HISTORY: {"bool", "email", "ip", "timestamp"},
    C.LOCATION_IMPRECISE: {"bool", "email", "url"},
    C.USER_AGENT: {"email", "url"},
    C.CONTENT: {"bool"},
    C.CREDIT_CARD: {"bool", "email", "url", "timestamp"},
    C.BANK_ACCOUNT: {"bool", "email", "url", "timestamp"},
    C.GOVERNMENT_ID: {"bool", "email", "url", "timestamp"},
    C.CREDENTIALS: {"bool"},
}


@dataclass(frozen=True, slots=True)
class FieldCategories:
    category: Category | None
    shares: tuple[tuple[Category, float], ...]
    confidence: float


def classify_field(
    path: str, sample: Sequence[Any], hint: Category | None = None
) -> FieldCategories:
    """The categories of one field, from its name (or the reader's ``hint``) and a sample of
    its non-empty values."""
    by_name = hint or category_from_name(path)
    kinds = Counter(value_kind(v) for v in sample)
    total = sum(kinds.values())
    shares: dict[Category, float] = {}
    if total:
        for kind, count in kinds.items():
            category = _KIND_CATEGORY.get(kind)
            if category is not None:
                shares[category] = shares.get(category, 0.0) + count / total
    if by_name is not None:
        bad = _INCOMPATIBLE.get(by_name, set())
        compatible = sum(c for k, c in kinds.items() if k not in bad) / total if total else 1.0
        if compatible >= 0.5:
            shares[by_name] = max(shares.get(by_name, 0.0), compatible)
    if not shares:
        return FieldCategories(None, (), round(0.5 if not total else 0.3, 2))
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0].value))
    best, share = ranked[0]
    name_share = shares.get(by_name, 0.0) if by_name is not None else 0.0
    if by_name is not None and best is not by_name and name_share >= max(0.5, share - 0.2):
        # a name that fits most values wins over a minority value kind
        best, share = by_name, name_share
    agrees = by_name is best
    value_backed = _kind_share(kinds, best, total)
    confidence = 0.5 * share + (0.3 if agrees else 0.0) + 0.2 * value_backed
    if by_name is None:
        confidence = 0.2 + 0.7 * share
    if total == 0:
        confidence = 0.6 if agrees else 0.3
    ordered = tuple((c, round(s, 3)) for c, s in ranked)
    return FieldCategories(best, ordered, round(min(confidence, 0.99), 2))


def _kind_share(kinds: Counter[str], category: Category, total: int) -> float:
    if not total:
        return 0.0
    return sum(c for k, c in kinds.items() if _KIND_CATEGORY.get(k) is category) / total
