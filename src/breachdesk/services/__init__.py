"""Use cases: the only layer the CLI and the web app call. Each module orchestrates one."""
