"""The generic mapping: a TOML file that turns any JSON Lines or CSV export into a reader, so
a vendor breachdesk does not know is a config file, not code (``assess --mapping FILE``).

    [reader]
    name = "acme-crm"             # the reader is "mapping.acme-crm"; its device ids compare
    format = "jsonl"              # within it. jsonl | csv
    recognise = ["event", "customer.id"]   # fields every one of a file's first records
                                           # holds (default: any identity field below)
    [keys]                        # dotted paths (CSV: column names); "*" = every value
    user_ids = ["customer.id"]
    emails = ["customer.email"]
    device_ids = ["cookie_id"]
    org_keys = ["account.id"]
    countries = ["geo.country"]   # ISO codes or English names
    [time]                        # optional
    path = "created_at"
    unit = "iso"                  # epoch (s or ms) | micros | iso
    [fields]                      # optional: a field's category when its name misleads
    "page.name" = "user.behavior.browsing_history"

A mistake is refused in one line naming the file, the line and the key
(``acme.toml: line 7: keys.user_ids: Input should be a valid list``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from breachdesk.errors import InputError
from breachdesk.sources.base import Framing, IdentityKeys, TimeKey
from breachdesk.sources.paths import path_getter
from breachdesk.sources.times import TimeUnit
from breachdesk.taxonomy import Category

_STRICT = ConfigDict(extra="forbid", frozen=True)


class _ReaderPart(BaseModel):
    model_config = _STRICT
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    format: Literal["jsonl", "csv"]
    recognise: list[str] = Field(default_factory=list)


class _KeysPart(BaseModel):
    model_config = _STRICT
    user_ids: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    device_ids: list[str] = Field(default_factory=list)
    org_keys: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)


class _TimePart(BaseModel):
    model_config = _STRICT
    path: str = Field(min_length=1)
    unit: TimeUnit = TimeUnit.ISO


class _MappingFile(BaseModel):
    model_config = _STRICT
    reader: _ReaderPart
    keys: _KeysPart
    time: _TimePart | None = None
    fields: dict[str, Category] = Field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class MappingReader:
    """A reader built from a mapping file (picklable: scanning processes receive it)."""

    name: str
    framing: Framing
    keys: IdentityKeys
    recognise: tuple[str, ...]
    field_categories: dict[str, str] = field(default_factory=dict)
    source: str = ""  # the mapping file, for messages

    def canonical_column(self, header: str) -> str:
        return header.strip()

    def sniff(self, head: list[Any]) -> bool:
        wanted = self.recognise
        if self.framing is Framing.CSV:
            if not head or not isinstance(head[0], list):
                return False
            columns = {str(h).strip() for h in head[0]}
            return all(w in columns for w in wanted) if wanted else bool(columns & _any(self))
        getters = [path_getter(p) for p in (wanted or tuple(_any(self)))]
        test = all if wanted else any
        return any(
            isinstance(obj, dict) and test(g(obj) is not None for g in getters) for obj in head
        )

    def to_record(self, obj: Any) -> dict[str, Any] | None:
        return obj if isinstance(obj, dict) else None


def _any(reader: MappingReader) -> set[str]:
    k = reader.keys
    return {*k.user_ids, *k.emails, *k.device_ids}


def load_mapping(path: Path) -> MappingReader:
    """The reader a mapping file describes; :class:`InputError` naming line and key if not."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a mapping: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = where.group(1) if where else "1"
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise InputError(f"{path}: line {line}: not valid TOML: {message}") from None
    try:
        parsed = _MappingFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        key = ".".join(loc)
        line = _line_of(text, loc)
        raise InputError(f"{path}: line {line}: {key}: {first['msg']}") from None
    keys = parsed.keys
    if not (keys.user_ids or keys.emails or keys.device_ids):
        line = _line_of(text, ["keys"])
        raise InputError(
            f"{path}: line {line}: keys: name at least one of user_ids, emails, device_ids"
        )
    time = parsed.time
    return MappingReader(
        name=f"mapping.{parsed.reader.name}",
        framing=Framing.CSV if parsed.reader.format == "csv" else Framing.LINES,
        keys=IdentityKeys(
            user_ids=tuple(keys.user_ids),
            emails=tuple(keys.emails),
            device_ids=tuple(keys.device_ids),
            org_keys=tuple(keys.org_keys),
            countries=tuple(keys.countries),
            time=TimeKey(time.path, time.unit) if time is not None else None,
            namespace=f"mapping.{parsed.reader.name}",
        ),
        recognise=tuple(parsed.reader.recognise),
        field_categories={k: v.value for k, v in parsed.fields.items()},
        source=str(path),
    )


_TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=')


def _line_of(text: str, loc: list[str]) -> int:
    """The line where the key at ``loc`` (table, key, …) is written: the key's own line, else
    its table's header, else 1."""
    table = ""
    header_line = 0
    found = 0
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE.match(line)
        if header:
            table = header.group(1).strip()
            if loc and table == loc[0] and not header_line:
                header_line = number
            continue
        key = _KEY.match(line)
        if not key:
            continue
        name = key.group(1).strip('"')
        where = [*table.split("."), name] if table else [name]
        if where == loc[: len(where)] and len(where) >= min(len(loc), 2):
            found = found or number
    return found or header_line or 1
