"""Settings: defaults embedded here, overridden by a workspace's ``breachdesk.toml``, then
by ``BREACHDESK_*`` environment variables.

Defaults are the safe ones: dry run on, values masked, the store inside the workspace.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

import tomli_w
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from breachdesk.domain.hostname import check_verify_url
from breachdesk.errors import SettingsError
from breachdesk.private import write_private

SETTINGS_FILE = "breachdesk.toml"


class IdentityKeys(BaseSettings):
    """Extra field names, beyond each reader's own, that identify a person or organization."""

    user_ids: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    device_ids: list[str] = Field(default_factory=list)
    org_keys: list[str] = Field(default_factory=list)


class SmtpSettings(BaseSettings):
    """Where notices are delivered. The password never lives in the file: name the
    environment variable that holds it."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, gt=0, lt=65536)
    starttls: Literal["auto", "require", "off"] = "auto"
    username: str = ""
    password_env: str = Field(default="BREACHDESK_SMTP_PASSWORD", pattern=r"^[A-Z_][A-Z0-9_]*$")
    timeout_seconds: float = Field(default=30.0, gt=0)
    connections: int = Field(default=4, ge=1, le=64)


class NotifySettings(BaseSettings):
    """How notices read and how fast they go out."""

    company: str = Field(
        default="", description="the company's name (an incident detail: incident set --company)"
    )
    verify_url: str = Field(
        default="",
        description="the official page where a reader checks a notice: https, a host name "
        "on an official domain (an incident detail: incident set --verify-url)",
    )
    per_second: float = Field(default=50.0, ge=0, description="overall pace; 0 = unpaced")
    per_domain_per_second: float = Field(
        default=10.0, ge=0, description="pace per recipient domain; 0 = unpaced"
    )
    max_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=60.0, ge=0)
    lease_seconds: float = Field(default=120.0, gt=0)
    batch: int = Field(default=200, ge=1, le=10_000)

    @field_validator("verify_url")
    @classmethod
    def _official_page(cls, value: str) -> str:
        if value:  # empty: not set here (the incident record holds it)
            check_verify_url(value)
        return value


SHORTENERS = (
    "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly",
    "rebrand.ly", "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "s.id", "lnkd.in",
    "bl.ink", "short.io", "v.gd", "qrco.de", "tr.im", "x.co", "trib.al", "soo.gd", "clck.ru",
)  # fmt: skip


class PhishingSettings(BaseSettings):
    """The message check: the receiving servers whose Authentication-Results are believed
    (their authserv-ids; none by default, since anyone can write that header), the link
    shorteners, and the largest message read."""

    trusted_authserv_ids: list[str] = Field(default_factory=list)
    shorteners: list[str] = Field(default_factory=lambda: list(SHORTENERS))
    max_message_bytes: int = Field(default=10 << 20, gt=0)


class Settings(BaseSettings):
    """An incident's settings (``breachdesk.toml`` in its workspace)."""

    model_config = SettingsConfigDict(
        env_prefix="BREACHDESK_", env_nested_delimiter="__", extra="forbid"
    )
    toml_path: ClassVar[Path | None] = None

    inputs: list[str] = Field(default_factory=list)
    directory: str | None = None
    mapping: str | None = Field(default=None, description="the --mapping file of the inputs")
    store_url: str = "sqlite:///desk.db"
    hmac_key_path: str = "keys/hmac.key"
    # no demo values: the incident record holds the company's identity (incident set); these
    # are read only where the record has none
    official_domains: list[str] = Field(default_factory=list)
    sender: str = ""
    dkim_selectors: list[str] = Field(default_factory=lambda: ["bd2026"])
    dry_run: bool = True
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    identity_keys: IdentityKeys = Field(default_factory=IdentityKeys)
    phishing: PhishingSettings = Field(default_factory=PhishingSettings)
    max_record_bytes: int = Field(default=1 << 20, gt=0)
    workers: int = Field(default=0, ge=0, description="scan processes; 0 = one per core")
    engine_memory_mb: int = Field(
        default=160,
        ge=16,
        description="MB the embedded engine groups and matches in (it spills to the run's"
        " folder past it, and doubles it, with a warning, for a step that runs short)",
    )
    allow_duplicate_emails: bool = False
    rule_files: list[str] = Field(
        default_factory=list, description="user rule files (TOML), relative to the workspace"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return tuple(sources)


def load_settings(workspace: Path | None = None, **overrides: Any) -> Settings:
    """Settings for ``workspace`` (its ``breachdesk.toml`` if present), with ``overrides``."""
    path = workspace / SETTINGS_FILE if workspace is not None else None
    if path is not None and path.exists():
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    bound = type("WorkspaceSettings", (Settings,), {"toml_path": path if path else None})
    try:
        return bound(**overrides)  # type: ignore[no-any-return]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SettingsError(f"{path or 'settings'}: field {field}: {first['msg']}") from None


def write_settings(workspace: Path, settings: Settings) -> Path:
    """Write the incident's settings to ``WORKSPACE/breachdesk.toml``."""
    data = settings.model_dump(mode="json", exclude_none=True)
    path = workspace / SETTINGS_FILE
    write_private(path, tomli_w.dumps(data).encode("utf-8"))
    return path
