"""Loading the company directory: users, organizations and memberships."""

from breachdesk.directory.loader import load_directory, read_contacts, read_organization_names
from breachdesk.directory.model import Directory
from breachdesk.directory.rows import directory_digest, read_directory_rows

__all__ = [
    "Directory",
    "directory_digest",
    "load_directory",
    "read_contacts",
    "read_directory_rows",
    "read_organization_names",
]
