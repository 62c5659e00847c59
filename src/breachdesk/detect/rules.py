"""Detection rules as data, and the registry that loads them.

A rule is an id, a finding kind, keywords (or a prefilter pattern) for the fast pass, a
confirming pattern, an optional validator, a minimum entropy and its own true- and
false-positive examples. Built-in rules live in ``rules/*.toml`` inside the package and load
through :func:`load_rule_file`, exactly as a user's rule file named in settings does.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from breachdesk.detect.validators import get_validator
from breachdesk.errors import SettingsError
from breachdesk.taxonomy import FindingKind

_RULE_FIELDS = {
    "id",
    "kind",
    "description",
    "keywords",
    "prefilter",
    "pattern",
    "group",
    "validator",
    "min_entropy",
    "bare_context",
    "in_text_without_context",
    "examples",
}


@dataclass(frozen=True)
class Rule:
    id: str
    kind: FindingKind
    pattern: re.Pattern[str]
    keywords: tuple[str, ...] = ()
    prefilter: str | None = None
    group: int = 0  # which regex group holds the secret
    validator: str | None = None
    min_entropy: float = 0.0
    # When the match is the whole value or a bare digit run, one of these words must appear
    # in the field name or near the match (weak checksums pass one random number in ten).
    bare_context: tuple[str, ...] = ()
    # A match inside a longer string (not the whole value, not a number) holds by itself: the
    # validator is strong enough (a card's brand prefix, length and Luhn digit).
    in_text_without_context: bool = False
    description: str = ""
    true_positives: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
    source: str = ""

    def prefilter_pattern(self) -> str:
        if self.prefilter:
            return self.prefilter
        return "|".join(re.escape(k) for k in self.keywords)

    def context_in_field(self, field: str) -> bool:
        """A context word at the start of a word of the field's path (``card_number``,
        ``userSSN``, ``payment.pan``), not inside one (``company_id`` holds no ``pan``)."""
        words = field_words(field)
        return any(f"_{word}" in words for word in self._context_words)

    @cached_property
    def _context_words(self) -> tuple[str, ...]:
        return tuple(_normal_word(w) for w in self.bare_context)

    def context_triggers(self) -> list[str]:
        """Fast-pass patterns that fire wherever :meth:`context_in_field` can hold: in a JSON
        key (``"…":``), the longest part of a context word at the start of a word (after a
        non-alphanumeric character, or in camelCase after a lower-case letter or digit)."""
        found = []
        key_rest = r'[^"\\]*"[ \t]*:'
        for word in self._context_words:
            part = max(word.split("_"), key=len)
            if not part:
                continue
            rest = re.escape(part[1:])
            found.append(f"(?i:[^a-z0-9]{re.escape(part)}){key_rest}")
            found.append(f"[a-z0-9]{re.escape(part[0].upper())}(?i:{rest}){key_rest}")
        return found


_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=8192)
def field_words(field: str) -> str:
    """``payment.userCardNumber`` → ``_payment_user_card_number``."""
    return "_" + _NON_WORD.sub("_", _CAMEL.sub(r"\1_\2", field).lower())


def _normal_word(word: str) -> str:
    return _NON_WORD.sub("_", word.lower()).strip("_")


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)

    def add(self, rule: Rule) -> None:
        if any(r.id == rule.id for r in self.rules):
            raise SettingsError(f"{rule.source}: rule id {rule.id!r} is defined twice")
        self.rules.append(rule)

    def extend(self, rules: Iterable[Rule]) -> None:
        for rule in rules:
            self.add(rule)


def _line_of(text: str, needle: str) -> int:
    pos = text.find(needle)
    return text.count("\n", 0, pos) + 1 if pos >= 0 else 1


def parse_rule(raw: dict[str, Any], source: str, text: str = "") -> Rule:
    """One rule from its TOML table; errors name the file, line and field."""
    rule_id = str(raw.get("id", "?"))
    needle = f'id = "{rule_id}"'
    where = f"{source}:{_line_of(text, needle)}"

    def fail(fld: str, why: str) -> SettingsError:
        return SettingsError(f"{where}: rule {rule_id!r}, field {fld}: {why}")

    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise fail(sorted(unknown)[0], "unknown field")
    for required in ("id", "kind", "pattern"):
        if required not in raw:
            raise fail(required, "missing")
    try:
        kind = FindingKind(raw["kind"])
    except ValueError:
        raise fail("kind", f"not one of {', '.join(k.value for k in FindingKind)}") from None
    try:
        pattern = re.compile(raw["pattern"])
    except re.error as exc:
        raise fail("pattern", f"does not compile: {exc}") from None
    prefilter = raw.get("prefilter")
    if prefilter is not None:
        try:
            re.compile(prefilter.encode())
        except re.error as exc:
            raise fail("prefilter", f"does not compile: {exc}") from None
    keywords = tuple(raw.get("keywords", ()))
    if not keywords and not prefilter:
        raise fail("keywords", "a rule needs keywords or a prefilter")
    validator = raw.get("validator")
    if validator is not None:
        try:
            get_validator(validator)
        except KeyError as exc:
            raise fail("validator", str(exc)) from None
    examples = raw.get("examples", {})
    return Rule(
        id=rule_id,
        kind=kind,
        pattern=pattern,
        keywords=keywords,
        prefilter=prefilter,
        group=int(raw.get("group", 0)),
        validator=validator,
        min_entropy=float(raw.get("min_entropy", 0.0)),
        bare_context=tuple(raw.get("bare_context", ())),
        in_text_without_context=bool(raw.get("in_text_without_context", False)),
        description=str(raw.get("description", "")),
        true_positives=tuple(examples.get("true_positive", ())),
        false_positives=tuple(examples.get("false_positive", ())),
        source=source,
    )


def load_rule_text(text: str, source: str) -> list[Rule]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{source}: not valid TOML: {exc}") from None
    return [parse_rule(raw, source, text) for raw in data.get("rule", [])]


def load_rule_file(path: Path) -> list[Rule]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read rule file: {exc.strerror}") from None
    return load_rule_text(text, str(path))


def builtin_rule_files() -> list[tuple[str, str]]:
    """(name, text) of every rule file shipped in the package."""
    folder = resources.files("breachdesk.detect") / "rules"
    return sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def default_rules(extra_files: Iterable[Path] = ()) -> RuleSet:
    """The built-in rules, then those of each user rule file."""
    rules = RuleSet()
    for name, text in builtin_rule_files():
        rules.extend(load_rule_text(text, f"breachdesk/detect/rules/{name}"))
    for path in extra_files:
        rules.extend(load_rule_file(path))
    return rules
