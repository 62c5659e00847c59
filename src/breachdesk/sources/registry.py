"""The registry of readers. Built-in readers register here exactly as a plug-in would."""

from __future__ import annotations

from collections.abc import Iterator

from breachdesk.sources.base import Reader

_READERS: dict[str, Reader] = {}


def register_reader(reader: Reader) -> Reader:
    if reader.name in _READERS:
        raise ValueError(f"reader {reader.name!r} is already registered")
    _READERS[reader.name] = reader
    return reader


def get_reader(name: str) -> Reader:
    _load_builtins()
    return _READERS[name]


def readers() -> Iterator[Reader]:
    _load_builtins()
    yield from _READERS.values()


def _load_builtins() -> None:
    # importing a module runs its register_reader calls; each reader's sniff is specific
    # enough that the order does not decide between vendors
    import breachdesk.sources.amplitude
    import breachdesk.sources.ga4
    import breachdesk.sources.mixpanel
    import breachdesk.sources.posthog
    import breachdesk.sources.segment  # noqa: F401
