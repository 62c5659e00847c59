"""Reading declared field paths out of a record, and presenting vendor key/value arrays as
plain fields.

A path is dotted (``context.traits.email``); a ``*`` segment stands for every value of an
object (``groups.*``: each group's id). A record key that is itself the whole path wins
(a CSV column named ``user.email``, a flattened field): readers and mappings name fields as
the person reading the export sees them, and both spellings mean the same field.

Getters are compiled once per reader, so the scan's per-record cost for a top-level key is
one ``dict.get``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Getter = Callable[[dict[str, Any]], Any]
TupleGetter = Callable[[dict[str, Any]], tuple[Any, ...]]


def path_getter(path: str) -> Getter:
    """A function giving the value at ``path`` in a record, or None where there is none.
    With a ``*`` segment the value is the list of every value found (None if none)."""
    parts = path.split(".")
    if len(parts) == 1 and path != "*":
        return lambda bag: bag.get(path)
    if "*" in parts:
        return lambda bag: _wild(bag, path, parts)
    first, rest = parts[0], parts[1:]

    def get(bag: dict[str, Any]) -> Any:
        value = bag.get(path)
        if value is not None:
            return value
        node = bag.get(first)
        for part in rest:
            if node.__class__ is not dict:
                return None
            node = node.get(part)
        return node

    return get


def _wild(bag: dict[str, Any], path: str, parts: list[str]) -> Any:
    literal = bag.get(path)
    if literal is not None:
        return literal
    found: list[Any] = []
    _collect(bag, parts, found)
    return found or None


def _collect(node: Any, parts: list[str], found: list[Any]) -> None:
    if not parts:
        if node.__class__ is list:
            found.extend(item for item in node if item is not None)
        elif node is not None:
            found.append(node)
        return
    if node.__class__ is not dict:
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for value in node.values():
            _collect(value, rest, found)
    else:
        _collect(node.get(head), rest, found)


def values_getter(paths: Sequence[str]) -> TupleGetter:
    """A function giving the tuple of the values at ``paths`` (None where absent)."""
    keys = tuple(paths)
    if all("." not in p and p != "*" for p in keys):
        return _plain_getter(keys)
    getters = [path_getter(p) for p in keys]
    return lambda bag: tuple([g(bag) for g in getters])


def _plain_getter(keys: tuple[str, ...]) -> TupleGetter:
    """The tuple of top-level ``keys``: spelled out up to eight keys, where it costs about
    half of ``tuple(map(bag.get, keys))`` (the scan calls it once or twice per record)."""
    match keys:
        case ():
            return lambda bag: ()
        case (a,):
            return lambda bag: (bag.get(a),)
        case (a, b):
            return lambda bag: (bag.get(a), bag.get(b))
        case (a, b, c):
            return lambda bag: (bag.get(a), bag.get(b), bag.get(c))
        case (a, b, c, d):
            return lambda bag: (bag.get(a), bag.get(b), bag.get(c), bag.get(d))
        case (a, b, c, d, e):
            return lambda bag: (bag.get(a), bag.get(b), bag.get(c), bag.get(d), bag.get(e))
        case (a, b, c, d, e, f):
            return lambda bag: (
                bag.get(a), bag.get(b), bag.get(c), bag.get(d), bag.get(e), bag.get(f)
            )  # fmt: skip
        case (a, b, c, d, e, f, g):
            return lambda bag: (
                bag.get(a), bag.get(b), bag.get(c), bag.get(d), bag.get(e), bag.get(f),
                bag.get(g),
            )  # fmt: skip
        case (a, b, c, d, e, f, g, h):
            return lambda bag: (
                bag.get(a), bag.get(b), bag.get(c), bag.get(d), bag.get(e), bag.get(f),
                bag.get(g), bag.get(h),
            )  # fmt: skip
    return lambda bag: tuple(map(bag.get, keys))


def flatten_kv(bag: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Key/value arrays as objects: ``event_params: [{"key": "page_location", "value":
    {"string_value": "https://…"}}]`` becomes ``event_params: {"page_location": "https://…"}``
    (GA4's BigQuery export). A typed value gives its one non-null member, a 64-bit integer
    exported as a string becoming a number; metadata beside it (``set_timestamp_micros``) is
    dropped. ``bag`` is changed in place and returned."""
    for name in fields:
        items = bag.get(name)
        if items.__class__ is not list:
            continue
        flat: dict[str, Any] = {}
        for item in items:
            if item.__class__ is not dict:
                continue
            key = item.get("key")
            if key.__class__ is not str:
                continue
            value = item.get("value")
            flat[key] = typed_value(value) if value.__class__ is dict else value
        bag[name] = flat
    return bag


_TYPED = ("string_value", "int_value", "double_value", "float_value")


def typed_value(value: dict[str, Any]) -> Any:
    """The one set member of a typed value (``{"int_value": "42"}`` → 42)."""
    for member in _TYPED:
        found = value.get(member)
        if found is None:
            continue
        if member == "int_value" and found.__class__ is str:
            try:
                return int(found)
            except ValueError:
                return found
        return found
    return None
