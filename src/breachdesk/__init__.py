"""breachdesk: from a breached vendor's leaked export to a finished, auditable response.

The library is the product; the CLI is a thin face over ``breachdesk.services``.
"""

from __future__ import annotations

__version__ = "0.1.0"

import typing as _typing

from breachdesk.errors import (
    BreachdeskError,
    DeliveryError,
    DirectoryError,
    ExportError,
    InputError,
    NoticeError,
    SchemaError,
    SettingsError,
    StoreError,
)
from breachdesk.taxonomy import Category, FindingKind

if _typing.TYPE_CHECKING:
    from breachdesk.impact import IMPACT_SCHEMA, read_impact
    from breachdesk.services.assess import AssessRequest, AssessResult, assess
    from breachdesk.settings import Settings, load_settings

# Imported on first use: a scanning process imports ``breachdesk.engine.scan`` and nothing
# of the services, the store or the reports (each process would otherwise hold them all);
# ``breachdesk --help`` or ``--version`` needs no settings (pydantic is a third of a second).
_LAZY = {
    "Settings": "breachdesk.settings",
    "load_settings": "breachdesk.settings",
    "IMPACT_SCHEMA": "breachdesk.impact",
    "read_impact": "breachdesk.impact",
    "AssessRequest": "breachdesk.services.assess",
    "AssessResult": "breachdesk.services.assess",
    "assess": "breachdesk.services.assess",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'breachdesk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "IMPACT_SCHEMA",
    "AssessRequest",
    "AssessResult",
    "BreachdeskError",
    "Category",
    "DeliveryError",
    "DirectoryError",
    "ExportError",
    "FindingKind",
    "InputError",
    "NoticeError",
    "SchemaError",
    "Settings",
    "SettingsError",
    "StoreError",
    "__version__",
    "assess",
    "load_settings",
    "read_impact",
]
