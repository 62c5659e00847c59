"""The demo's Amplitude export: the Export API's zip, one gzipped JSON Lines file per hour
(``<project>/<project>_<date>_<hour>#0.json.gz``), events as the Export API documents them:
``amplitude_id`` per person, ``device_id`` per device, GeoIP places as English names, the
Browser SDK's ``[Amplitude] Page …`` properties, ``groups``."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
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
    "$insert_id": OPS, "uuid": OPS, "event_id": OPS, "event_type": OPS, "event_time": OPS,
    "client_event_time": OPS, "server_upload_time": OPS, "processed_time": OPS, "app": OPS,
    "user_id": "user.unique_id", "device_id": DEV, "amplitude_id": DEV, "session_id": DEV,
    "platform": AGENT, "os_name": AGENT, "os_version": AGENT, "device_family": AGENT,
    "device_type": AGENT,
    "language": AGENT, "library": OPS, "ip_address": "user.device.ip_address", "country": GEO,
    "region": GEO, "city": GEO, "dma": GEO,
    "user_properties.email": "user.contact.email", "user_properties.plan": "",
    "user_properties.initial_referrer": WEB,
    "event_properties.[Amplitude] Page URL": WEB, "event_properties.[Amplitude] Page Path": WEB,
    "event_properties.[Amplitude] Page Title": WEB, "event_properties.[Amplitude] Page Domain": WEB,
    "event_properties.[Amplitude] Page Location": WEB,
    "event_properties.search_query": "user.content",
    "groups.company": "user.account.organization_id",
    "groups.company[]": "user.account.organization_id",
}  # fmt: skip
PROJECT = "187520"


class AmplitudeWriter(VendorWriter):
    vendor = "amplitude"
    namespace = "amplitude"
    FIELDS = FIELDS

    def amplitude_id(self, user: Any) -> int:
        return 500_000_000_000 + int(user.user_id)

    def event(self, event: Event) -> dict[str, Any]:
        rng = self.rng
        user = event.user
        when = datetime.fromtimestamp(event.seconds, UTC)
        stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f")
        page = self.page(user)
        location = SITE + page + "?ref=nav"
        if event.plant == "reset":
            location = f"{SITE}/reset-password?reset_token={self.secret()}"
        record: dict[str, Any] = {
            "$insert_id": self.new_id(),
            "uuid": self.new_id(),
            "event_id": event.index % 997,
            "event_type": "[Amplitude] Page Viewed",
            "event_time": stamp,
            "client_event_time": stamp,
            "server_upload_time": stamp,
            "processed_time": stamp,
            "app": int(PROJECT),
            "user_id": None,
            "platform": "Web",
            "os_name": "Chrome",
            "os_version": "124",
            "device_family": "Mac",
            "device_type": "Mac",
            "language": "English",
            "library": "amplitude-ts/2.7.4",
            "ip_address": f"203.0.113.{rng.randrange(1, 255)}",
            "session_id": event.seconds * 1000,
            "event_properties": {
                "[Amplitude] Page URL": location.split("?", 1)[0],
                "[Amplitude] Page Location": location,
                "[Amplitude] Page Path": page,
                "[Amplitude] Page Title": "Dev Platform",
                "[Amplitude] Page Domain": "app.devplatform.example",
            },
            "user_properties": {},
            "groups": {},
            "group_properties": {},
            "data": {},
            "paying": None,
            "idfa": None,
        }
        orgs: list[Any] = []
        identities: list[tuple[str, str]] = []
        unmapped = False
        if event.kind == "anonymous":
            record["device_id"] = self.new_id()
            record["amplitude_id"] = 400_000_000_000 + event.index
            country = UNKNOWN_COUNTRY if event.index % 5 == 0 else "Canada"
            unmapped = country == UNKNOWN_COUNTRY
            record.update({"country": country, "city": "", "region": ""})
        elif event.kind == "ghost":
            record["device_id"] = self.new_id()
            record["amplitude_id"] = 300_000_000_000 + event.index
            if "@" in event.ghost:
                record["user_properties"] = {"email": event.ghost}
            else:
                record["user_id"] = event.ghost
            identities = self.ghost_identities(event.ghost)
        else:
            assert user is not None
            city, region = self.place_of(user)
            record.update(
                {
                    "device_id": self.device_of(user),
                    "amplitude_id": self.amplitude_id(user),
                    "country": COUNTRY_NAMES[user.country],
                    "region": region,
                    "city": city,
                    "dma": "San Francisco-Oakland-San Jose, CA" if user.country == "US" else "",
                }
            )
            if event.plant == "api_key":
                key = f"sk-proj-{self.secret()[:20]}T3BlbkFJ{self.secret()[:20]}"
                record["event_properties"]["search_query"] = f"curl -H 'Authorization: {key}'"
            if event.kind == "user":
                record["user_id"] = user.user_id
                record["user_properties"] = {"email": user.email, "plan": "pro",
                                             "initial_referrer": rng.choice(REFERRERS)}  # fmt: skip
                if len(user.orgs) > 1 and event.index % 4 == 0:
                    record["groups"] = {"company": list(user.orgs)}
                elif user.orgs:
                    record["groups"] = {"company": user.orgs[0]}
                company = record["groups"].get("company", [])
                orgs = company if isinstance(company, list) else [company]
        devices = {record["device_id"], str(record["amplitude_id"])}
        self.tell(event, record, orgs, devices, identities, unmapped)
        return record

    def write(self, folder: Path, events: Iterator[Event]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        archive_name = f"amplitude-export-{PROJECT}.zip"
        with zipfile.ZipFile(folder / archive_name, "w", zipfile.ZIP_STORED) as archive:
            for k, run in self.lines(events, self.files_per_export, self.n_events):
                member = f"{PROJECT}/{PROJECT}_2024-05-01_{12 + k}#0.json.gz"
                info = zipfile.ZipInfo(member, date_time=(2024, 5, 1, 14 + k, 0, 0))
                with archive.open(info, "w") as raw, gzip_file(raw) as gz:
                    for line, event, data in run:
                        if event.plant:
                            self.planted(event, f"{archive_name}!{member}", line)
                        gz.write(data)
