"""Why a suggestion was made, in words: shared domains, a common period, shared kinds of
collaboration and the two interests that fit best. Rendered in the reader's language; no raw
numbers (scores, cosines) ever reach the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from babel.lists import format_list

from service.kit import i18n, vocabulary
from service.kit.i18n import _, ngettext
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS

PHRASE_CHARS = 80
Period = tuple[dt.date | None, dt.date | None]  # open ends are None
EN_DASH = "\u2013"  # typographic range dash, as in "March\u2013June 2027"


@dataclass(frozen=True)
class InterestPair:
    """The best-fitting sought and offered interests; `query_seeks` if the query is the one seeking."""

    seek: str
    offer: str
    query_seeks: bool


@dataclass(frozen=True)
class ExplanationParts:
    """The facts behind a suggestion, language-neutral (codes, dates, the two phrases)."""

    domains: tuple[str, ...]
    period: Period | None
    engagements: tuple[str, ...]
    pair: InterestPair | None


def shorten(text: str, limit: int = PHRASE_CHARS) -> str:
    """The text on one line, cut at a word boundary to at most `limit` characters (with "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-") + "…"


def common_period(query: Mapping[str, Any], candidate: Mapping[str, Any]) -> Period | None:
    """The days both are available (open ends stay open); None when neither gives any date."""
    starts = [d for d in (query["available_from"], candidate["available_from"]) if d is not None]
    ends = [d for d in (query["available_until"], candidate["available_until"]) if d is not None]
    if not starts and not ends:
        return None
    return (max(starts) if starts else None, min(ends) if ends else None)


def shared_engagements(query: Sequence[str], candidate: Sequence[str]) -> tuple[str, ...]:
    """Engagements both accept, in the form's order; an empty list accepts any."""
    if not query and not candidate:
        return ()
    accepted = [set(values) if values else set(ENGAGEMENTS) for values in (query, candidate)]
    return tuple(e for e in ENGAGEMENTS if e in accepted[0] & accepted[1])


def interest_pair(pair: Mapping[str, Any] | None) -> InterestPair | None:
    """The best pair from `retrieval.best_interest_pairs` (None if a text is gone since embedding)."""
    if pair is None or not pair["query_text"] or not pair["candidate_text"]:
        return None
    query_seeks = pair["query_side"] == "seeks"
    seek, offer = (pair["query_text"], pair["candidate_text"])[:: 1 if query_seeks else -1]
    return InterestPair(seek=shorten(seek), offer=shorten(offer), query_seeks=query_seeks)


def explanation_parts(
    query: Mapping[str, Any], candidate: Mapping[str, Any], pair: Mapping[str, Any] | None
) -> ExplanationParts:
    """The facts for one suggestion from the two participant rows and their best interest pair."""
    return ExplanationParts(
        domains=tuple(d for d in DOMAINS if d in query["domains"] and d in candidate["domains"]),
        period=common_period(query, candidate),
        engagements=shared_engagements(query["engagements"], candidate["engagements"]),
        pair=interest_pair(pair),
    )


@contextmanager
def language(code: i18n.Language) -> Iterator[None]:
    """Translate in `code` inside the block (gettext reads the context variable)."""
    token = i18n.current_language.set(code)
    try:
        yield
    finally:
        i18n.current_language.reset(token)


@lru_cache(maxsize=1024)
def _month(day: dt.date, locale: str, with_year: bool = True) -> str:
    # Babel parses the locale and pattern on every call; explanations repeat the same few months.
    return format_date(day.replace(day=1), "LLLL y" if with_year else "LLLL", locale=locale)


@lru_cache(maxsize=256)
def _joined(items: tuple[str, ...], locale: str) -> str:
    return format_list(list(items), locale=locale)


def format_period(start: dt.date | None, end: dt.date | None, locale: str) -> str:
    """A period in months: "March-June 2027", "November 2026 - March 2027" (en dashes), "from March 2027"."""
    if start and end:
        if (start.year, start.month) == (end.year, end.month):
            return _month(end, locale)
        if start.year == end.year:
            return f"{_month(start, locale, with_year=False)}{EN_DASH}{_month(end, locale)}"
        return f"{_month(start, locale)} {EN_DASH} {_month(end, locale)}"
    if start:
        return _("from %(start)s") % {"start": _month(start, locale)}
    assert end is not None
    return _("until %(end)s") % {"end": _month(end, locale)}


def _pair_sentence(pair: InterestPair, names: tuple[str, str] | None) -> str:
    values = {"seek": pair.seek, "offer": pair.offer}
    if names is None:
        if pair.query_seeks:
            return _("You look for “%(seek)s”, and they offer “%(offer)s”.") % values
        return _("They look for “%(seek)s”, and you offer “%(offer)s”.") % values
    seeker, offerer = names if pair.query_seeks else names[::-1]
    return _("%(seeker)s looks for “%(seek)s”, and %(offerer)s offers “%(offer)s”.") % {
        **values, "seeker": seeker, "offerer": offerer}


def _sentences(parts: ExplanationParts, locale: str, names: tuple[str, str] | None) -> Iterator[str]:
    if parts.pair:
        yield _pair_sentence(parts.pair, names)
    if parts.domains:
        labels = vocabulary.domain_labels()
        joined = _joined(tuple(labels[d] for d in parts.domains), locale)
        yield ngettext("Shared domain: %(domains)s.", "Shared domains: %(domains)s.", len(parts.domains)) % {
            "domains": joined}
    if parts.period:
        yield _("Available in the same period: %(period)s.") % {"period": format_period(*parts.period, locale)}
    if parts.engagements:
        labels = vocabulary.engagement_labels()
        joined = _joined(tuple(labels[e] for e in parts.engagements), locale)
        yield _("Both open to: %(engagements)s.") % {"engagements": joined}


def render(parts: ExplanationParts, lang: i18n.Language, names: tuple[str, str] | None = None) -> str:
    """The explanation as sentences in `lang`: to the query participant ("you") when `names` is None,
    else about the two by name (query's name, candidate's name), e.g. for staff.
    """
    with language(lang):
        return " ".join(_sentences(parts, lang, names))
