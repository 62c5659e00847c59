"""breachdesk: from a breached vendor's leaked export to a finished, auditable response.

The library is the product; the CLI is a thin face over ``breachdesk.services``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from breachdesk.errors import (  # noqa: E402
    BreachdeskError,
    DirectoryError,
    ExportError,
    InputError,
    SchemaError,
    SettingsError,
    StoreError,
)
from breachdesk.services.assess import AssessRequest, AssessResult, assess  # noqa: E402
from breachdesk.settings import Settings, load_settings  # noqa: E402
from breachdesk.taxonomy import Category, FindingKind  # noqa: E402

__all__ = [
    "AssessRequest",
    "AssessResult",
    "BreachdeskError",
    "Category",
    "DirectoryError",
    "ExportError",
    "FindingKind",
    "InputError",
    "SchemaError",
    "Settings",
    "SettingsError",
    "StoreError",
    "__version__",
    "assess",
    "load_settings",
]
