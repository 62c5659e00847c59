"""Loading the company directory: users, organizations and memberships."""

from breachdesk.directory.loader import Directory, directory_digest, load_directory

__all__ = ["Directory", "directory_digest", "load_directory"]
