"""Tips for an empty feed, computed from the profile: only those that would widen who fits (issue 12, wall 2).

Each tip loosens one of the ranker's hard constraints (docs/contracts.md §6) or gives it more to
compare: listed kinds of collaboration must overlap, availability windows must overlap, a domain must
be shared; more interests, and interests in the other language, give the lexical and semantic matching
more words. A tip whose constraint cannot be loosened further is left out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.kit.i18n import _, current_language, joined, mid_sentence
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS, domain_labels, engagement_labels

# A window that ends within this many days (or starts later than this) is narrow: most postings here
# run a semester (about 120 days), so a window shorter than that leaves out many of them.
NARROW_DAYS = 120
# Fewer interests than this give the ranker little to compare (the form has three boxes per side).
FEW_INTERESTS = 3
# Small words only one of the two languages uses; enough to tell a Bokmål sentence from an English one.
_NB_WORDS = frozenset(["og", "på", "med", "av", "til", "som", "jeg", "ikke", "eller", "mot", "innen", "fra",
                       "å", "er", "en", "et", "vi", "ønsker"])
_EN_WORDS = frozenset(["and", "the", "of", "with", "to", "as", "my", "not", "or", "from", "within", "is",
                       "we", "a", "an", "are", "would", "like", "in", "on", "at", "about"])
_WORD = re.compile(r"[a-zæøå]+")


@dataclass(frozen=True)
class Tip:
    """One concrete change to the profile, and where to make it."""

    key: str  # engagements, availability, domains, language, interests
    text: str
    href: str


def written_in(text: str) -> str | None:
    """"nb" or "en" when a text's small words (or æ, ø, å) say so; None when it cannot tell."""
    words = _WORD.findall(text.lower())
    nb = sum(w in _NB_WORDS for w in words) + (2 if re.search("[æøå]", text.lower()) else 0)
    en = sum(w in _EN_WORDS for w in words)
    if nb == en:
        return None
    return "nb" if nb > en else "en"


def tips(profile: Mapping[str, Any], today: dt.date) -> list[Tip]:
    """The tips that apply to this profile, most effective first."""
    found = [_engagements(profile), _availability(profile, today), _domains(profile), _other_language(profile),
             _more_interests(profile)]
    return [tip for tip in found if tip is not None]


def _engagements(profile: Mapping[str, Any]) -> Tip | None:
    chosen = list(profile["engagements"])
    if not chosen or len(chosen) == len(ENGAGEMENTS):
        return None  # none listed already accepts any kind
    labels = engagement_labels()
    missing = [labels[e] for e in ENGAGEMENTS if e not in chosen][:2]
    return Tip("engagements", _(
        "You only look for %(chosen)s. Tick more kinds of collaboration, for example %(missing)s, or none to "
        "accept any.") % {"chosen": _listing([mid_sentence(labels[e]) for e in chosen]),
                          "missing": _listing([mid_sentence(m) for m in missing])}, "/me/edit#engagements-thesis")


def _availability(profile: Mapping[str, Any], today: dt.date) -> Tip | None:
    start, end = profile["available_from"], profile["available_until"]
    horizon = today + dt.timedelta(days=NARROW_DAYS)
    if end is not None and end < horizon:
        text = _("Your availability ends on %(date)s. A later end date, or none, lets more people fit.")
        return Tip("availability", text % {"date": end.isoformat()}, "/me/edit#available_until")
    if start is not None and start > horizon:
        text = _("Your availability starts on %(date)s. An earlier start, or none, lets more people fit.")
        return Tip("availability", text % {"date": start.isoformat()}, "/me/edit#available_from")
    return None


def _domains(profile: Mapping[str, Any]) -> Tip | None:
    chosen = list(profile["domains"])
    if len(chosen) >= len(DOMAINS):
        return None
    labels = domain_labels()
    missing = [mid_sentence(labels[d]) for d in DOMAINS if d not in chosen]
    return Tip("domains", _("Does your work touch %(missing)s too? Add the field, and people there can find you.")
               % {"missing": _listing(missing, _("or"))}, "/me/edit#domains-" + chosen[0])


def _other_language(profile: Mapping[str, Any]) -> Tip | None:
    other = "en" if profile["language"] == "nb" else "nb"
    interests = [*profile["offers"], *profile["seeks"]]
    if any(written_in(text) == other for text in interests):
        return None
    if other == "en":
        text = _("Write one of your interests in English too: many companies and researchers here write in English.")
    else:
        text = _("Write one of your interests in Norwegian too: most companies here write in Norwegian.")
    return Tip("language", text, "/me/edit#offers-1")


def _more_interests(profile: Mapping[str, Any]) -> Tip | None:
    if len(profile["offers"]) + len(profile["seeks"]) >= FEW_INTERESTS:
        return None
    return Tip("interests", _("Describe one more thing you offer or look for: every interest is one more way to "
                              "fit someone."), "/me/edit#offers-1")


def _listing(items: list[str], conjunction: str | None = None) -> str:
    """"a", "a and b", "a, b and c" in the page's language (kit.i18n.joined)."""
    return joined(tuple(items), current_language.get(), conjunction)
