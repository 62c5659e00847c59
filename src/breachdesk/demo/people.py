"""The demo company's directory: users in several locales, organizations of very uneven
size with owners and admins, MFA flags (some unknown), deactivated users."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from faker import Faker

LOCALES = [
    # (Faker locale, directory locale as written, country, weight)
    ("en_US", "en-US", "US", 30),
    ("en_GB", "en_GB", "GB", 8),
    ("de_DE", "de-DE", "DE", 12),
    ("ro_RO", "ro_RO", "RO", 6),
    ("ja_JP", "ja-JP", "JP", 8),
    ("pt_BR", "pt_BR", "BR", 10),
    ("fr_FR", "fr-FR", "FR", 8),
    ("es_ES", "es-ES", "ES", 6),
    ("en_CA", "en-CA", "CA", 6),
    ("en_AU", "en-AU", "AU", 6),
]
US_REGIONS = ["US-CA", "US-NY", "US-TX", "US-FL", "US-WA", "US-IL", "US-MA", "US-CO"]
CITIES = {
    "US": [("San Francisco", "California"), ("New York", "New York"), ("Austin", "Texas"),
           ("Miami", "Florida"), ("Seattle", "Washington")],
    "GB": [("London", "England"), ("Manchester", "England"), ("Edinburgh", "Scotland")],
    "DE": [("Berlin", "Berlin"), ("München", "Bavaria"), ("Hamburg", "Hamburg")],
    "RO": [("București", "Bucharest"), ("Cluj-Napoca", "Cluj"), ("Iași", "Iași")],
    "JP": [("東京", "Tokyo"), ("大阪", "Osaka"), ("Sapporo", "Hokkaido")],
    "BR": [("São Paulo", "São Paulo"), ("Rio de Janeiro", "Rio de Janeiro")],
    "FR": [("Paris", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes")],
    "ES": [("Madrid", "Madrid"), ("Barcelona", "Catalonia")],
    "CA": [("Toronto", "Ontario"), ("Vancouver", "British Columbia")],
    "AU": [("Sydney", "New South Wales"), ("Melbourne", "Victoria")],
}  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "devs.example"]


@dataclass
class DemoUser:
    user_id: str
    email: str  # as the directory writes it (NFC)
    name: str
    locale: str
    country: str
    region: str
    mfa: bool | None
    active: bool
    other_emails: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)


@dataclass
class DemoOrg:
    org_id: str
    name: str
    members: list[tuple[str, str]] = field(default_factory=list)  # (user_id, role)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in ".-"))


def build_directory(rng: random.Random, n_users: int) -> tuple[list[DemoUser], list[DemoOrg]]:
    fakers = {loc: Faker(loc) for loc, *_ in LOCALES}
    for i, faker in enumerate(fakers.values()):
        faker.seed_instance(rng.randrange(1 << 30) + i)
    weights = [w for *_, w in LOCALES]
    users: list[DemoUser] = []
    for i in range(n_users):
        loc, written, country, _ = rng.choices(LOCALES, weights)[0]
        faker = fakers[loc]
        # Faker is the slow part: a few hundred distinct names per locale are plenty
        name = faker.name() if i < 4000 else users[rng.randrange(len(users))].name
        first = name.split()[0]
        local = re.sub(r"[^a-z0-9]", "", _ascii(first).lower()) or "user"
        email = f"{local}.{i:06d}@{DOMAINS[i % len(DOMAINS)]}"
        if i % 997 == 5:
            email = f"josé.{i:06d}@example.es"  # NFC here; the export writes it decomposed
        roll = rng.random()
        mfa = True if roll < 0.55 else (False if roll < 0.9 else None)
        user = DemoUser(
            user_id=str(100000 + i),
            email=email,
            name=name,
            locale=written,
            country=country,
            region=rng.choice(US_REGIONS) if country == "US" else "",
            mfa=mfa,
            active=rng.random() > 0.03,
        )
        if i % 50 == 0:
            user.other_emails.append(f"alt.{i:06d}@old.example")
        users.append(user)
    n_orgs = max(5, n_users // 25)
    # company names from a Faker of its own, seeded from the size: the people and everything
    # drawn from ``rng`` stay what they were
    companies = Faker("en_US")
    companies.seed_instance(n_users)
    orgs = [DemoOrg(f"org_{k:05d}", companies.company()) for k in range(n_orgs)]
    # very uneven sizes: a Pareto draw picks each user's organizations
    for user in users:
        for _ in range(1 if rng.random() < 0.8 else 2):
            k = min(n_orgs - 1, int(rng.paretovariate(1.2)) - 1)
            k = (k * 7919 + rng.randrange(3)) % n_orgs if rng.random() < 0.5 else k
            if k not in [int(o[4:]) for o in user.orgs]:
                user.orgs.append(orgs[k].org_id)
    by_org: dict[str, list[DemoUser]] = {}
    for user in users:
        for org_id in user.orgs:
            by_org.setdefault(org_id, []).append(user)
    for demo_org in orgs:
        members = by_org.get(demo_org.org_id, [])
        for j, user in enumerate(members):
            if j == 0:
                role = "owner"
            elif j <= 2 or (j < 20 and rng.random() < 0.05):
                role = "admin"
            elif j == 3:
                role = "billing"  # not a known role: read as member
            else:
                role = "member"
            demo_org.members.append((user.user_id, role))
    return users, orgs
