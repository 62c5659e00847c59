"""breachdesk: from a breached vendor's leaked export to a finished, auditable response.

The library is the product; the CLI is a thin face over ``breachdesk.services``.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
from breachdesk.impact import IMPACT_SCHEMA, read_impact
from breachdesk.services.assess import AssessRequest, AssessResult, assess
from breachdesk.settings import Settings, load_settings
from breachdesk.taxonomy import Category, FindingKind

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
