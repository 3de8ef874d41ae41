"""Labels for themes: their most distinctive terms, by class-based TF-IDF (BERTopic's c-TF-IDF).

Pure (no I/O). Words are lower-cased, stop words dropped (Norwegian from the `stop-words` package,
English from scikit-learn's list) and stemmed with Snowball (`snowballstemmer`, no downloads), so
"sikkerheten" and "sikkerhet" count as one term; a term is shown as its most frequent spelling.
Norwegian and English texts are counted apart, which gives each theme a label in each language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import snowballstemmer
from stop_words import get_stop_words

from service.mapping.themes import class_tfidf

LANGUAGES = ("nb", "en")
WORD = re.compile(r"[^\W\d_][\w/-]*[^\W_]|[^\W\d_]", re.UNICODE)
MIN_LENGTH = 3
LABEL_TERMS = 3  # terms in a label ("OT, SCADA, sikkerhet")
TERMS_KEPT = 8  # terms stored per theme
# Words of the registration forms' usual sentences in both languages, which say nothing about a
# subject ("jeg kan bidra med", "we are looking for"): measured as the top c-TF-IDF terms of every
# theme of the demo data before they were dropped. The second group are the kinds of collaboration
# (a profile field of their own, not a subject) and the verbs of the demo's sentences: with the themes
# read in context (themes.in_context) they still labelled 10 of the demo's 34 themes ("topic, thesis,
# wants", "internship, intern, contribute", "knyttet, bedre, tilby").
FORM_WORDS = frozenset(
    {
        "bidra",
        "søker",
        "ønsker",
        "trenger",
        "kan",
        "jobbe",
        "jobb",
        "gjerne",
        "hjelp",
        "erfaring",
        "innen",
        "looking",
        "seeking",
        "want",
        "help",
        "need",
        "needs",
        "work",
        "working",
        "experience",
        "interested",
        "offer",
        "offers",
        "can",
        "within",
        "etc",
        "dvs",
        "masteroppgave",
        "bacheloroppgave",
        "oppgave",
        "oppgaver",
        "studentoppgaver",
        "praksis",
        "praksisplass",
        "sommerjobb",
        "sommerstudent",
        "deltidsjobb",
        "deltidsstilling",
        "mentor",
        "veiledning",
        "tilby",
        "bedre",
        "gjør",
        "knyttet",
        "jobbet",
        "arbeider",
        "konkret",
        "hjelpe",
        "vant",
        "studiet",
        "studenter",
        "student",
        "students",
        "thesis",
        "theses",
        "topic",
        "internship",
        "intern",
        "interns",
        "summer",
        "job",
        "jobs",
        "mentoring",
        "wants",
        "write",
        "contribute",
        "currently",
        "taking",
        "use",
        "look",
        "better",
        "way",
        "dedicated",
        "coursework",
        "hands-on",
    }
)


@lru_cache
def stop_words(language: str) -> frozenset[str]:
    """The stop words of a language ("nb" or "en"), form words included."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # not at start-up (mapping.themes)

    words = get_stop_words("norwegian") if language == "nb" else ENGLISH_STOP_WORDS
    return frozenset(words) | FORM_WORDS


@lru_cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("norwegian" if language == "nb" else "english")


def words(text: str, language: str) -> list[str]:
    """The lower-cased words of a text, stop words and very short words left out."""
    stop = stop_words(language)
    return [w for w in WORD.findall(text.lower()) if len(w) >= MIN_LENGTH and w not in stop]


@lru_cache(maxsize=65_536)
def stems(text: str, language: str) -> tuple[tuple[str, str], ...]:
    """(stem, word) for every kept word of a text (cached: forms and postings repeat texts)."""
    kept = words(text, language)
    return tuple(zip(_stemmer(language).stemWords(kept), kept, strict=True))


def count_terms(
    texts: Sequence[str], themes: Sequence[int], k: int, language: str, owners: Sequence[int], min_owners: int
) -> tuple[np.ndarray, list[str]]:
    """(counts int (k, V), shown spelling of each of the V terms): stems per theme (k themes, 0..k-1).

    A term written by fewer than `min_owners` participants (owners (n,): each text's participant) is
    never counted: a label must not name one company's product or one person (the public page's k >= 5).
    """
    vocabulary: dict[str, int] = {}
    spellings: list[Counter[str]] = []
    writers: list[set[int]] = []
    cells: Counter[tuple[int, int]] = Counter()
    for text, theme, owner in zip(texts, themes, owners, strict=True):
        for stem, word in stems(text, language):
            index = vocabulary.setdefault(stem, len(vocabulary))
            if index == len(spellings):
                spellings.append(Counter())
                writers.append(set())
            spellings[index][word] += 1
            writers[index].add(owner)
            cells[(theme, index)] += 1
    counts = np.zeros((k, len(vocabulary)), dtype=np.int64)
    for (theme, index), n in cells.items():
        counts[theme, index] = n if len(writers[index]) >= min_owners else 0
    return counts, [spelling.most_common(1)[0][0] for spelling in spellings]


def top_terms(scores: np.ndarray, shown: Sequence[str], n: int) -> list[list[str]]:
    """Per theme (row of scores (k, V)), the n terms of highest score above zero, best first."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    return [[shown[j] for j in row if scores[i, j] > 0] for i, row in enumerate(order)]


def theme_terms(
    texts: Sequence[str],
    languages: Sequence[str],
    themes: Sequence[int],
    k: int,
    owners: Sequence[int] | None = None,
    min_owners: int = 1,
) -> dict[str, list[list[str]]]:
    """language -> per theme (0..k-1) its most distinctive terms in that language's texts (terms of
    fewer than `min_owners` participants, `owners` (n,) naming each text's, left out)."""
    owners = list(range(len(texts))) if owners is None else owners
    result: dict[str, list[list[str]]] = {}
    for language in LANGUAGES:
        chosen = [i for i, lang in enumerate(languages) if lang == language]
        counts, shown = count_terms(
            [texts[i] for i in chosen],
            [themes[i] for i in chosen],
            k,
            language,
            [owners[i] for i in chosen],
            min_owners,
        )
        result[language] = top_terms(class_tfidf(counts), shown, TERMS_KEPT) if shown else [[] for _ in range(k)]
    return result


def label(terms: Iterable[str]) -> str:
    """A theme's label from its terms: the first `LABEL_TERMS`, comma separated."""
    return ", ".join(list(terms)[:LABEL_TERMS])
