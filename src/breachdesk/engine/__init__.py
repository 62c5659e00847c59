"""The data engine seam: the scan that turns work units into aggregates, and the matcher
that joins those aggregates to the directory (DuckDB, embedded)."""
