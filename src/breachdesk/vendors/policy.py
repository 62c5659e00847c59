"""A vendor's flows compiled for the relay: which events pass, and what each field becomes.

The relay enforces the union of a vendor's flows: an event passes when some flow names it
(or ``*``); a field passes when a flow that accepts the event lists it, with that flow's
operation (the first such flow wins). Everything else is dropped and counted: default deny.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from breachdesk.vendors.model import FieldOp, Vendor
from breachdesk.vendors.operations import DROPPED, keep, operation

Apply = Callable[[Any], Any]


@dataclass(frozen=True)
class EventRules:
    """The fields of one event: name -> operation, and every dotted prefix of a name."""

    ops: dict[str, Apply]
    names: dict[str, FieldOp]
    prefixes: frozenset[str]


@dataclass
class Tally:
    """What one request lost, by reason; the relay adds it to its counters."""

    fields: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    seen: list[tuple[str, Any, bool]] = field(default_factory=list)  # field, value, forwarded
    observe: bool = True  # collect ``seen`` (the relay samples requests: it is costly)


class VendorPolicy:
    """The relay's view of one vendor; cheap to build again when vendors.yaml changes."""

    _CACHE_LIMIT = 4096

    def __init__(self, vendor: Vendor, key: bytes) -> None:
        self.vendor = vendor
        self.key = key
        self._applies: dict[tuple[FieldOp, tuple[str, ...]], Apply] = {}
        self._by_event: dict[str, EventRules | None] = {}
        self._wildcard = self._compile([f for f in vendor.flows if f.all_events])

    def _apply(self, op: FieldOp, keep_query: tuple[str, ...]) -> Apply:
        index = (op, keep_query if op is FieldOp.STRIP_QUERY else ())
        if index not in self._applies:
            self._applies[index] = operation(op, self.key, keep_query)
        return self._applies[index]

    def _compile(self, flows: Iterable[Any]) -> EventRules | None:
        ops: dict[str, Apply] = {}
        names: dict[str, FieldOp] = {}
        matched = False
        for flow in flows:
            matched = True
            for name, op in flow.fields:
                if name not in ops:
                    ops[name] = self._apply(op, flow.keep_query)
                    names[name] = op
        if not matched:
            return None
        prefixes = frozenset(
            ".".join(parts[:i])
            for parts in (n.split(".") for n in ops)
            for i in range(1, len(parts))
        )
        return EventRules(ops, names, prefixes)

    def rules_for(self, event: str) -> EventRules | None:
        """The rules of one event, or None when no flow lets it through."""
        found = self._by_event.get(event, self)
        if found is not self:
            return found  # type: ignore[return-value]
        specific = [f for f in self.vendor.flows if not f.all_events and event in f.events]
        rules = self._compile(specific + [f for f in self.vendor.flows if f.all_events])
        if len(self._by_event) >= self._CACHE_LIMIT:
            self._by_event.clear()  # attacker-chosen event names must not grow memory
        self._by_event[event] = rules
        return rules

    def minimise(
        self,
        bag: dict[str, Any],
        rules: EventRules,
        tally: Tally,
        envelope: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """The fields of one property bag that may pass, each after its operation.
        ``envelope`` names what the protocol needs (a project token): it passes unless it
        holds an email address."""
        out: dict[str, Any] = {}
        ops = rules.ops
        prefixes = rules.prefixes
        observe = tally.observe
        seen = tally.seen
        unlisted = 0
        # the relay's hot loop: counters kept local, the common cases first
        for name, value in bag.items():
            apply = ops.get(name)
            if apply is not None:
                result = apply(value)
                if result is DROPPED:
                    reason = "drop" if rules.names[name] is FieldOp.DROP else "refused_value"
                    tally.fields[reason] += 1
                    if observe:
                        seen.append((name, value, False))
                    continue
                out[name] = result
                if observe:
                    seen.append((name, value, True))
            elif name in envelope:
                if keep(value) is DROPPED:
                    tally.fields["refused_value"] += 1
                else:
                    out[name] = value
            elif prefixes and name in prefixes and isinstance(value, dict):
                inner = self._nested(name, value, rules, tally)
                if inner:
                    out[name] = inner
            elif isinstance(value, dict) and value:
                _unlisted(name, value, tally)
            else:
                unlisted += 1
                if observe:
                    seen.append((name, value, False))
        if unlisted:
            tally.fields["unlisted"] += unlisted
        return out

    def _nested(
        self, prefix: str, node: dict[str, Any], rules: EventRules, tally: Tally
    ) -> dict[str, Any]:
        """Dotted names (``context.page.url``): walk into objects a listed name goes through."""
        flat = {f"{prefix}.{k}": v for k, v in node.items()}
        kept = self.minimise(flat, rules, tally)
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in kept.items()}


def _unlisted(name: str, value: Any, tally: Tally, depth: int = 0) -> None:
    """Count a dropped field; an object counts as each of its leaves (``context.ip`` …)."""
    if isinstance(value, dict) and value and depth < 8:
        for key, inner in value.items():
            _unlisted(f"{name}.{key}", inner, tally, depth + 1)
        return
    tally.fields["unlisted"] += 1
    if tally.observe:
        tally.seen.append((name, value, False))
