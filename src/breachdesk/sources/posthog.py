"""PostHog: the batch export's events model as JSON Lines, plain or gzip (``uuid``, ``event``,
``distinct_id``, ``person_id``, ``properties``, ``person_properties``, ``elements_chain``,
``timestamp``, ``created_at``).

``properties`` and ``person_properties`` are nested objects (in older exports, JSON text: it is
parsed). ``elements_chain`` — the clicked element and its ancestors, ``a.nav:href="/x"nth-child
="1"text="Sign in";div.menu:…`` — is presented as what it holds: ``elements_chain.text`` (the
elements' visible text: free text a person typed or read), ``elements_chain.href`` (links) and
``elements_chain.elements`` (the rest of the chain, tags, classes and other attributes), so
every character is still scanned, once.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from breachdesk.sources.base import Framing, IdentityKeys, TimeKey
from breachdesk.sources.registry import register_reader
from breachdesk.sources.times import TimeUnit

POSTHOG_KEYS = IdentityKeys(
    user_ids=("distinct_id",),
    emails=("person_properties.email", "properties.$set.email", "properties.email"),
    device_ids=("properties.$device_id", "person_id"),
    org_keys=("properties.$groups.*",),
    countries=("properties.$geoip_country_code",),
    time=TimeKey("timestamp", TimeUnit.ISO),
    namespace="posthog",
    device_when_equal=True,  # an anonymous distinct_id is the $device_id
)
FIELD_CATEGORIES = {
    "uuid": "system.operations",
    "team_id": "system.operations",
    "person_id": "user.device.cookie_id",
    "_inserted_at": "system.operations",
    "elements_chain.text": "user.content",
    "elements_chain.href": "user.behavior.browsing_history",
    "elements_chain.elements": "user.behavior.browsing_history",
}
# ``text="…"``, ``href="…"`` and ``attr__href="…"`` attributes of a chain; values escape ``"``
_ATTRIBUTE = re.compile(r'(?<![\w-])(text|href|attr__href)="((?:[^"\\]|\\.)*)"')


def parse_elements_chain(chain: str) -> dict[str, Any]:
    """The texts and links of an elements chain, and the chain without them."""
    texts: list[str] = []
    links: list[str] = []
    for match in _ATTRIBUTE.finditer(chain):
        value = match.group(2).replace('\\"', '"')
        found = texts if match.group(1) == "text" else links
        if value and value not in found:
            found.append(value)
    rest = _ATTRIBUTE.sub("", chain)
    parsed: dict[str, Any] = {}
    if texts:
        parsed["text"] = texts
    if links:
        parsed["href"] = links
    if rest.strip(" ;"):
        parsed["elements"] = rest
    return parsed


@dataclass(frozen=True)
class PostHogReader:
    name: str = "posthog.events"
    framing: Framing = Framing.LINES
    keys: IdentityKeys = field(default=POSTHOG_KEYS)
    field_categories: dict[str, str] = field(default_factory=lambda: dict(FIELD_CATEGORIES))

    def sniff(self, head: list[Any]) -> bool:
        return any(
            isinstance(obj, dict) and "uuid" in obj and "event" in obj and "distinct_id" in obj
            for obj in head
        )

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict) or "event" not in obj or "distinct_id" not in obj:
            return None
        for key in ("properties", "person_properties"):
            value = obj.get(key)
            if value.__class__ is str and value.startswith("{"):
                with contextlib.suppress(orjson.JSONDecodeError):  # else kept as text, scanned
                    obj[key] = orjson.loads(value)
        chain = obj.get("elements_chain")
        if chain.__class__ is str:
            obj["elements_chain"] = parse_elements_chain(chain) if chain else ""
        return obj


register_reader(PostHogReader())
