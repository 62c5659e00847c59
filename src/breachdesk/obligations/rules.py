"""Obligation rules as data: one YAML file per regime, validated field by field; an error
names the file, the line and the field."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from breachdesk.errors import SettingsError
from breachdesk.taxonomy import Category

Outcome = Literal["required", "likely", "not_required", "record_only", "cannot_tell"]


class Jurisdiction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    countries: list[str] = Field(default_factory=list)  # ISO 3166-1 alpha-2
    regions: list[str] = Field(default_factory=list)  # ISO 3166-2, e.g. US-CA
    country: str | None = None  # the country of the regions (to spot people without one)


class Deadline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["hours", "days", "business_days", "without_undue_delay"]
    amount: int = 0
    from_: str = Field("company", alias="from")  # whose awareness starts the clock


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid")
    residents: int
    duty: str


class ObligationRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    jurisdiction: Jurisdiction
    notify: str
    citations: list[str] = Field(min_length=1)
    any_personal: bool = False
    triggers: list[list[Category]] = Field(default_factory=list)
    required_when: list[Category] = Field(default_factory=list)
    default: Outcome
    questions: list[str] = Field(default_factory=list)
    not_required_reason: str = "none of the data elements this law names were exposed"
    deadline: Deadline
    threshold: Threshold | None = None
    # further duties that start at a number of residents (the Attorney General at 500, the
    # credit reporting agencies above 1,000, ...); ``threshold`` is the first of them
    thresholds: list[Threshold] = Field(default_factory=list)
    # from this many people whose data the law names, the outcome is "required" whatever the
    # data (APPI: more than 1,000 people)
    required_from: int | None = None
    content: list[str] = Field(default_factory=list)
    record_only_otherwise: bool = False
    source: str = ""

    @property
    def all_thresholds(self) -> list[Threshold]:
        return ([self.threshold] if self.threshold else []) + list(self.thresholds)

    @field_validator("triggers")
    @classmethod
    def _triggers_or_any(cls, value: list[list[Category]]) -> list[list[Category]]:
        if any(not combo for combo in value):
            raise ValueError("a trigger lists at least one category")
        return value


def _line_of(node: yaml.Node, path: tuple[object, ...]) -> int:
    """The 1-based line of the YAML node at ``path`` (or of its nearest parent)."""
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            match = node.value[part]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def parse_rule(text: str, source: str) -> ObligationRule:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SettingsError(f"{source}:{line}: not valid YAML") from None
    if not isinstance(data, dict) or node is None:
        raise SettingsError(f"{source}:1: a rule file holds one mapping")
    try:
        return ObligationRule.model_validate({**data, "source": source})
    except ValidationError as exc:
        first = exc.errors()[0]
        path = tuple(p for p in first["loc"])
        field = ".".join(str(p) for p in path)
        line = _line_of(node, path)
        raise SettingsError(f"{source}:{line}: field {field}: {first['msg']}") from None


def builtin_rules() -> list[ObligationRule]:
    """The rules breachdesk ships (read once per process; each call gets its own list)."""
    return list(_builtin_rules())


@functools.cache
def _builtin_rules() -> tuple[ObligationRule, ...]:
    folder = resources.files("breachdesk.obligations") / "rules"
    found = [
        parse_rule(entry.read_text(encoding="utf-8"), f"breachdesk/obligations/rules/{entry.name}")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]
    ids = [r.id for r in found]
    if len(set(ids)) != len(ids):
        raise SettingsError("two obligation rule files share an id")
    return tuple(found)


def load_rule_file(path: Path) -> ObligationRule:
    try:
        return parse_rule(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
