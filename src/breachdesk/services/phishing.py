"""The phishing use cases: the lookalike watch list of official domains, the verdict on
candidate domains, and "is this message really from us?" against a workspace's own keys
and official domains.

The engine (``breachdesk.phishing``) does no I/O; here live the file writing, the
workspace reading and the optional DNS look-ups of ``--resolve``.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import orjson

from breachdesk.errors import InputError, SchemaError
from breachdesk.notify.keystore import read_keys
from breachdesk.phishing.classify import DomainVerdict, Watch
from breachdesk.phishing.lookalikes import Lookalike, generate
from breachdesk.phishing.message import MessageCheck, MessageChecker, Policy
from breachdesk.phishing.names import HostError, host
from breachdesk.phishing.signatures import PublicKey
from breachdesk.report.files import csv_bytes
from breachdesk.services import incident
from breachdesk.services.workspace import Workspace

RESOLVE_SECONDS = 60.0  # the whole --resolve run, at most
BASIS_FILE = "phishing.json"
BASIS_SCHEMA = "breachdesk.phishing-check/1"
WATCH_HEADER = ("domain", "unicode", "technique", "official")


def _domains(values: Iterable[str], what: str) -> list[str]:
    """Domains from the command line (repeated or comma-separated), in ASCII form."""
    found = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                found.append(host(item).ascii)
            except HostError as exc:
                raise InputError(f"{what}: {exc}") from None
    if not found:
        raise InputError(f"{what}: at least one domain is needed")
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class WatchList:
    path: Path
    lookalikes: list[Lookalike]
    by_technique: Counter[str]
    resolves: dict[str, str]  # domain -> yes | no | unknown (only with --resolve)


def lookalikes(domains: Sequence[str], out: Path, resolve: bool = False) -> WatchList:
    """Write the lookalikes of ``domains`` to the CSV ``out`` (sorted by domain), with the
    technique of each and, with ``resolve``, whether each has an address in DNS."""
    official = _domains(domains, "official domain")
    found = generate(official)
    resolved = _resolve([x.domain for x in found]) if resolve else {}
    header = (*WATCH_HEADER, "resolves") if resolve else WATCH_HEADER
    rows = [
        (x.domain, x.unicode, x.technique, x.official, *((resolved[x.domain],) if resolve else ()))
        for x in found
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(csv_bytes(header, rows))  # public names: no personal data here
    tmp.replace(out)
    return WatchList(out, found, Counter(x.technique for x in found), resolved)


def _resolve(names: Sequence[str]) -> dict[str, str]:
    """yes / no / unknown per name: whether it has an address (A or AAAA) in DNS. A name
    registered without one reads "no"; a look-up still pending when time is up, unknown."""

    def look_up(name: str) -> str:
        try:
            socket.getaddrinfo(name, None)
            return "yes"
        except (socket.gaierror, UnicodeError):
            return "no"
        except OSError:
            return "unknown"

    pool = ThreadPoolExecutor(max_workers=32)
    futures = {name: pool.submit(look_up, name) for name in names}
    wait(futures.values(), timeout=RESOLVE_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)
    return {
        n: f.result() if f.done() and not f.cancelled() else "unknown" for n, f in futures.items()
    }


def classify_domains(candidates: Sequence[str], official: Sequence[str]) -> list[DomainVerdict]:
    """official, lookalike (with its technique) or unrelated, per candidate."""
    watch = Watch(_domains(official, "--official"))
    if not candidates:
        raise InputError("name at least one candidate domain")
    verdicts = []
    for candidate in candidates:
        try:
            verdicts.append(watch.classify(candidate))
        except HostError as exc:
            raise InputError(f"candidate: {exc}") from None
    return verdicts


def workspace_domains(ws: Workspace) -> list[str]:
    """The incident's official domains (its record first, then its settings)."""
    return list(incident.identity(ws).official_domains)


@dataclass(frozen=True)
class CheckBasis:
    """What a message check needs, all of it public: the official domains, each DKIM
    selector's public key and window, the trusted receiving servers, the shorteners and the
    company's name. The dashboard reads it from the workspace; the public check app from
    the folder ``verify publish`` writes."""

    official_domains: tuple[str, ...]
    keys: dict[str, PublicKey]
    trusted_authserv_ids: tuple[str, ...]
    shorteners: tuple[str, ...]
    company: str

    def checker(self, watch: Watch | None = None) -> MessageChecker:
        return MessageChecker(
            Policy(
                watch=watch or Watch(self.official_domains),
                keys=self.keys,
                trusted_authserv_ids=frozenset(a.lower() for a in self.trusted_authserv_ids),
                shorteners=frozenset(s.lower() for s in self.shorteners),
                company=self.company,
            )
        )


def check_basis(ws: Workspace) -> CheckBasis:
    settings = ws.settings
    keys = {
        name: PublicKey(
            name,
            record.public.encode("ascii"),
            int(record.created.timestamp()) if record.created else None,
            int(record.retired.timestamp()) if record.retired else None,
        )
        for name, record in read_keys(ws.path).items()
    }
    return CheckBasis(
        tuple(workspace_domains(ws)),
        keys,
        tuple(settings.phishing.trusted_authserv_ids),
        tuple(settings.phishing.shorteners),
        incident.identity(ws).company,  # the incident record's, as notices are signed
    )


def checker(ws: Workspace, watch: Watch | None = None) -> MessageChecker:
    """A message checker for the workspace: its official domains, its DKIM keys (retired
    ones included, each with its window), its trusted receiving servers and shorteners."""
    return check_basis(ws).checker(watch)


def publish_basis(ws: Workspace, out: Path) -> Path:
    """``OUT/phishing.json``: the check's basis for the public app (public keys and
    domains only; nothing about any person)."""
    basis = check_basis(ws)
    body = {
        "schema": BASIS_SCHEMA,
        "official_domains": list(basis.official_domains),
        "keys": {
            k.selector: {"public": k.record.decode("ascii"), "created": k.created,
                         "retired": k.retired}
            for k in basis.keys.values()
        },
        "trusted_authserv_ids": list(basis.trusted_authserv_ids),
        "shorteners": list(basis.shorteners),
        "company": basis.company,
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    path = out / BASIS_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    tmp.chmod(0o644)  # public by design, as codes.json
    tmp.replace(path)
    return path


def published_basis(folder: Path) -> CheckBasis | None:
    """The basis ``publish_basis`` wrote into ``folder``; None when there is none."""
    path = folder / BASIS_FILE
    if not path.exists():
        return None
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("schema") != BASIS_SCHEMA:
            raise SchemaError(f"{path}: schema {data.get('schema')!r}, expected {BASIS_SCHEMA}")
        keys = {
            name: PublicKey(name, str(k["public"]).encode("ascii"), k.get("created"),
                            k.get("retired"))
            for name, k in data["keys"].items()
        }  # fmt: skip
        return CheckBasis(
            tuple(data["official_domains"]), keys, tuple(data["trusted_authserv_ids"]),
            tuple(data["shorteners"]), str(data["company"]),
        )  # fmt: skip
    except (OSError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({type(exc).__name__})") from None


def read_message(path: Path, limit: int) -> bytes:
    """The bytes of a message file, refused (one line, naming the file) when unreadable,
    empty or larger than ``limit``."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{path}: {size:,} bytes, more than the {limit:,} a message may have")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise InputError(f"{path}: empty, not a message")
    return data


def check_message(ws: Workspace, message: Path) -> MessageCheck:
    """The verdict on the message file ``message`` against the workspace."""
    data = read_message(message, ws.settings.phishing.max_message_bytes)
    return checker(ws).check(data)


def check_bytes(message_checker: MessageChecker, data: bytes, limit: int) -> MessageCheck:
    """The verdict on an uploaded message, refused when empty or larger than ``limit``."""
    if len(data) > limit:
        raise InputError(f"the message is {len(data):,} bytes, more than the {limit:,} allowed")
    if not data.strip():
        raise InputError("the upload is empty, not a message")
    return message_checker.check(data)


def check_json(result: MessageCheck) -> dict[str, object]:
    """The check as `phishing check --json` prints it (its keys are listed in the README)."""
    return {
        "verdict": result.verdict,
        "reasons": list(result.reasons),
        "from_domain": result.from_domain,
        "dkim": [{"d": s.d, "s": s.s, "valid": s.valid} for s in result.dkim],
        "links": [{"host": h.host, "official": h.official} for h in result.links],
    }
