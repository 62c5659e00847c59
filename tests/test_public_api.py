"""The public surface: ``__all__`` is complete and every name in it resolves."""

from __future__ import annotations

import breachdesk


def test_all_names_resolve() -> None:
    for name in breachdesk.__all__:
        assert hasattr(breachdesk, name), name


def test_all_is_complete() -> None:
    public = {n for n in vars(breachdesk) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(breachdesk, n)).__name__ == "module"}
    assert public - modules - {"annotations"} <= set(breachdesk.__all__)
