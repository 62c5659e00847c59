"""The demo's PostHog export: the batch export's events model as gzipped JSON Lines (one file
per run interval), as PostHog documents it: ``uuid``, ``event``, ``distinct_id`` (a person's
id once identified, the device's id before), ``person_id``, ``properties`` with ``$device_id``,
``$ip``, ``$geoip_*`` and ``$groups``, ``person_properties``, and ``elements_chain`` on
``$autocapture`` events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from breachdesk.demo.vendor import (
    AGENT,
    AGENTS,
    DEV,
    GEO,
    OPS,
    REFERRERS,
    SITE,
    WEB,
    Event,
    VendorWriter,
    gzip_file,
)

FIELDS = {
    "uuid": OPS, "event": OPS, "distinct_id": "user.unique_id", "person_id": DEV, "timestamp": OPS,
    "created_at": OPS, "team_id": OPS,
    "properties.$current_url": WEB, "properties.$pathname": WEB, "properties.$host": WEB,
    "properties.$referrer": WEB, "properties.$referring_domain": WEB, "properties.$browser": AGENT,
    "properties.$os": AGENT, "properties.$device_type": AGENT, "properties.$raw_user_agent": AGENT,
    "properties.$device_id": DEV, "properties.$session_id": DEV, "properties.$lib": OPS,
    "properties.$lib_version": OPS, "properties.$ip": "user.device.ip_address",
    "properties.$geoip_country_code": GEO, "properties.$geoip_country_name": GEO,
    "properties.$geoip_city_name": GEO, "properties.$geoip_time_zone": GEO,
    "properties.$groups.company": "user.account.organization_id",
    "properties.$set.email": "user.contact.email", "properties.$set.name": "user.name",
    "properties.email": "user.contact.email", "properties.plan": "",
    "properties.$el_text": "user.content",
    "person_properties.email": "user.contact.email", "person_properties.name": "user.name",
    "elements_chain.text[]": "user.content", "elements_chain.href[]": WEB,
    "elements_chain.elements": WEB,
}  # fmt: skip
TEAM = 2


class PostHogWriter(VendorWriter):
    vendor = "posthog"
    namespace = "posthog"
    FIELDS = FIELDS

    def person_id(self, user: Any) -> str:
        n = int(user.user_id)
        return f"0190f3a1-{n >> 16:04x}-7000-8000-{n:012x}"

    def event(self, event: Event) -> dict[str, Any]:
        rng = self.rng
        user = event.user
        page = self.page(user)
        url = SITE + page
        if event.plant == "reset":
            url = f"{SITE}/reset-password?reset_token={self.secret()}"
        referrer = rng.choice(REFERRERS)
        stamp = self.iso(event.seconds, zone="Z")
        props: dict[str, Any] = {
            "$current_url": url, "$pathname": page, "$host": "app.devplatform.example",
            "$referrer": referrer, "$referring_domain": referrer.split("/")[2],
            "$browser": "Chrome", "$os": "Mac OS X", "$device_type": "Desktop",
            "$raw_user_agent": AGENTS[0], "$session_id": self.new_id(), "$lib": "web",
            "$lib_version": "1.130.2", "$ip": f"192.0.2.{rng.randrange(1, 255)}",
        }  # fmt: skip
        record: dict[str, Any] = {
            "uuid": self.new_id(), "event": "$pageview", "timestamp": stamp,
            "created_at": self.iso(event.seconds + 2), "team_id": TEAM, "properties": props,
            "person_properties": {}, "elements_chain": "",
        }  # fmt: skip
        orgs: list[Any] = []
        identities: list[tuple[str, str]] = []
        if event.kind == "anonymous":
            device = self.new_id()
            props.update({"$device_id": device, "$geoip_country_code": "DE"})
            record.update({"distinct_id": device, "person_id": self.new_id()})
            devices = {device, record["person_id"]}
        elif event.kind == "ghost":
            device = self.new_id()
            props["$device_id"] = device
            record.update({"distinct_id": event.ghost, "person_id": self.new_id()})
            identities = self.ghost_identities(event.ghost)
            devices = {device, record["person_id"]}
        else:
            assert user is not None
            device = self.device_of(user)
            city, _ = self.place_of(user)
            props.update(
                {
                    "$device_id": device,
                    "$geoip_country_code": user.country,
                    "$geoip_city_name": city,
                    "$geoip_time_zone": "Europe/Berlin",
                }
            )
            if event.kind == "before_sign_in":
                # an anonymous person of its own until the person signs in
                record.update({"distinct_id": device, "person_id": self.new_id()})
                if event.plant == "api_key":
                    key = f"sk-proj-{self.secret()[:20]}T3BlbkFJ{self.secret()[:20]}"
                    record["event"] = "$autocapture"
                    record["elements_chain"] = (
                        f'code.snippet:text="export OPENAI_API_KEY={key}"nth-child="2";'
                        'div.docs:attr__class="docs"nth-child="1"'
                    )
                devices = {device, record["person_id"]}
            else:
                record.update({"distinct_id": user.user_id, "person_id": self.person_id(user)})
                record["person_properties"] = {"email": user.email, "name": user.name}
                orgs = self._signed_in(event, record, props, user)
                devices = {device, record["person_id"]}
        self.tell(event, _as_read(record), orgs, devices, identities)
        return record

    def _signed_in(
        self, event: Event, record: dict[str, Any], props: dict[str, Any], user: Any
    ) -> list[Any]:
        which = event.index % 6
        if which == 0:
            record["event"] = "$identify"
            props["$set"] = {"email": user.email, "name": user.name}
        elif which == 1:
            record["event"] = "$autocapture"
            record["elements_chain"] = (
                'a.nav-link:href="/settings/profile"nth-child="2"nth-of-type="1"'
                'text="Signed in as ' + user.name + '";nav.top:attr__class="top"nth-child="1"'
            )
            props["$el_text"] = f"Signed in as {user.name}"
        elif which == 2:
            record["event"] = "project created"
            props.update({"plan": "pro", "email": user.email})
        org = self.org_of(user)
        if org:
            props["$groups"] = {"company": org}
        return [org]

    def write(self, folder: Path, events: Iterator[Event]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for k, run in self.lines(events, 2, self.n_events):
            name = f"posthog-events-2024-05-0{k + 1}T00:00:00-{k + 1:02d}.jsonl.gz"
            with gzip_file(folder / name) as gz:
                for line, event, data in run:
                    if event.plant:
                        self.planted(event, name, line)
                    gz.write(data)


def _as_read(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its elements chain as the fields it holds (the generator knows what
    it put in: the elements' texts, their links and the rest of the chain)."""
    chain = record["elements_chain"]
    if not chain:
        return record
    texts = [part.split('"', 1)[0] for part in chain.split('text="')[1:]]
    links = [part.split('"', 1)[0] for part in chain.split(':href="')[1:]]
    view = dict(record)
    view["elements_chain"] = {"text": texts, "href": links, "elements": "rest of the chain"}
    return view
