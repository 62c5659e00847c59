"""The ingestion protocols the relay speaks, in a registry the built-ins register through.

A protocol parses what an SDK sends (one request: a list of items), minimises each item
under a vendor's policy, encodes minimised items into one request for the vendor's own
ingestion API, and answers the SDK the way the vendor would.

- ``mixpanel``: ``POST track/``, ``engage/``, ``groups/``, a form body ``data=`` holding
  base64 or plain JSON, one object or an array (as mixpanel-js sends it through a custom
  ``api_host``); answers ``1``, or ``{"status": 1, "error": null}`` with ``verbose=1``.
  Profile and group updates pass as the events ``$engage`` and ``$groups``.
- ``segment``: ``POST v1/{t,p,i,g,a,s,b}`` with analytics.js's JSON bodies; answers
  ``{"success": true}``. Field names are dotted paths (``context.page.url``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson

from breachdesk.vendors.operations import holds_email
from breachdesk.vendors.policy import Tally, VendorPolicy


class PayloadError(Exception):
    """A request the relay cannot parse: ``reason`` is a short code for the counters."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class UpstreamRequest:
    """One request to the vendor: what the forwarder sends, spools and retries."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    events: int


class IngestProtocol(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def max_batch(self) -> int:
        """Items in one upstream request at most."""

    @property
    def max_bytes(self) -> int:
        """Bytes in one upstream request at most (a larger one is split)."""

    def endpoint(self, rest: str) -> str | None:
        """The endpoint a request path (after ``/v/<id>/``) names, or None."""

    def parse(self, endpoint: str, body: bytes, content_type: str) -> list[Any]:
        """The items of one request; :class:`PayloadError` when it cannot be read."""

    def minimise(
        self, policy: VendorPolicy, endpoint: str, items: list[Any], tally: Tally
    ) -> list[dict[str, Any]]:
        """What may reach the vendor, item by item; the rest is counted in ``tally``."""

    def group(self, endpoint: str, headers: dict[str, str]) -> tuple[str, ...]:
        """Items with the same group may travel in one upstream request."""

    def encode(self, group: tuple[str, ...], items: Sequence[dict[str, Any]]) -> UpstreamRequest:
        """One upstream request for the vendor's ingestion API."""

    def accepted(self, query: dict[str, str]) -> Answer:
        """The vendor's answer to a request it took."""

    def refused(self, query: dict[str, str], status: int, reason: str) -> Answer:
        """An answer saying why a request was refused."""


_PROTOCOLS: dict[str, IngestProtocol] = {}


def register_protocol(protocol: IngestProtocol) -> None:
    if protocol.name in _PROTOCOLS:
        raise ValueError(f"protocol {protocol.name!r} is already registered")
    _PROTOCOLS[protocol.name] = protocol


def get_protocol(name: str) -> IngestProtocol:
    return _PROTOCOLS[name]


def protocols() -> list[str]:
    return sorted(_PROTOCOLS)


def _json(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise PayloadError("invalid_json", "the payload is not valid JSON") from None


def _objects(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PayloadError("empty", "the payload holds no event")
    if not all(isinstance(item, dict) for item in items):
        raise PayloadError("not_an_object", "each event must be a JSON object")
    return items


def _event_name(value: Any) -> str | None:
    return value if isinstance(value, str) and value and not holds_email(value) else None


def _fast_data(text: str) -> str | None:
    """``data=`` alone holding base64 whose only escapes are %2B %2F %3D (as mixpanel-js
    sends it): decoded without the general form parser, the hot path of the relay."""
    if not text.startswith("data=") or "&" in text:
        return None
    value = text[5:].replace("%2B", "+").replace("%2F", "/").replace("%3D", "=")
    return None if "%" in value else value


_TOKEN = frozenset({"token"})
_ENGAGE_ENVELOPE = frozenset({"$token"})
_GROUPS_ENVELOPE = frozenset({"$token", "$group_key"})
_PROFILE_OPS = ("$set", "$set_once", "$add", "$append", "$union", "$remove", "$unset", "$delete")


@dataclass(frozen=True)
class MixpanelProtocol:
    name: str = "mixpanel"
    max_batch: int = 1000  # /track takes up to 2,000 events and 2 MB per request
    max_bytes: int = 2_000_000

    def endpoint(self, rest: str) -> str | None:
        route = rest.strip("/")
        return route if route in ("track", "engage", "groups") else None

    def parse(self, endpoint: str, body: bytes, content_type: str) -> list[Any]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("invalid_utf8", "the body is not UTF-8") from None
        if content_type.startswith("application/json"):
            return _objects(_json(text))
        data = _fast_data(text)
        if data is None:
            data = next(
                (v for k, v in parse_qsl(text, keep_blank_values=True) if k == "data"), None
            )
        if data is None:
            raise PayloadError("no_data", "the form body has no data= field")
        data = data.strip()
        if data[:1] in ("{", "["):
            return _objects(_json(data))
        try:
            raw = data.replace(" ", "+")
            padded = raw + "=" * (-len(raw) % 4)
            decoded = (
                base64.urlsafe_b64decode(padded)
                if "-" in raw or "_" in raw
                else base64.b64decode(padded, validate=True)
            )
        except (binascii.Error, ValueError):
            raise PayloadError("invalid_base64", "data= is neither JSON nor base64") from None
        return _objects(_json(decoded))

    def minimise(
        self, policy: VendorPolicy, endpoint: str, items: list[Any], tally: Tally
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if endpoint == "track":
                found = self._event(policy, item, tally)
            else:
                found = self._update(policy, endpoint, item, tally)
            if found is not None:
                out.append(found)
        return out

    def _event(self, policy: VendorPolicy, item: dict[str, Any], tally: Tally) -> Any:
        event = _event_name(item.get("event"))
        props = item.get("properties", {})
        if event is None or not isinstance(props, dict):
            tally.events["invalid_event"] += 1
            return None
        rules = policy.rules_for(event)
        if rules is None:
            tally.events["unknown_event"] += 1
            if tally.observe:
                tally.seen.extend((k, v, False) for k, v in props.items() if k != "token")
            return None
        kept = policy.minimise(props, rules, tally, envelope=_TOKEN)
        return {"event": event, "properties": kept}

    def _update(
        self, policy: VendorPolicy, endpoint: str, item: dict[str, Any], tally: Tally
    ) -> Any:
        rules = policy.rules_for(f"${endpoint}")
        envelope = _ENGAGE_ENVELOPE if endpoint == "engage" else _GROUPS_ENVELOPE
        if rules is None:
            tally.events["unknown_event"] += 1
            return None
        top = {k: v for k, v in item.items() if k not in _PROFILE_OPS}
        alias = "$distinct_id" in top and "$distinct_id" not in rules.ops
        if alias:  # a profile's $distinct_id is the events' distinct_id
            top["distinct_id"] = top.pop("$distinct_id")
        out = policy.minimise(top, rules, tally, envelope=envelope)
        if alias and "distinct_id" in out:
            out["$distinct_id"] = out.pop("distinct_id")
        changed = False
        for op in _PROFILE_OPS:
            if op not in item:
                continue
            value = item[op]
            if op == "$delete":
                out[op] = ""
                changed = True
            elif op == "$unset" and isinstance(value, list):
                names = [n for n in value if isinstance(n, str) and n in rules.ops]
                tally.fields["unlisted"] += len(value) - len(names)
                if names:
                    out[op], changed = names, True
            elif isinstance(value, dict):
                kept = policy.minimise(value, rules, tally)
                if kept:
                    out[op], changed = kept, True
            else:
                tally.fields["refused_value"] += 1
        if not changed:
            tally.events["empty_update"] += 1
            return None
        return out

    def group(self, endpoint: str, headers: dict[str, str]) -> tuple[str, ...]:
        return (endpoint,)

    def encode(self, group: tuple[str, ...], items: Sequence[dict[str, Any]]) -> UpstreamRequest:
        data = base64.b64encode(orjson.dumps(list(items))).decode("ascii")
        return UpstreamRequest(
            path=f"/{group[0]}/?ip=0&verbose=1",
            # base64 needs only + / = escaped in a form body (urllib's quote is per byte)
            body=b"data="
            + data.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D").encode("ascii"),
            headers=(("content-type", "application/x-www-form-urlencoded"),),
            events=len(items),
        )

    def accepted(self, query: dict[str, str]) -> Answer:
        if query.get("verbose") == "1":
            return Answer(200, b'{"status":1,"error":null}', "application/json")
        return Answer(200, b"1", "text/plain")

    def refused(self, query: dict[str, str], status: int, reason: str) -> Answer:
        body = orjson.dumps({"status": 0, "error": reason})
        return Answer(status, body, "application/json")


_SEGMENT_TYPES = {"t": "track", "p": "page", "i": "identify", "g": "group", "a": "alias",
                  "s": "screen", "b": "batch"}  # fmt: skip
_SEGMENT_ENVELOPE = frozenset({"type", "messageId", "timestamp", "writeKey"})


@dataclass(frozen=True)
class SegmentProtocol:
    name: str = "segment"
    max_batch: int = 100
    max_bytes: int = 500_000  # Segment's bound on one batch

    def endpoint(self, rest: str) -> str | None:
        route = rest.strip("/")
        if not route.startswith("v1/"):
            return None
        short = route[3:]
        if short in _SEGMENT_TYPES:
            return _SEGMENT_TYPES[short]
        return short if short in _SEGMENT_TYPES.values() else None

    def parse(self, endpoint: str, body: bytes, content_type: str) -> list[Any]:
        value = _json(body)
        if endpoint == "batch":
            if not isinstance(value, dict) or not isinstance(value.get("batch"), list):
                raise PayloadError("not_a_batch", "a batch is an object with a batch list")
            items = _objects(value["batch"])
            key = value.get("writeKey")
            if isinstance(key, str):
                for item in items:
                    item.setdefault("writeKey", key)
            return items
        items = _objects(value)
        items[0].setdefault("type", endpoint)
        return items

    def minimise(
        self, policy: VendorPolicy, endpoint: str, items: list[Any], tally: Tally
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            kind = item.get("type")
            if kind not in _SEGMENT_TYPES.values() or kind == "batch":
                tally.events["invalid_event"] += 1
                continue
            event = _event_name(item.get("event")) if kind == "track" else kind
            if event is None:
                tally.events["invalid_event"] += 1
                continue
            rules = policy.rules_for(event)
            if rules is None:
                tally.events["unknown_event"] += 1
                continue
            envelope = _SEGMENT_ENVELOPE | ({"event"} if kind == "track" else set())
            out.append(policy.minimise(item, rules, tally, envelope=frozenset(envelope)))
        return out

    def group(self, endpoint: str, headers: dict[str, str]) -> tuple[str, ...]:
        return ("batch", headers.get("authorization", ""))

    def encode(self, group: tuple[str, ...], items: Sequence[dict[str, Any]]) -> UpstreamRequest:
        sent = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        headers = [("content-type", "application/json")]
        if group[1]:
            headers.append(("authorization", group[1]))
        return UpstreamRequest(
            path="/v1/batch",
            body=orjson.dumps({"batch": list(items), "sentAt": sent}),
            headers=tuple(headers),
            events=len(items),
        )

    def accepted(self, query: dict[str, str]) -> Answer:
        return Answer(200, b'{"success":true}', "application/json")

    def refused(self, query: dict[str, str], status: int, reason: str) -> Answer:
        return Answer(status, orjson.dumps({"success": False, "error": reason}), "application/json")


register_protocol(MixpanelProtocol())
register_protocol(SegmentProtocol())
