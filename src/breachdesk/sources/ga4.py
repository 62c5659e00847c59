"""Google Analytics 4: the BigQuery event export as newline-delimited JSON (one ``events_``
table row per line, as ``bq extract --destination_format NEWLINE_DELIMITED_JSON`` writes it).

``event_params`` and ``user_properties`` are key/value arrays with typed values
(``{"key": "page_location", "value": {"string_value": "https://…"}}``); the reader declares
them and they are presented as plain fields (``event_params.page_location``). INT64 columns
arrive as decimal strings (``"event_timestamp": "1714560000123456"``, microseconds).
``geo.country`` is an English name (``"United States"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from breachdesk.sources.base import Framing, IdentityKeys, TimeKey
from breachdesk.sources.registry import register_reader
from breachdesk.sources.times import TimeUnit

GA4_KEYS = IdentityKeys(
    user_ids=("user_id",),
    device_ids=("user_pseudo_id",),
    org_keys=tuple(
        f"event_params.{k}" for k in ("org_id", "organization_id", "company_id", "group_id")
    ),
    countries=("geo.country",),
    time=TimeKey("event_timestamp", TimeUnit.MICROS),
    namespace="ga4",
)
FIELD_CATEGORIES = {
    "user_pseudo_id": "user.device.cookie_id",
    "stream_id": "system.operations",
    "event_date": "system.operations",
    "event_bundle_sequence_id": "system.operations",
    "event_server_timestamp_offset": "system.operations",
    "event_params.ga_session_id": "user.device.cookie_id",
    "event_params.ga_session_number": "system.operations",
    "event_params.engagement_time_msec": "system.operations",
    "event_params.page_location": "user.behavior.browsing_history",
    "event_params.page_referrer": "user.behavior.browsing_history",
    "event_params.page_title": "user.behavior.browsing_history",
    "traffic_source.name": "user.behavior.browsing_history",
    "traffic_source.source": "user.behavior.browsing_history",
    "traffic_source.medium": "user.behavior.browsing_history",
    "app_info.id": "system.operations",
    "app_info.version": "system.operations",
}


@dataclass(frozen=True)
class Ga4Reader:
    name: str = "ga4.events"
    framing: Framing = Framing.LINES
    keys: IdentityKeys = field(default=GA4_KEYS)
    kv_arrays: tuple[str, ...] = ("event_params", "user_properties")
    field_categories: dict[str, str] = field(default_factory=lambda: dict(FIELD_CATEGORIES))

    def sniff(self, head: list[Any]) -> bool:
        return any(
            isinstance(obj, dict)
            and "event_name" in obj
            and ("event_params" in obj or "user_pseudo_id" in obj)
            for obj in head
        )

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict) or "event_name" not in obj:
            return None
        return obj


register_reader(Ga4Reader())
