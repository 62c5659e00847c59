"""The languages notices are written in, and their Babel catalogs.

English is the source language; every other language has a catalog in
``locales/<lang>/LC_MESSAGES/messages.po``, compiled in memory on first use. A reader whose
locale has no catalog gets English.
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from breachdesk.errors import NoticeError

SOURCE = "en"
LANGUAGES = ("en", "ro", "de", "ja")


def negotiate(tag: str) -> str:
    """The notice language for a directory locale (BCP 47, ``pt_BR`` read as ``pt-BR``)."""
    text = tag.strip().replace("_", "-")
    if not text:
        return SOURCE
    try:
        language = Locale.parse(text, sep="-").language
    except (ValueError, UnknownLocaleError):
        language = text.split("-", 1)[0].lower()
    return language if language in LANGUAGES else SOURCE


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of ``language`` (English: the identity)."""
    if language == SOURCE:
        return NullTranslations()
    if language not in LANGUAGES:
        raise NoticeError(f"no catalog for language {language!r}; known: {', '.join(LANGUAGES)}")
    source = resources.files("breachdesk.notify") / "locales" / language / "LC_MESSAGES"
    po = source / "messages.po"
    if not po.is_file():
        raise NoticeError(f"{po}: the catalog of {language!r} is missing")
    with po.open("rb") as fh:
        try:
            catalog = read_po(fh, locale=language, abort_invalid=True)
        except Exception as exc:  # babel raises its own PoFileError and plain ValueErrors
            raise NoticeError(f"{po}: {exc}") from None
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)
