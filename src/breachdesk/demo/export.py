"""The demo's Mixpanel export and its ground truth.

Files: an event export (gzip JSON Lines), a people export (JSON Lines with a BOM and CRLF
line ends), paged people API responses (pretty-printed, zipped), a UI CSV export with display
names, and a README the desk must skip. The bulk of events comes from per-user templates so
ten million rows stay fast. Quirks: malformed lines, a too-large line, a value whose type
changes late, a key first seen on the last line, emails used as ids, SHA-256 and MD5 ids,
integer ids, decomposed Unicode emails, upper-case emails, anonymous device-only events,
identities the directory does not know, and planted secrets in URLs. Stitching: events
before sign-in (``distinct_id`` ``$device:<id>``) on a device the person's own events carry,
devices two family members share, and anonymous devices nobody signs in on.

The ground truth is computed from what the generator wrote, with its own field-to-category
table, never by running breachdesk.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import string
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from breachdesk.demo.people import CITIES, DemoOrg, DemoUser
from breachdesk.demo.truth import Truth, is_empty

FIELD_CATEGORY = {
    "event": "system.operations", "time": "system.operations", "$insert_id": "system.operations",
    "mp_lib": "system.operations", "$lib_version": "system.operations",
    "mp_processing_time_ms": "system.operations", "$last_seen": "system.operations",
    "$created": "system.operations",
    "distinct_id": "user.unique_id", "$distinct_id": "user.unique_id", "$user_id": "user.unique_id",
    "$email": "user.contact.email", "$name": "user.name",
    "$city": "user.location.imprecise", "$region": "user.location.imprecise",
    "mp_country_code": "user.location.imprecise", "$country_code": "user.location.imprecise",
    "$timezone": "user.location.imprecise",
    "$os": "user.device.user_agent", "$browser": "user.device.user_agent",
    "$browser_version": "user.device.user_agent", "$screen_width": "user.device.user_agent",
    "$device_id": "user.device.cookie_id",
    "$current_url": "user.behavior.browsing_history", "$referrer": "user.behavior.browsing_history",
    "$initial_referrer": "user.behavior.browsing_history",
    "$initial_referring_domain": "user.behavior.browsing_history",
    "org_id": "user.account.organization_id",
    "search_query": "user.content",
}  # fmt: skip
CREDENTIALS = "user.authorization.credentials"
EMAIL = "user.contact.email"
OSES = [("Mac OS X", "Chrome"), ("Windows", "Chrome"), ("Windows", "Edge"), ("Linux", "Firefox"),
        ("iOS", "Mobile Safari"), ("Android", "Chrome")]  # fmt: skip
PAGES = ["/dashboard", "/settings/profile", "/orgs/{org}/members", "/docs/api", "/billing",
         "/projects/new", "/settings/tokens", "/pricing"]  # fmt: skip
REFERRERS = ["https://www.google.com/", "https://github.com/", "$direct",
             "https://news.ycombinator.com/", "https://duckduckgo.com/"]  # fmt: skip
EVENTS = ["Page View", "Sign In", "Project Created", "API Key Viewed", "Invite Sent", "Search"]
SITE = "https://app.devplatform.example"


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


class ExportWriter:
    def __init__(self, rng: random.Random, users: list[DemoUser], orgs: list[DemoOrg]) -> None:
        self.rng = rng
        self.users = users
        self.orgs = orgs
        self.truth = Truth()
        self.templates: dict[str, dict[str, Any]] = {}

    def record(
        self,
        user: DemoUser | None,
        bag: dict[str, Any],
        identities: list[tuple[str, str]],
        extra: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        """Tell the truth about one record written."""
        categories = {FIELD_CATEGORY[k] for k, v in bag.items()
                      if k in FIELD_CATEGORY and not is_empty(v)}  # fmt: skip
        orgs: list[Any] = []
        for key in ("org_id", "company_id"):
            value = bag.get(key)
            orgs.extend(value if isinstance(value, list) else [value])
        devices = {f"mixpanel:{bag['$device_id']}"} if bag.get("$device_id") else set()
        distinct = bag.get("distinct_id")
        if isinstance(distinct, str) and distinct.startswith("$device:"):
            devices.add(f"mixpanel:{distinct[8:]}")
        self.truth.record(
            user.user_id if user else None, categories | extra, orgs, identities, devices
        )

    def device_of(self, user: DemoUser) -> str:
        """The device a person's events carry; two members of a family (ids 74k+1 and
        74k+38) share one."""
        n = int(user.user_id)
        if n % 37 == 1:
            return f"family-{n // 74:05d}"
        return self.template(user)["$device_id"]  # type: ignore[no-any-return]

    # -- identities -------------------------------------------------------------------
    def export_email(self, user: DemoUser) -> str:
        """The email as the vendor holds it: sometimes upper-case, spaced or decomposed."""
        n = int(user.user_id)
        if "é" in user.email:
            return _nfd(user.email)
        if n % 13 == 0:
            return user.email.upper()
        if n % 17 == 0:
            return f" {user.email} "
        return user.email

    def template(self, user: DemoUser) -> dict[str, Any]:
        found = self.templates.get(user.user_id)
        if found is None:
            rng = self.rng
            city, region = rng.choice(CITIES[user.country])
            os_name, browser = rng.choice(OSES)
            found = {
                "$city": city, "$region": region, "mp_country_code": user.country,
                "$os": os_name, "$browser": browser,
                "$browser_version": rng.choice([118, 119, 120, 121]),
                "$screen_width": rng.choice([1280, 1440, 1920, 390]),
                "$device_id": f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}",
                "$initial_referrer": rng.choice(REFERRERS),
            }  # fmt: skip
            self.templates[user.user_id] = found
        return found

    def distinct_id(self, user: DemoUser) -> str | int:
        n = int(user.user_id)
        if n % 11 == 0:
            return self.export_email(user).strip()  # an email used as the id
        if n % 23 == 0:
            return hashlib.sha256(user.email.encode()).hexdigest()
        if n % 29 == 0:
            return hashlib.md5(user.email.encode(), usedforsecurity=False).hexdigest()
        return user.user_id

    def identities(self, value: str | int, email: str | None = None) -> list[tuple[str, str]]:
        """The normalised identities an unmatched record carries (for the truth)."""
        found = []
        text = str(value).strip()
        if "@" in text:
            found.append(("email", unicodedata.normalize("NFC", text).casefold()))
        elif len(text) in (32, 64) and all(c in string.hexdigits for c in text):
            found.append(("hashed_email", text))
        else:
            found.append(("user_id", text))
        if email:
            found.append(("email", unicodedata.normalize("NFC", email.strip()).casefold()))
        return found

    # -- events ------------------------------------------------------------------------
    def write_events(self, path: Path, exported: list[DemoUser], n_events: int,
                     ghosts: list[str], progress: Callable[[int], None],
                     compress: bool = True) -> None:  # fmt: skip
        rng = self.rng
        t0 = 1_760_000_000
        weights = [1.0 / (1 + (i % 50)) for i in range(len(exported))]
        chosen = rng.choices(range(len(exported)), weights, k=n_events)
        plants = {int(n_events * f): kind for f, kind in
                  [(0.11, "reset"), (0.23, "jwt"), (0.37, "userinfo"), (0.52, "openai"),
                   (0.61, "email_url"), (0.74, "oauth")]}  # fmt: skip
        bad = {int(n_events * f): kind for f, kind in
               [(0.05, "truncated"), (0.15, "array"), (0.25, "utf8"), (0.45, "truncated"),
                (0.55, "string"), (0.65, "utf8"), (0.85, "truncated"),
                (0.9, "too_large")]}  # fmt: skip
        line = 0
        opened = gzip.open(path, "wb", compresslevel=1) if compress else path.open("wb")
        with opened as gz:
            buf = io.BytesIO()
            for i in range(n_events):
                line += 1
                if i in bad:
                    buf.write(self._bad_line(bad[i]))
                    self.truth.rejected += 1
                    line += 0
                    continue
                ms = i > n_events * 0.9
                stamp = t0 + i * 3
                roll = rng.random() if i not in plants else 1.0  # secrets go in user events
                if roll < 0.04:
                    device = f"$device:{rng.getrandbits(64):016x}"
                    props: dict[str, Any] = {
                        "time": stamp, "distinct_id": device, "$device_id": device[8:],
                        "$insert_id": f"{rng.getrandbits(64):016x}",
                        "$current_url": SITE + "/pricing",
                        "mp_lib": "web", "$os": "Windows",
                    }  # fmt: skip
                    self.record(None, props, [])
                elif roll < 0.06 and ghosts:
                    ghost = ghosts[rng.randrange(len(ghosts))]
                    props = {"time": stamp, "distinct_id": ghost, "$insert_id": f"{i:012x}",
                             "$current_url": SITE + "/dashboard", "mp_lib": "web"}  # fmt: skip
                    self.record(None, props, self.identities(ghost))
                elif roll < 0.09:
                    # before sign-in: the person's own device, its id as the distinct_id
                    device = self.device_of(exported[chosen[i]])
                    props = {"time": stamp, "distinct_id": f"$device:{device}",
                             "$device_id": device, "$insert_id": f"{rng.getrandbits(48):012x}",
                             "$current_url": SITE + "/login", "$referrer": rng.choice(REFERRERS),
                             "mp_lib": "web"}  # fmt: skip
                    self.record(None, props, [])
                else:
                    user = exported[chosen[i]]
                    props = dict(self.template(user))
                    props["$device_id"] = self.device_of(user)
                    org = user.orgs[0] if user.orgs else ""
                    page = rng.choice(PAGES).replace("{org}", org or "none")
                    props.update(
                        {
                            "time": stamp * 1000 if ms else stamp,
                            "distinct_id": self.distinct_id(user),
                            "$insert_id": f"{rng.getrandbits(48):012x}",
                            "$current_url": SITE + page,
                            "$referrer": rng.choice(REFERRERS),
                            "mp_lib": "web",
                            "mp_processing_time_ms": (stamp + 2) * 1000,
                        }
                    )
                    if len(user.orgs) > 1 and i % 5 == 0:
                        props["org_id"] = list(user.orgs)
                    elif org:
                        props["org_id"] = org
                    if i % 997 == 3:
                        # an organization page viewed by a non-member: that org is affected too
                        props["company_id"] = self.orgs[
                            (int(user.user_id) * 31) % len(self.orgs)
                        ].org_id
                    if i > n_events * 0.95:
                        props["plan_seats"] = "twenty"  # type changes late: number, then text
                    elif i % 10 == 0:
                        props["plan_seats"] = 20
                    extra: set[str] = set()
                    if i in plants:
                        extra = self._plant(props, plants[i], path.name, line)
                    if i == n_events - 1:
                        props["$late_property"] = "first seen on the last line"
                    self.record(user, props, [], extra)
                event = {"event": rng.choice(EVENTS), "properties": props}
                buf.write(orjson.dumps(event))
                buf.write(b"\n")
                if buf.tell() > 1 << 20:
                    gz.write(buf.getvalue())
                    buf = io.BytesIO()
                    progress(i)
            gz.write(buf.getvalue())

    def _bad_line(self, kind: str) -> bytes:
        if kind == "truncated":
            return b'{"event": "Page View", "properties": {"distinct_id": "10\n'
        if kind == "array":
            return b"[1, 2, 3]\n"
        if kind == "string":
            return b'"just a string"\n'
        if kind == "utf8":
            return b'{"event": "Sign In", "properties": {"distinct_id": "\xff\xfe"}}\n'
        return b'{"event": "Big", "properties": {"blob": "' + b"x" * (1 << 20) + b'"}}\n'

    def _plant(self, props: dict[str, Any], kind: str, source: str, line: int) -> set[str]:
        rng = self.rng
        token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
        planted = {"kind": "credential", "source": source, "line": line, "plant": kind}
        if kind == "reset":
            props["$current_url"] = f"{SITE}/reset-password?reset_token={token}"
        elif kind == "jwt":
            header = _b64({"alg": "HS256", "typ": "JWT"})
            payload = _b64({"sub": "u", "iss": "auth.devplatform.example", "exp": 1_760_086_400})
            props["$referrer"] = f"{SITE}/auth/callback#id_token={header}.{payload}.{token[:32]}"
        elif kind == "userinfo":
            props["$referrer"] = f"https://deploy:{token[:18]}@git.devplatform.example/repo.git"
        elif kind == "openai":
            key = f"sk-proj-{token[:20]}T3BlbkFJ{token[20:]}"
            props["search_query"] = f"why does {key} return 401"
            planted["kind"] = "api_key"
        elif kind == "email_url":
            props["$current_url"] = f"{SITE}/invite/accept?email=someone%40example.org"
            planted["kind"] = "email_in_url"
            self.truth.planted.append(planted)
            return {EMAIL}
        elif kind == "oauth":
            props["$current_url"] = f"{SITE}/oauth/callback?code={token[:24]}&state=xyz"
        self.truth.planted.append(planted)
        return {CREDENTIALS}

    # -- people ------------------------------------------------------------------------
    def profile(self, user: DemoUser) -> dict[str, Any]:
        t = self.template(user)
        return {
            "$email": self.export_email(user),
            "$name": user.name,
            "$city": t["$city"],
            "$region": t["$region"],
            "$country_code": user.country,
            "$os": t["$os"],
            "$browser": t["$browser"],
            "$initial_referrer": t["$initial_referrer"],
            "$last_seen": "2026-10-30T11:02:33",
            "$created": "2024-03-14T08:00:00",
            "org_id": user.orgs[0] if user.orgs else "",
        }

    def write_people_jsonl(self, path: Path, people: list[DemoUser], ghosts: list[str]) -> None:
        lines = []
        for user in people:
            n = int(user.user_id)
            distinct: str | int = n if n % 2 else user.user_id  # integer ids too
            props = self.profile(user)
            self.record(user, {"$distinct_id": distinct, **props}, [])
            lines.append(orjson.dumps({"$distinct_id": distinct, "$properties": props}))
        for ghost in ghosts[: len(ghosts) // 2]:
            email = f"former.{ghost}@gone.example"
            props = {"$email": email, "$name": "Former User", "$city": "Paris"}
            self.record(None, props, self.identities(ghost, email))
            lines.append(orjson.dumps({"$distinct_id": ghost, "$properties": props}))
        lines.append(b"")
        lines.append(b'{"$distinct_id": "broken", "$properties": {')  # truncated
        self.truth.rejected += 1
        path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n")

    def write_people_pages(self, path: Path, people: list[DemoUser], page_size: int = 1000) -> None:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for page, start in enumerate(range(0, max(len(people), 1), page_size)):
                results = []
                for user in people[start : start + page_size]:
                    props = self.profile(user)
                    self.record(user, {"$distinct_id": user.user_id, **props}, [])
                    results.append({"$distinct_id": user.user_id, "$properties": props})
                doc = {"page": page, "page_size": page_size, "session_id": "demo",
                       "status": "ok", "total": len(people), "results": results}  # fmt: skip
                archive.writestr(
                    f"people/page-{page:04d}.json", json.dumps(doc, indent=2, ensure_ascii=False)
                )

    def write_people_csv(self, path: Path, people: list[DemoUser]) -> None:
        header = ["Distinct ID", "Email", "Name", "City", "Region", "Country Code",
                  "Operating System", "Browser", "Last Seen"]  # fmt: skip
        out = io.StringIO()
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for user in people:
            p = self.profile(user)
            row = [user.user_id, p["$email"], p["$name"], p["$city"], p["$region"],
                   p["$country_code"], p["$os"], p["$browser"], p["$last_seen"]]  # fmt: skip
            bag = {"$distinct_id": user.user_id, "$email": p["$email"], "$name": p["$name"],
                   "$city": p["$city"], "$region": p["$region"],
                   "$country_code": p["$country_code"], "$os": p["$os"],
                   "$browser": p["$browser"], "$last_seen": p["$last_seen"]}  # fmt: skip
            self.record(user, bag, [])
            writer.writerow(row)
        out.write("100000,only-three,fields\n")  # wrong field count
        self.truth.rejected += 1
        path.write_text(out.getvalue(), encoding="utf-8")


def _b64(obj: dict[str, Any]) -> str:
    import base64

    return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()
