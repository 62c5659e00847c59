"""The one exception tree of breachdesk, and how each error leaves the program.

    BreachdeskError                 exit 3, HTTP 500 (unless a subclass says otherwise)
     ├── InputError                 exit 2, HTTP 400: the user's input or usage is wrong
     │    ├── ExportError           an export path is unreadable, or nothing in it is readable
     │    ├── DirectoryError        a directory file or column is missing, a value is invalid,
     │    │                         two users share one normalised email
     │    ├── SettingsError         breachdesk.toml or a setting does not validate
     │    ├── SchemaError           a workspace file carries a schema this version does not know
     │    └── NoticeError           a notice cannot be composed: template, catalog, missing fact
     ├── DeliveryError              exit 2, HTTP 503: the mail server cannot be reached or
     │                              refuses the session (not one recipient: that is recorded)
     └── StoreError                 the workspace store cannot be opened or migrated

Every message is one line that names the file, line and field where there is one, and
never contains a raw personal value.
"""

from __future__ import annotations


class BreachdeskError(Exception):
    """Base of every error breachdesk raises on purpose."""

    exit_code = 3
    http_status = 500


class InputError(BreachdeskError):
    """Bad input or usage: the message names what to fix."""

    exit_code = 2
    http_status = 400


class ExportError(InputError):
    """An export path cannot be read, or no input file has a known shape."""


class DirectoryError(InputError):
    """The company directory is missing a file or column, or holds invalid rows."""


class SettingsError(InputError):
    """A settings file or value is invalid."""


class SchemaError(InputError):
    """A workspace file has a schema this version cannot read."""


class NoticeError(InputError):
    """A notice cannot be composed: a template or catalog error, a fact the notice needs."""


class DeliveryError(BreachdeskError):
    """The SMTP server is unreachable or refuses the session; the outbox stays consistent."""

    exit_code = 2
    http_status = 503


class StoreError(BreachdeskError):
    """The store could not be opened, migrated or written."""


EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
