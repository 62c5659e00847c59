"""Amplitude: the Export API's zip of gzipped hour files (``<project>/<project>_<date>_<hour>#<n>
.json.gz``, one event per line), one such file, or its lines decompressed.

The zip and the gzip inside it are opened by :mod:`breachdesk.sources.files`; each hour file
is one input. An event is its record as it is: ``user_properties``, ``event_properties`` and
``groups`` are nested objects (``event_properties.[Amplitude] Page URL``). ``country``,
``region`` and ``city`` are full English names from GeoIP (``"United States"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from breachdesk.sources.base import Framing, IdentityKeys, TimeKey
from breachdesk.sources.registry import register_reader
from breachdesk.sources.times import TimeUnit

AMPLITUDE_KEYS = IdentityKeys(
    user_ids=("user_id",),
    emails=("user_properties.email",),
    device_ids=("device_id", "amplitude_id"),
    org_keys=("groups.*",),
    countries=("country",),
    time=TimeKey("event_time", TimeUnit.ISO),
    namespace="amplitude",
)
FIELD_CATEGORIES = {
    "amplitude_id": "user.device.cookie_id",
    "app": "system.operations",
    "uuid": "system.operations",
    "event_id": "system.operations",
    "event_type": "system.operations",
    "amplitude_event_type": "system.operations",
    "amplitude_attribution_ids": "user.device.cookie_id",
    "library": "system.operations",
    "sample_rate": "system.operations",
    "$schema": "system.operations",
    "is_attribution_event": "system.operations",
    "language": "user.device.user_agent",
    "dma": "user.location.imprecise",
}


@dataclass(frozen=True)
class AmplitudeReader:
    name: str = "amplitude.events"
    framing: Framing = Framing.LINES
    keys: IdentityKeys = field(default=AMPLITUDE_KEYS)
    field_categories: dict[str, str] = field(default_factory=lambda: dict(FIELD_CATEGORIES))

    def sniff(self, head: list[Any]) -> bool:
        return any(
            isinstance(obj, dict)
            and "event_type" in obj
            and ("amplitude_id" in obj or "device_id" in obj)
            for obj in head
        )

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict) or "event_type" not in obj:
            return None
        return obj


register_reader(AmplitudeReader())
