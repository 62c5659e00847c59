"""The demo's Google Analytics 4 export: BigQuery ``events_YYYYMMDD`` tables extracted as
newline-delimited JSON (one plain, one gzipped), rows as the BigQuery export schema documents
them: ``event_params`` and ``user_properties`` as key/value arrays with typed values, INT64s
as decimal strings, ``user_pseudo_id`` per browser, ``geo.*`` as English names."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from breachdesk.demo.vendor import (
    AGENT,
    COUNTRY_NAMES,
    DEV,
    GEO,
    OPS,
    REFERRERS,
    SITE,
    UNKNOWN_COUNTRY,
    WEB,
    Event,
    VendorWriter,
    gzip_file,
)

FIELDS = {
    "event_date": OPS, "event_timestamp": OPS, "event_name": OPS, "event_bundle_sequence_id": OPS,
    "event_server_timestamp_offset": OPS, "user_first_touch_timestamp": OPS, "stream_id": OPS,
    "platform": AGENT, "user_id": "user.unique_id", "user_pseudo_id": DEV, "is_active_user": "",
    "event_params.page_location": WEB, "event_params.page_title": WEB,
    "event_params.page_referrer": WEB, "event_params.ga_session_id": DEV,
    "event_params.ga_session_number": OPS, "event_params.engagement_time_msec": OPS,
    "event_params.org_id": "user.account.organization_id", "event_params.search_term":
    "user.content",
    "user_properties.plan": "", "user_properties.signup_year": "",
    "privacy_info.analytics_storage": OPS, "privacy_info.ads_storage": OPS,
    "device.category": AGENT, "device.mobile_brand_name": AGENT, "device.operating_system": AGENT,
    "device.operating_system_version": AGENT, "device.language": AGENT,
    "device.is_limited_ad_tracking": AGENT, "device.web_info.browser": AGENT,
    "device.web_info.browser_version": AGENT, "device.web_info.hostname": WEB,
    "geo.city": GEO, "geo.country": GEO, "geo.continent": GEO, "geo.region": GEO,
    "geo.sub_continent": GEO, "geo.metro": GEO,
    "traffic_source.name": WEB, "traffic_source.medium": WEB, "traffic_source.source": WEB,
}  # fmt: skip
CONTINENTS = {"US": ("Americas", "Northern America"), "CA": ("Americas", "Northern America"),
              "BR": ("Americas", "South America"), "JP": ("Asia", "Eastern Asia"),
              "AU": ("Oceania", "Australasia")}  # fmt: skip


def _param(key: str, value: Any) -> dict[str, Any]:
    typed: dict[str, Any] = {"string_value": None, "int_value": None, "float_value": None,
                             "double_value": None}  # fmt: skip
    if isinstance(value, int):
        typed["int_value"] = str(value)  # INT64 as a string, as BigQuery's JSON export has it
    else:
        typed["string_value"] = value
    return {"key": key, "value": typed}


class Ga4Writer(VendorWriter):
    vendor = "ga4"
    namespace = "ga4"
    FIELDS = FIELDS
    files_per_export = 2

    def pseudo_id(self, device: str) -> str:
        """GA4's client id of a browser: a random number and the first visit's time."""
        digits = int(hashlib.sha256(device.encode()).hexdigest()[:12], 16)
        return f"{digits % 2_000_000_000}.{1714500000 + digits % 10000}"

    def event(self, event: Event) -> dict[str, Any]:
        rng = self.rng
        user = event.user
        page = self.page(user)
        url = SITE + page
        if event.plant == "reset":
            url = f"{SITE}/reset-password?reset_token={self.secret()}"
        micros = event.seconds * 1_000_000 + event.index % 1000
        params = [
            _param("page_location", url),
            _param("page_title", "Dev Platform"),
            _param("page_referrer", rng.choice(REFERRERS)),
            _param("ga_session_id", event.seconds - event.index % 600),
            _param("ga_session_number", 1 + event.index % 7),
            _param("engagement_time_msec", 100 + event.index % 5000),
        ]
        props = [{"key": "plan", "value": {**_param("", "pro")["value"],
                                           "set_timestamp_micros": str(micros)}}]  # fmt: skip
        row: dict[str, Any] = {
            "event_date": "20240501", "event_timestamp": str(micros), "event_name": "page_view",
            "event_params": params, "event_previous_timestamp": None,
            "event_value_in_usd": None, "event_bundle_sequence_id": str(1000 + event.index),
            "event_server_timestamp_offset": str(rng.randrange(100, 900_000)),
            "user_id": None, "user_pseudo_id": None, "privacy_info": {
                "analytics_storage": "Yes", "ads_storage": "No", "uses_transient_token": None},
            "user_properties": props, "user_first_touch_timestamp": str(micros - 86_400_000_000),
            "user_ltv": None, "device": {
                "category": "desktop", "mobile_brand_name": "Apple",
                "operating_system": "Macintosh", "operating_system_version": "Macintosh 10.15",
                "language": "en-us", "is_limited_ad_tracking": "No",
                "web_info": {"browser": "Chrome", "browser_version": "124.0.6367.91",
                             "hostname": "app.devplatform.example"}},
            "geo": {}, "app_info": None, "traffic_source": {
                "name": "(organic)", "medium": "organic", "source": "google"},
            "stream_id": "4178329911", "platform": "WEB", "event_dimensions": None,
            "ecommerce": None, "items": [], "is_active_user": True,
        }  # fmt: skip
        orgs: list[Any] = []
        identities: list[tuple[str, str]] = []
        unmapped = False
        if event.kind == "anonymous":
            row["user_pseudo_id"] = self.pseudo_id(self.new_id())
            country = UNKNOWN_COUNTRY if event.index % 5 == 0 else "(not set)"
            unmapped = country == UNKNOWN_COUNTRY
            row["geo"] = {"country": country, "city": "(not set)", "metro": "(not set)"}
        elif event.kind == "ghost":
            row["user_pseudo_id"] = self.pseudo_id(self.new_id())
            row["user_id"] = event.ghost
            identities = self.ghost_identities(event.ghost)
        else:
            assert user is not None
            row["user_pseudo_id"] = self.pseudo_id(self.device_of(user))
            city, region = self.place_of(user)
            continent, sub = CONTINENTS.get(user.country, ("Europe", "Western Europe"))
            row["geo"] = {"city": city, "country": COUNTRY_NAMES[user.country],
                          "continent": continent, "region": region, "sub_continent": sub,
                          "metro": "(not set)"}  # fmt: skip
            if event.plant == "api_key":
                key = f"sk-proj-{self.secret()[:20]}T3BlbkFJ{self.secret()[:20]}"
                params.append(_param("search_term", f"invalid key {key}"))
            if event.kind == "user":
                row["user_id"] = user.user_id
                org = self.org_of(user)
                if org:
                    params.append(_param("org_id", org))
                    orgs = [org]
        self.tell(event, _as_read(row), orgs, {row["user_pseudo_id"]}, identities, unmapped)
        return row

    def write(self, folder: Path, events: Iterator[Event]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for k, run in self.lines(events, self.files_per_export, self.n_events):
            name = f"events_2024050{k + 1}.json" + (".gz" if k else "")
            if k:
                with gzip_file(folder / name) as gz:
                    for line, event, data in run:
                        if event.plant:
                            self.planted(event, name, line)
                        gz.write(data)
                continue
            with (folder / name).open("wb") as fh:
                for line, event, data in run:
                    if event.plant:
                        self.planted(event, name, line)
                    fh.write(data)


def _as_read(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its key/value arrays as plain fields (the generator knows each value)."""
    view = dict(row)
    for name in ("event_params", "user_properties"):
        view[name] = {
            p["key"]: next(
                (v for k, v in p["value"].items() if k != "set_timestamp_micros" and v is not None),
                None,
            )
            for p in row[name]
        }
    return view
