"""Segment: one message per line (``track``, ``identify``, ``page``, ``screen``, ``group``,
``alias``), as the S3 destination archives them (``segment-logs/<source>/<day>/*.gz``, each
file gzipped JSON Lines) or as any export of raw messages writes them.

A message is its record as it is: ``context.*``, ``traits``, ``properties`` are nested objects
and their fields are named by their dotted paths (``context.page.url``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from breachdesk.sources.base import Framing, IdentityKeys, TimeKey
from breachdesk.sources.registry import register_reader
from breachdesk.sources.times import TimeUnit

SEGMENT_KEYS = IdentityKeys(
    user_ids=("userId", "previousId"),
    emails=("traits.email", "context.traits.email", "properties.email"),
    device_ids=("anonymousId", "context.device.id"),
    org_keys=("groupId", "context.groupId", "traits.company.id", "context.traits.company.id"),
    countries=("context.location.country",),
    time=TimeKey("timestamp", TimeUnit.ISO),
    namespace="segment",
)
MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})
# A page or screen message's ``name`` is the page's name, not a person's.
FIELD_CATEGORIES = {
    "name": "user.behavior.browsing_history",
    "type": "system.operations",
    "channel": "system.operations",
    "writeKey": "system.operations",
    # a page message's properties describe the page (Segment's spec: path, referrer, search,
    # title, url)
    "properties.title": "user.behavior.browsing_history",
    "properties.search": "user.behavior.browsing_history",
    "context.screen.density": "user.device.user_agent",
    "context.device.advertisingId": "user.device.cookie_id",
    "context.device.token": "user.device.cookie_id",
}


@dataclass(frozen=True)
class SegmentReader:
    name: str = "segment.messages"
    framing: Framing = Framing.LINES
    keys: IdentityKeys = field(default=SEGMENT_KEYS)
    field_categories: dict[str, str] = field(default_factory=lambda: dict(FIELD_CATEGORIES))

    def sniff(self, head: list[Any]) -> bool:
        return any(
            isinstance(obj, dict) and obj.get("type") in MESSAGE_TYPES and "messageId" in obj
            for obj in head
        )

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict) or obj.get("type").__class__ is not str:
            return None
        return obj


register_reader(SegmentReader())
