"""Why a suggestion was made, in words: the interest pair that fits best in each direction (what you
seek and they offer, what they seek and you offer), shared domains, a common period and shared kinds
of collaboration. Rendered in the reader's language, as plain text (JSON, emails, CLI) or as HTML
with the terms the two quotes share marked; no raw numbers (scores, cosines) ever reach the text.

Which pair: a side's vector is the normalised mean of its interests' unit vectors, so a direction's
cosine is a constant times the sum of s_i . o_j over its (seek i, offer j) pairs: the pair of highest
cosine contributes most to that direction's fit. The cosines compared are those of the explanation
space (`interest_space`: centred per group and read in context), where the raw near ties between
neighbouring subjects come apart (evaluation/README.md). Pairs within `NEAR` of the best count as equal;
among them the first whose query-side interest this page has not quoted yet is taken, so eight
cards of one company do not all quote its one offer (deterministic: ties by position).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import snowballstemmer
from babel.dates import format_date
from markupsafe import Markup, escape
from stop_words import get_stop_words

from service.kit import i18n, vocabulary
from service.kit.i18n import _, joined, mid_sentence, ngettext
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS

PHRASE_CHARS = 80  # `shorten`'s default (kept for callers that want a one-line label)
# A quote is the whole interest up to this many characters; longer ones are cut at sentences, then
# clauses (a paragraph-long research profile is ~300-600 characters in the labelled set).
QUOTE_CHARS = 180
# Pairs whose cosines are this close to a direction's best count as equally strong (variety). In the
# explanation space (centred, in context) cosines of a top-10 pair spread over -0.16-0.70 (1st-99th
# percentile, seed 23; raw 0.78-0.92); 0, 0.01 and 0.03 gave the
# same gold-subject rate on seed 7 (90.0 %), so 0.01 is kept for variety.
NEAR = 0.01
Period = tuple[dt.date | None, dt.date | None]  # open ends are None
EN_DASH = "\u2013"  # typographic range dash, as in "March\u2013June 2027"
ELLIPSIS = "\u2026"
WORD = re.compile(r"[^\W_][\w-]*[^\W_]|[^\W_]", re.UNICODE)
MIN_TERM = 4  # shorter words ("og", "and", "IT") are never highlighted
MIN_PREFIX = 5  # "sikker" and "sikkerhet" share a term; "data" and "database" do not
MIN_STEM = 7  # a common start this long also does ("sårbarheter", "sårbarhetsanalyse"; not "produksjon", "produkt")
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
CLAUSE_END = re.compile(r"(?<=[,:])\s+|\s+(?=[\u2013\u2014-]\s)")


@dataclass(frozen=True)
class InterestPair:
    """A sought and an offered interest (quoted); `query_seeks` if the query is the one seeking.

    `shared`: lower-cased words of either quote that the other quote shares (to highlight);
    `seek_index`/`offer_index`: positions in the seeker's seeks and the offerer's offers (-1 unknown).
    """

    seek: str
    offer: str
    query_seeks: bool
    shared: tuple[str, ...] = ()
    seek_index: int = -1
    offer_index: int = -1


@dataclass(frozen=True)
class ExplanationParts:
    """The facts behind a suggestion, language-neutral (codes, dates, the quoted phrases).

    `pair`: the strongest pair of all (older callers); `pairs`: the strongest pair of each direction
    that has one, the query's own seeks first.
    """

    domains: tuple[str, ...]
    period: Period | None
    engagements: tuple[str, ...]
    pair: InterestPair | None
    pairs: tuple[InterestPair, ...] = ()

    @property
    def quoted(self) -> tuple[InterestPair, ...]:
        """The pairs the text quotes: both directions' when known, else the one `pair`."""
        return self.pairs or ((self.pair,) if self.pair else ())


@dataclass(frozen=True)
class PairOption:
    """One (query interest, candidate interest) pair of opposite sides and its cosine."""

    query_seeks: bool
    query_index: int
    candidate_index: int
    query_text: str
    candidate_text: str
    cosine: float

    @property
    def order(self) -> tuple[float, int, int]:
        """Best first: highest cosine, then positions (deterministic ties)."""
        return (-self.cosine, self.query_index, self.candidate_index)


# --- quoting ---


def shorten(text: str, limit: int = PHRASE_CHARS) -> str:
    """The text on one line, cut at a word boundary to at most `limit` characters (with "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-") + ELLIPSIS


def _pieces(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [piece for piece in pattern.split(text) if piece]


def _hits(piece: str, shared: Container[str]) -> int:
    return sum(1 for word in WORD.findall(piece) if word.lower() in shared)


def _best_window(pieces: Sequence[str], limit: int, shared: Container[str]) -> tuple[int, int]:
    """The run of pieces [i, j) within `limit` characters holding most shared words, preferring one that
    starts with a shared word (a quote opens on the reason, not on "We are 40 people in Raufoss."),
    then the earliest."""
    best, best_key = (0, 1), (-1, False)
    for i in range(len(pieces)):
        j, length = i, -1
        while j < len(pieces) and length + 1 + len(pieces[j]) <= limit:
            length, j = length + 1 + len(pieces[j]), j + 1
        key = (sum(_hits(piece, shared) for piece in pieces[i:j]), _hits(pieces[i], shared) > 0)
        if j > i and key > best_key:
            best, best_key = (i, j), key
    return best


def quote(text: str, limit: int = QUOTE_CHARS, shared: Container[str] = ()) -> str:
    """The interest as quoted: whole if it fits, else the sentences (then clauses) that fit within
    `limit` holding most `shared` words, with "…" where text is left out; never cut inside a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    for pattern in (SENTENCE_END, CLAUSE_END):
        pieces = _pieces(text, pattern)
        if len(pieces) > 1 and min(len(p) for p in pieces) <= limit:
            i, j = _best_window(pieces, limit - 2, shared)
            if j > i and len(pieces[i]) <= limit - 2:
                body = " ".join(pieces[i:j])
                if j < len(pieces):
                    body = body.rstrip(" ,.;:") + ELLIPSIS
                return (ELLIPSIS if i > 0 else "") + body
    return _at_word(text, limit)  # one clause longer than the limit: at the last word that fits


def _at_word(text: str, limit: int) -> str:
    """The words of `text` that fit in `limit` characters with "…" (a first word longer than that whole)."""
    space = text[: limit].rfind(" ")
    if space <= 0:
        first = text.split(" ", 1)[0]
        return first if first == text else first.rstrip(" ,.;:-\u2013") + ELLIPSIS
    return text[:space].rstrip(" ,.;:-\u2013") + ELLIPSIS


# --- the strongest pairs ---


def pair_options(rows: Iterable[Mapping[str, Any] | PairOption]) -> list[PairOption]:
    """Rows of `matching.service.interest_pair_options` (or any with query_side, query_text,
    candidate_text, cosine and optional positions) as options; rows whose text is gone are left out.
    Options already made are kept as they are (the suggestion cache holds them made)."""
    return [row if isinstance(row, PairOption) else
            PairOption(row["query_side"] == "seeks", int(row.get("query_position", -1)),
                       int(row.get("candidate_position", -1)), row["query_text"], row["candidate_text"],
                       float(row["cosine"]))
            for row in rows if isinstance(row, PairOption) or (row["query_text"] and row["candidate_text"])]


def strongest(options: Iterable[PairOption], quoted: Container[str] = (), near: float = NEAR) -> PairOption | None:
    """The option contributing most (highest cosine); among those within `near` of it, the first whose
    query text is not in `quoted`."""
    ranked = sorted(options, key=lambda o: o.order)
    if not ranked:
        return None
    equal = [o for o in ranked if o.cosine >= ranked[0].cosine - near]
    return next((o for o in equal if o.query_text not in quoted), ranked[0])


def strongest_per_direction(
    options: Iterable[PairOption], quoted: Container[str] = (), near: float = NEAR
) -> tuple[PairOption, ...]:
    """The strongest option of each direction present: the query seeking first, then offering."""
    options = list(options)
    found = (strongest([o for o in options if o.query_seeks == seeks], quoted, near) for seeks in (True, False))
    return tuple(o for o in found if o is not None)


@lru_cache(maxsize=65_536)
def as_pair(option: PairOption) -> InterestPair:
    """An option as the quoted pair (seeker's text first) with the words the two share."""
    seek, offer = (option.query_text, option.candidate_text)[:: 1 if option.query_seeks else -1]
    seek_index, offer_index = (option.query_index, option.candidate_index)[:: 1 if option.query_seeks else -1]
    shared = shared_terms(seek, offer)
    return InterestPair(quote(seek, shared=set(shared)), quote(offer, shared=set(shared)), option.query_seeks,
                        shared, seek_index, offer_index)


# --- shared terms ---


@lru_cache(maxsize=2)
def _stop_words() -> frozenset[str]:
    return frozenset(get_stop_words("norwegian")) | frozenset(get_stop_words("english"))


@lru_cache(maxsize=2)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=65_536)
def _keys(word: str) -> frozenset[str]:
    """What a word is compared by: itself and its Norwegian and English stems."""
    return frozenset({word, *(_stemmer(lang).stemWord(word) for lang in ("norwegian", "english"))})


@lru_cache(maxsize=16_384)
def _words(text: str) -> frozenset[str]:
    stop = _stop_words()
    return frozenset(w for w in (m.lower() for m in WORD.findall(text)) if len(w) >= MIN_TERM and w not in stop)


# Remembered per word pair: comparing every word of two texts was a tenth of a cache hit's CPU (py-spy at
# 10,000 participants), and a region's interests share a small vocabulary.
@lru_cache(maxsize=131_072)
def _same_term(a: str, b: str) -> bool:
    if _keys(a) & _keys(b):
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= MIN_PREFIX and long.startswith(short):
        return True
    common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(short))
    return common >= MIN_STEM  # compounds: "sårbarheter", "sårbarhetsanalyse"


def shared_terms(first: str, second: str) -> tuple[str, ...]:
    """Lower-cased words of either text (4+ letters, no stop words) with the same word, stem or
    5+-letter prefix in the other, sorted."""
    a, b = _words(first), _words(second)
    return tuple(sorted({x for x in a if any(_same_term(x, y) for y in b)}
                        | {y for y in b if any(_same_term(x, y) for x in a)}))


def shared_of(parts: ExplanationParts) -> tuple[str, ...]:
    """Every shared term of the quoted pairs, sorted (for a client that highlights, e.g. feed.js)."""
    return tuple(sorted({term for pair in parts.quoted for term in pair.shared}))


def highlight(text: str, terms: Container[str]) -> Markup:
    """The text HTML-escaped, each word in `terms` (lower-cased) inside <mark>."""
    parts, last = [], 0
    for match in WORD.finditer(text):
        if match.group().lower() in terms:
            parts += [escape(text[last:match.start()]), Markup("<mark>%s</mark>") % match.group()]
            last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


# --- the facts ---


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
    """One closest pair row (query_side, query_text, candidate_text), the single-pair form (None if a text is
    gone since embedding)."""
    if pair is None or not pair["query_text"] or not pair["candidate_text"]:
        return None
    query_seeks = pair["query_side"] == "seeks"
    seek, offer = (pair["query_text"], pair["candidate_text"])[:: 1 if query_seeks else -1]
    shared = shared_terms(seek, offer)
    return InterestPair(quote(seek, shared=set(shared)), quote(offer, shared=set(shared)), query_seeks, shared)


def _is_options(pair: Any) -> bool:
    return isinstance(pair, Sequence) and not isinstance(pair, (str, Mapping)) and not hasattr(pair, "keys")


def explanation_parts(
    query: Mapping[str, Any], candidate: Mapping[str, Any],
    pair: Mapping[str, Any] | Sequence[Mapping[str, Any] | PairOption] | None, quoted: Container[str] = (),
) -> ExplanationParts:
    """The facts for one suggestion from the two participant rows and their interest pairs: one best
    pair row (`interest_pair`'s form), or every direction's options (`interest_pair_options`), of
    which each direction's strongest is quoted (preferring query interests not in `quoted`)."""
    base = ExplanationParts(
        domains=tuple(d for d in DOMAINS if d in query["domains"] and d in candidate["domains"]),
        period=common_period(query, candidate),
        engagements=shared_engagements(query["engagements"], candidate["engagements"]),
        pair=None,
    )
    if pair is None or not _is_options(pair):
        return replace(base, pair=interest_pair(pair))  # type: ignore[arg-type]
    chosen = strongest_per_direction(pair_options(pair), quoted)  # type: ignore[arg-type]
    pairs = tuple(as_pair(o) for o in chosen)
    top = min(range(len(chosen)), key=lambda i: chosen[i].order, default=None)
    return replace(base, pair=None if top is None else pairs[top], pairs=pairs)


def quoted_query_texts(options: Sequence[Mapping[str, Any] | PairOption] | None, parts: ExplanationParts) -> set[str]:
    """The query's own interests (as in `options`' query_text) that `parts` quotes (for `quoted`)."""
    found = set()
    for o in pair_options(options or ()):
        for p in parts.pairs:
            index = p.seek_index if p.query_seeks else p.offer_index
            if o.query_seeks == p.query_seeks and o.query_index == index:
                found.add(o.query_text)
    return found


# --- words ---


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


def _quotes(pair: InterestPair, html: bool) -> dict[str, Any]:
    if not html:
        return {"seek": pair.seek, "offer": pair.offer}
    terms = set(pair.shared)
    return {"seek": highlight(pair.seek, terms), "offer": highlight(pair.offer, terms)}


def _pair_sentence(pair: InterestPair, names: tuple[str, str] | None, html: bool = False) -> str:
    values = _quotes(pair, html)
    wrap = (lambda s: escape(s)) if html else (lambda s: s)
    if names is None:
        if pair.query_seeks:
            return wrap(_("You look for “%(seek)s”, and they offer “%(offer)s”.")) % values
        return wrap(_("They look for “%(seek)s”, and you offer “%(offer)s”.")) % values
    seeker, offerer = names if pair.query_seeks else names[::-1]
    return wrap(_("%(seeker)s looks for “%(seek)s”, and %(offerer)s offers “%(offer)s”.")) % {
        **values, "seeker": seeker, "offerer": offerer}


def _labels(codes: Sequence[str], labels: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(mid_sentence(labels[code]) for code in codes)


def _sentences(
    parts: ExplanationParts, locale: str, names: tuple[str, str] | None, html: bool = False
) -> Iterator[str]:
    wrap = (lambda s: escape(s)) if html else (lambda s: s)
    for pair in parts.quoted:
        yield _pair_sentence(pair, names, html)
    if parts.domains:
        domains = joined(_labels(parts.domains, vocabulary.domain_labels()), locale)
        yield wrap(ngettext("Shared domain: %(domains)s.", "Shared domains: %(domains)s.",
                            len(parts.domains)) % {"domains": domains})
    if parts.period:
        yield wrap(_("Available in the same period: %(period)s.") % {"period": format_period(*parts.period, locale)})
    if parts.engagements:
        engagements = joined(_labels(parts.engagements, vocabulary.engagement_labels()), locale)
        yield wrap(_("Both open to: %(engagements)s.") % {"engagements": engagements})


def render(parts: ExplanationParts, lang: i18n.Language, names: tuple[str, str] | None = None) -> str:
    """The explanation as sentences in `lang`: to the query participant ("you") when `names` is None,
    else about the two by name (query's name, candidate's name), e.g. for staff.
    """
    with language(lang):
        return " ".join(_sentences(parts, lang, names))


def render_html(parts: ExplanationParts, lang: i18n.Language, names: tuple[str, str] | None = None) -> Markup:
    """`render` as safe HTML: everything escaped, the terms the two quotes of a pair share in <mark>."""
    with language(lang):
        return Markup(" ").join(_sentences(parts, lang, names, html=True))


@lru_cache(maxsize=8192)
def render_cached(
    parts: ExplanationParts, lang: i18n.Language, names: tuple[str, str] | None = None
) -> tuple[str, Markup]:
    """(`render`, `render_html`) of parts, remembered (a feed page renders the same cards again and again)."""
    return render(parts, lang, names), render_html(parts, lang, names)
