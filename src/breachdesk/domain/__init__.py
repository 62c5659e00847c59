"""Pure domain: typed records and the logic on them. Imports no I/O library."""
