"""Mixpanel web events shaped like the real thing, for the benchmarks.

Every event carries what mixpanel-js sends from a browser: ``$current_url`` (a third with a
query string: utm parameters, ``tab=``, ``page=``), ``$referrer`` and ``$referring_domain``
(search engines, ``$direct``, other sites), ``$initial_referrer``, ``$device_id``,
``distinct_id`` of either shape (a user id once identified, ``$device:…`` before),
``$user_id``, ``$insert_id``, browser, OS, screen, city, region and country fields, library
and timing fields (about 600 bytes an event). One event in ``plant_every`` carries something to find (a planted value,
from the test suite's planted corpus when ``planted`` is given).

The people export written beside them is the usual ``{"$distinct_id", "$properties"}`` lines.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SITE = "https://app.devplatform.example"
PAGES = ["/", "/dashboard", "/settings/profile", "/settings/billing", "/docs/api",
         "/docs/guides/getting-started", "/projects", "/projects/new", "/pricing",
         "/orgs/{org}/members", "/projects/{n}/deployments", "/blog/{n}-release-notes",
         "/search", "/integrations/github", "/changelog"]  # fmt: skip
QUERIES = ["utm_source=newsletter&utm_medium=email&utm_campaign=spring_{n}",
           "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=deploy+preview",
           "tab=usage", "tab=members&page={n}", "page={n}", "q=build+cache&page={n}",
           "ref=producthunt", "sort=desc&filter=active", "view=grid&page={n}",
           "utm_source=twitter&utm_content=thread_{n}"]  # fmt: skip
REFERRERS = ["$direct", "$direct", "https://www.google.com/", "https://www.google.com/",
             "https://www.bing.com/", "https://duckduckgo.com/", "https://github.com/",
             "https://news.ycombinator.com/", "https://www.reddit.com/r/devops/comments/{n}/",
             "https://stackoverflow.com/questions/{n}/how-to-deploy",
             "https://t.co/Ab{n}", "https://www.linkedin.com/feed/"]  # fmt: skip
SEARCH = {"www.google.com": "google", "www.bing.com": "bing", "duckduckgo.com": "duckduckgo"}
EVENTS = ["$mp_web_page_view", "Page View", "Button Clicked", "Sign In", "Project Created",
          "Deploy Started", "Search", "$identify", "Invite Sent"]  # fmt: skip
BROWSERS = [("Chrome", [118, 119, 120, 121]), ("Safari", [16.6, 17.1]),
            ("Firefox", [119, 120]), ("Microsoft Edge", [119, 120]),
            ("Mobile Safari", [17.1])]  # fmt: skip
OSES = ["Mac OS X", "Windows", "Linux", "iOS", "Android", "Chrome OS"]
SCREENS = [(1920, 1080), (1440, 900), (2560, 1440), (390, 844), (1366, 768)]
PLACES = [("San Francisco", "California", "US"), ("New York", "New York", "US"),
          ("London", "England", "GB"), ("Berlin", "Berlin", "DE"), ("Paris", "Île-de-France", "FR"),
          ("São Paulo", "São Paulo", "BR"), ("Tokyo", "Tokyo", "JP"), ("Bucharest", "Bucharest", "RO"),
          ("Toronto", "Ontario", "CA"), ("Sydney", "New South Wales", "AU")]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Person:
    user_id: str
    email: str
    org: str


@dataclass(frozen=True, slots=True)
class Planted:
    """One planted value: the line it is on, its kind, and a decoy when ``kind`` is None."""

    line: int
    kind: str | None
    field: str
    shape: str


PlantFn = Callable[[random.Random, dict[str, Any]], tuple[str | None, str, str]]


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(n * 4):0{n}x}"


class WebEvents:
    """A stream of real-shaped events over a population of people."""

    def __init__(self, rng: random.Random, people: list[Person]) -> None:
        self.rng = rng
        self.people = people
        self.templates: dict[int, dict[str, Any]] = {}
        self.weights = [1.0 / (1 + (i % 50)) for i in range(len(people))]

    def _template(self, index: int) -> dict[str, Any]:
        found = self.templates.get(index)
        if found is None:
            rng = self.rng
            browser, versions = rng.choice(BROWSERS)
            width, _ = rng.choice(SCREENS)
            city, region, country = rng.choice(PLACES)
            first = rng.choice(REFERRERS).replace("{n}", str(rng.randrange(10**6)))
            found = {
                "$browser": browser, "$browser_version": rng.choice(versions),
                "$os": rng.choice(OSES), "$screen_width": width,
                "$city": city, "$region": region, "mp_country_code": country,
                "$initial_referrer": first,
                "$device_id": f"{_hex(rng, 14)}-{_hex(rng, 15)}-{_hex(rng, 8)}",
                "mp_lib": "web",
            }  # fmt: skip
            if len(self.templates) > 200_000:
                self.templates.clear()
            self.templates[index] = found
        return found

    def events(self, n: int, t0: int = 1_760_000_000) -> Iterator[dict[str, Any]]:
        rng = self.rng
        chosen = rng.choices(range(len(self.people)), self.weights, k=min(n, 1_000_000))
        for i in range(n):
            index = chosen[i % len(chosen)]
            person = self.people[index]
            props = dict(self._template(index))
            stamp = t0 + i // 4
            page = rng.choice(PAGES).replace("{org}", person.org or "none")
            page = page.replace("{n}", str(rng.randrange(1, 5000)))
            if rng.random() < 1 / 3:
                page += "?" + rng.choice(QUERIES).replace("{n}", str(rng.randrange(1, 99)))
            referrer = rng.choice(REFERRERS).replace("{n}", str(rng.randrange(10**7)))
            if rng.random() < 0.3:
                referrer = SITE + rng.choice(PAGES).replace("{org}", "o").replace("{n}", "7")
            anonymous = rng.random() < 0.2
            device = props["$device_id"]
            props.update(
                {
                    "time": stamp,
                    "distinct_id": f"$device:{device}" if anonymous else person.user_id,
                    "$current_url": SITE + page,
                    "$referrer": referrer,
                    "$referring_domain": "$direct"
                    if referrer == "$direct"
                    else referrer.split("/")[2],
                    "$insert_id": _hex(rng, 16),
                    "mp_processing_time_ms": stamp * 1000 + rng.randrange(1000, 3000),
                }
            )
            domain = props["$referring_domain"]
            if domain in SEARCH:
                props["$search_engine"] = SEARCH[domain]
            if not anonymous:
                props["$user_id"] = person.user_id
                if person.org and rng.random() < 0.5:
                    props["org_id"] = person.org
            yield {"event": rng.choice(EVENTS), "properties": props}


def people_population(rng: random.Random, n: int) -> list[Person]:
    """People with the ids and emails of the benchmark directory (ids 100000…)."""
    letters = string.ascii_lowercase
    return [
        Person(
            str(100000 + i),
            f"{''.join(rng.choice(letters) for _ in range(5))}.{i:06d}@example.com",
            f"org_{(i * 7919) % max(5, n // 25):05d}",
        )
        for i in range(n)
    ]


def write_events(
    path: Path,
    stream: Iterator[dict[str, Any]],
    plant: PlantFn | None = None,
    plant_every: int = 1000,
    rng: random.Random | None = None,
) -> list[Planted]:
    """Write the stream as JSON Lines; every ``plant_every``-th event gets ``plant`` applied."""
    planted: list[Planted] = []
    rng = rng or random.Random(0)
    with path.open("wb") as fh:
        chunk: list[bytes] = []
        for line, event in enumerate(stream, start=1):
            if plant is not None and line % plant_every == plant_every // 2:
                kind, fld, shape = plant(rng, event)
                planted.append(Planted(line, kind, fld, shape))
            chunk.append(orjson.dumps(event))
            if len(chunk) >= 10_000:
                fh.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            fh.write(b"\n".join(chunk) + b"\n")
    return planted
