"""Reading ``vendors.yaml``: parsed with ruamel.yaml (which keeps each node's line), checked
against the JSON Schema shipped beside this module, then turned into typed records.

An error names the file, the line, the field and the schema rule it breaks, e.g.
``vendors.yaml:14: vendors[0].dpa: 'maybe' is not one of […] (rule: enum)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from breachdesk.errors import SettingsError
from breachdesk.vendors.model import FieldOp, Flow, Inventory, Vendor


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``breachdesk.vendors/1``."""
    text = (resources.files("breachdesk.vendors") / "vendors.schema.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema(), format_checker=FormatChecker())


def round_trip_yaml() -> YAML:
    """The YAML reader and writer that keeps comments, order and flow style."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def parse_document(text: str, source: str) -> Any:
    """The round-trip document (comments kept), or one line naming where YAML broke."""
    try:
        return round_trip_yaml().load(text)
    except ValueError:
        # a value ruamel cannot build (a date such as 2026-13-01): read every timestamp as
        # text instead, so the schema names the field and its line
        return _dates_as_text().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = (exc.problem or "not valid YAML").strip()
        raise SettingsError(f"{source}:{line}: not valid YAML: {problem}") from None
    except YAMLError as exc:
        raise SettingsError(f"{source}:1: not valid YAML: {type(exc).__name__}") from None


class _TextDates(RoundTripConstructor):
    """Timestamps read as their text (a subclass: ruamel's registry is per class)."""


_TextDates.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda self, node: self.construct_scalar(node)
)


def _dates_as_text() -> YAML:
    yaml = round_trip_yaml()
    yaml.Constructor = _TextDates
    return yaml


def plain(node: Any) -> Any:
    """ruamel's nodes as JSON values (dates as ISO text), for the schema."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, date):
        return node.isoformat()
    return node


def line_of(document: Any, path: Iterable[Any]) -> int:
    """The 1-based line of the node at ``path`` (or of its nearest parent that has one)."""
    line = 1
    node = document
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _where(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _message(error: ValidationError) -> str:
    message = error.message
    if len(message) > 160:
        message = message[:157] + "…"
    return message


def validate_document(document: Any, source: str) -> None:
    """Raise the first schema error (in document order), naming its line and rule."""
    if not isinstance(document, CommentedMap):
        raise SettingsError(f"{source}:1: the file holds one mapping (schema, company, vendors)")
    errors = list(_validator().iter_errors(plain(document)))
    if errors:
        first = min(errors, key=lambda e: (line_of(document, e.absolute_path), str(e.path)))
        path = list(first.absolute_path)
        if first.validator == "additionalProperties" and isinstance(first.instance, dict):
            extra = sorted(set(first.instance) - set(first.schema.get("properties", {})))
            path = [*path, extra[0]] if extra else path
        line = line_of(document, path)
        raise SettingsError(
            f"{source}:{line}: {_where(path)}: {_message(first)} (rule: {first.validator})"
        )
    seen: dict[str, int] = {}
    for index, vendor in enumerate(document["vendors"]):
        line = line_of(document, ["vendors", index, "id"])
        if vendor["id"] in seen:
            raise SettingsError(
                f"{source}:{line}: vendors[{index}].id: {vendor['id']!r} is already the id of "
                f"the vendor on line {seen[vendor['id']]} (rule: unique id)"
            )
        seen[vendor["id"]] = line


def inventory_from_document(document: Any, path: Path) -> Inventory:
    vendors = []
    for index, raw in enumerate(document["vendors"]):
        flows = tuple(
            Flow(
                surface=str(f["surface"]),
                events=tuple(str(e) for e in f["events"]),
                fields=tuple((str(k), FieldOp(str(v))) for k, v in f["fields"].items()),
                keep_query=tuple(str(q) for q in f.get("keep_query", ())),
                line=line_of(document, ["vendors", index, "flows", n]),
            )
            for n, f in enumerate(raw["flows"])
        )
        review = raw["last_review"]
        vendors.append(
            Vendor(
                id=str(raw["id"]),
                name=str(raw["name"]),
                purpose=str(raw["purpose"]),
                owner=str(raw["owner"]),
                tier=int(raw["tier"]),
                dpa=str(raw["dpa"]),
                locations=tuple(str(c) for c in raw["locations"]),
                breach_contact=str(raw["breach_contact"]),
                last_review=date.fromisoformat(str(review)) if review is not None else None,
                hosts=tuple(str(h) for h in raw["hosts"]),
                upstream=str(raw["upstream"]).rstrip("/") if raw.get("upstream") else None,
                protocol=str(raw["protocol"]) if raw.get("protocol") else None,
                status=str(raw["status"]),
                flows=flows,
                line=line_of(document, ["vendors", index]),
            )
        )
    return Inventory(path, str(document["company"]), tuple(vendors))


def read_inventory_text(text: str, path: Path) -> Inventory:
    document = parse_document(text, str(path))
    validate_document(document, str(path))
    return inventory_from_document(document, path)


def load_inventory(path: Path) -> Inventory:
    """Read and validate ``vendors.yaml``; :class:`SettingsError` names line and rule."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read: {type(exc).__name__}") from None
    return read_inventory_text(text, path)
