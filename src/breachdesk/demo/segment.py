"""The demo's Segment export: the S3 destination's archive, ``segment-logs/<source>/<day>/
<file>.gz``, each file gzipped JSON Lines of messages (``identify``, ``track``, ``page``,
``group``, ``alias``), shaped as Segment's spec writes them (``context.*``, ``traits``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from breachdesk.demo.vendor import (
    AGENT,
    AGENTS,
    COUNTRY_NAMES,
    DEV,
    GEO,
    MAIL,
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
    "type": OPS, "event": OPS, "messageId": OPS, "timestamp": OPS, "receivedAt": OPS, "sentAt": OPS,
    "originalTimestamp": OPS, "userId": "user.unique_id", "previousId": "user.unique_id",
    "anonymousId": DEV, "groupId": "user.account.organization_id", "name": WEB,
    "properties.url": WEB, "properties.path": WEB, "properties.referrer": WEB,
    "properties.email": MAIL,
    "properties.plan": "", "properties.seats": "",
    "context.ip": "user.device.ip_address", "context.userAgent": AGENT, "context.locale": GEO,
    "context.library.name": OPS, "context.library.version": OPS,
    "context.page.url": WEB, "context.page.path": WEB, "context.page.referrer": WEB,
    "context.page.title": WEB, "context.location.country": GEO, "context.location.city": GEO,
    "context.groupId": "user.account.organization_id", "context.traits.email": MAIL,
    "context.device.id": DEV, "context.device.type": AGENT, "context.device.model": AGENT,
    "context.os.name": AGENT, "context.os.version": AGENT,
    "context.app.name": OPS, "context.app.version": OPS,
    "traits.email": MAIL, "traits.name": "user.name", "traits.plan": "", "traits.employees": "",
    "traits.company.id": "user.account.organization_id",
    "traits.company.name": "user.account.organization_id", "traits.createdAt": OPS,
}  # fmt: skip
SOURCE = "yc0Qs8Yz3pAbC"


class SegmentWriter(VendorWriter):
    vendor = "segment"
    namespace = "segment"
    FIELDS = FIELDS

    def event(self, event: Event) -> dict[str, Any]:
        rng = self.rng
        user = event.user
        stamp = self.iso(event.seconds)
        page = self.page(user)
        url = SITE + page
        if event.plant == "reset":
            url = f"{SITE}/reset-password?reset_token={self.secret()}"
        message: dict[str, Any] = {
            "messageId": f"ajs-next-{self.new_id()}",
            "timestamp": stamp,
            "receivedAt": self.iso(event.seconds + 1),
            "sentAt": stamp,
            "originalTimestamp": stamp,
        }
        context: dict[str, Any] = {
            "ip": f"198.51.100.{rng.randrange(1, 255)}",
            "userAgent": rng.choice(AGENTS),
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "next-1.64.0"},
            "page": {
                "url": url,
                "path": page,
                "referrer": rng.choice(REFERRERS),
                "title": "Dev Platform",
            },
        }
        message["context"] = context
        orgs: list[Any] = []
        devices: set[str] = set()
        identities: list[tuple[str, str]] = []
        unmapped = False
        if event.kind == "anonymous":
            device = self.new_id()
            message.update({"type": "screen", "name": "Pricing", "anonymousId": self.new_id()})
            context["device"] = {"id": device, "type": "ios", "model": "iPhone14,5"}
            context["os"] = {"name": "iOS", "version": "17.4.1"}
            context["app"] = {"name": "Dev Platform", "version": "4.2.0"}
            del context["page"]
            country = UNKNOWN_COUNTRY if event.index % 5 == 0 else "France"
            unmapped = country == UNKNOWN_COUNTRY
            context["location"] = {"country": country}
            devices = {message["anonymousId"], device}
        elif event.kind == "ghost":
            message.update({"type": "track", "event": "Signed In", "anonymousId": self.new_id()})
            if "@" in event.ghost:
                context["traits"] = {"email": event.ghost}
            else:
                message["userId"] = event.ghost
            identities = self.ghost_identities(event.ghost)
            devices = {message["anonymousId"]}
        else:
            assert user is not None
            device = self.device_of(user)
            city, _ = self.place_of(user)
            context["location"] = {"country": COUNTRY_NAMES[user.country], "city": city}
            message["anonymousId"] = device
            devices = {device}
            if event.kind == "before_sign_in":
                message.update({"type": "page", "name": "Sign in"})
                if event.plant == "api_key":
                    key = f"sk-proj-{self.secret()[:20]}T3BlbkFJ{self.secret()[:20]}"
                    message["properties"] = {"url": f"{SITE}/docs/api?key={key}"}
            else:
                orgs = self._signed_in(event, message, context, user)
        self.tell(event, message, orgs, devices, identities, unmapped)
        return message

    def _signed_in(
        self, event: Event, message: dict[str, Any], context: dict[str, Any], user: Any
    ) -> list[Any]:
        org = self.org_of(user)
        which = event.index % 10
        message["userId"] = user.user_id
        if which == 0:
            message["type"] = "identify"
            traits: dict[str, Any] = {"email": user.email, "name": user.name,
                                      "createdAt": "2024-03-14T08:00:00.000Z"}  # fmt: skip
            if org:
                traits["company"] = {"id": org, "name": f"Org {int(org[4:])}"}
            message["traits"] = traits
            return [org]
        if which == 1 and org:
            message.update({"type": "group", "groupId": org})
            message["traits"] = {"plan": "team", "employees": 40}
            return [org]
        if which == 2:
            message.update({"type": "alias", "previousId": message["anonymousId"]})
            return []
        if which in (3, 4):
            message.update({"type": "page", "name": "Dashboard"})
            page = context["page"]
            message["properties"] = {"url": page["url"], "path": page["path"],
                                     "referrer": page["referrer"]}  # fmt: skip
            return []
        message.update({"type": "track", "event": "Project Created"})
        message["properties"] = {"plan": "pro", "seats": 5}
        if which == 5:
            del message["userId"]  # identified by the email its traits carry
            context["traits"] = {"email": f" {user.email.upper()} "}
        if which == 6:
            message["properties"]["email"] = user.email
        if org:
            context["groupId"] = org
        return [org]

    def write(self, folder: Path, events: Iterator[Event]) -> None:
        for k, run in self.lines(events, self.files_per_export, self.n_events):
            day = (1714521600 + (k // 2) * 86400) * 1000
            where = folder / "segment-logs" / SOURCE / str(day)
            where.mkdir(parents=True, exist_ok=True)
            name = f"{day + 3_600_000 * (k % 2 + 1)}.{k:04d}f3c1b2a.gz"
            with gzip_file(where / name) as gz:
                for line, event, data in run:
                    if event.plant:
                        self.planted(event, name, line)
                    gz.write(data)
