"""Norwegian Bokmål and English: gettext catalogs (Babel .po files) and the request's language."""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Language = Literal["nb", "en"]
LANGUAGES: tuple[Language, ...] = ("nb", "en")
DEFAULT_LANGUAGE: Language = "nb"
LOCALES = Path(__file__).parent.parent / "locales"

current_language: ContextVar[Language] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@lru_cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalog for a language, compiled in memory from its .po file (English is the source)."""
    po_file = LOCALES / language / "LC_MESSAGES" / "messages.po"
    if not po_file.exists():
        return _gettext.NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str) -> str:
    """Translate a message into the current language."""
    return translations(current_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a plural form into the current language."""
    return translations(current_language.get()).ngettext(singular, plural, n)


_ = gettext


def preferred_language(accept_language: str | None) -> Language | None:
    """A first visit's language from the browser's Accept-Language: nb/nn/no → Bokmål, another → English.

    None when the header names no language (absent, empty or only `*`): Koble's default then applies.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            weight = float(quality)
        except ValueError:
            continue
        if tag and tag != "*" and weight > 0:
            ranked.append((-weight, position, tag.lower()))
    if not ranked:
        return None
    return "nb" if min(ranked)[2].split("-")[0] in ("nb", "nn", "no") else "en"


def pick_language(*candidates: str | None) -> Language:
    """The first supported language among the candidates (query, cookie, Accept-Language...)."""
    for candidate in candidates:
        if not candidate:
            continue
        code = candidate.strip().lower()[:2]
        if code in ("nb", "no", "nn"):
            return "nb"
        if code == "en":
            return "en"
    return DEFAULT_LANGUAGE
