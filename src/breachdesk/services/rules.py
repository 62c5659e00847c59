"""The rules use case: list the detection rules in force, and test a value against them
(the value comes from standard input, never the command line, and is shown masked)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from breachdesk.detect.rules import RuleSet, default_rules
from breachdesk.detect.scanner import Scanner, mask_secret
from breachdesk.settings import Settings, load_settings

# The URL analysis is code, not a pattern; it reports under these rule ids.
URL_RULES = (
    ("url-userinfo-password", "credential", "password in a URL's userinfo (user:pass@host)"),
    ("url-secret-param", "credential", "query/fragment parameter named like a secret, secret-like"),
    ("url-password-param", "credential", "password/passwd/pwd/pass/secret/pin parameter, 4+ chars"),
    ("url-oauth-code", "credential", "OAuth authorization code on a callback path"),
    ("url-secret-path", "credential", "secret-looking path segment after reset/invite/verify/…"),
    ("url-email", "email_in_url", "email address anywhere in a URL (decoded)"),
)


@dataclass(frozen=True)
class RuleInfo:
    id: str
    kind: str
    description: str
    source: str
    validator: str


@dataclass(frozen=True)
class TestHit:
    rule: str
    kind: str
    masked: str
    detail: dict[str, object]


def rule_files(settings: Settings, workspace: Path | None) -> list[Path]:
    """User rule files named in the settings (relative to the workspace)."""
    base = workspace or Path()
    return [p if p.is_absolute() else base / p for p in map(Path, settings.rule_files)]


def _rules(workspace: Path | None) -> RuleSet:
    settings = load_settings(workspace)
    return default_rules(rule_files(settings, workspace))


def list_rules(workspace: Path | None = None) -> list[RuleInfo]:
    found = [
        RuleInfo(r.id, r.kind.value, r.description, r.source, r.validator or "")
        for r in _rules(workspace).rules
    ]
    found += [RuleInfo(i, k, d, "breachdesk/detect/urls.py", "") for i, k, d in URL_RULES]
    return sorted(found, key=lambda r: (r.kind, r.id))


def test_value(text: str, field: str = "value", workspace: Path | None = None) -> list[TestHit]:
    """Every finding in ``text`` as a value of ``field``, masked."""
    scanner = Scanner(_rules(workspace), b"\0" * 32)
    value = text.rstrip("\r\n")
    return [
        TestHit(h.rule, h.kind.value, mask_secret(h.kind, h.secret), h.detail)
        for h in scanner.scan_value(field, value)
    ]
