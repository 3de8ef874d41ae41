"""The rankers `koble evaluate --variant` compares, all over the same allowed candidates.

- `random`: allowed candidates (hard constraints applied) in a seeded random order: the floor.
- `bm25`: Okapi BM25 (the maintained `bm25s` library) of the query's seeks against the candidates'
  offers plus the query's offers against their seeks; Norwegian and English stop words removed,
  no stemming. The lexical baseline without embeddings.
- `one_directional`, `reciprocal`, `reciprocal_lexical`, `full`: the real ranker
  (`service.matching.scoring.score`) with the weights cut down as in `scoring.Weights.variant`.

Every variant ranks only the candidates the hard constraints allow, so differences between them
are differences in ordering, never in what may be suggested.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_NORWEGIAN

from evaluation.features import QueryFeatures, ranked, scored
from service.matching.scoring import VARIANTS as RANKER_VARIANTS
from service.matching.scoring import Variant as RankerVariant
from service.matching.scoring import Weights

Variant = Literal["random", "bm25", "one_directional", "reciprocal", "reciprocal_lexical", "full"]
VARIANTS: tuple[Variant, ...] = ("random", "bm25", *RANKER_VARIANTS)
STOPWORDS = sorted({*STOPWORDS_EN, *STOPWORDS_NORWEGIAN})
TOKEN = r"(?u)\b\w\w+\b"
Ranked = dict[str, list[tuple[str, float]]]  # query -> (candidate, score), best first, all allowed


@dataclass(frozen=True)
class Texts:
    """A participant's offers and seeks (each a list of interests)."""

    offers: Sequence[str]
    seeks: Sequence[str]


class Bm25:
    """Two BM25 indexes over every participant: their offers and their seeks."""

    def __init__(self, texts: Mapping[str, Texts]) -> None:
        self.position = {external_id: i for i, external_id in enumerate(texts)}
        self.offers = _index([" ".join(t.offers) for t in texts.values()])
        self.seeks = _index([" ".join(t.seeks) for t in texts.values()])

    def scores(self, query: Texts, candidates: Sequence[str]) -> np.ndarray:
        """float (n,): BM25 of the query's seeks in their offers plus its offers in their seeks."""
        rows = np.array([self.position[c] for c in candidates], dtype=np.int64)
        return np.asarray(_scores(self.offers, query.seeks)[rows] + _scores(self.seeks, query.offers)[rows],
                          dtype=np.float64)


def _scores(index: bm25s.BM25, texts: Sequence[str]) -> np.ndarray:
    """BM25 of a query in every document; 0 for a query without a word (bm25s fails on an empty one)."""
    words = tokens(texts)
    return index.get_scores(words) if words else np.zeros(index.scores["num_docs"])


def tokens(texts: Iterable[str]) -> list[str]:
    """Lower-cased word tokens without Norwegian or English stop words (bm25s' own rules)."""
    words = re.findall(TOKEN, " ".join(texts).lower())
    stop = set(STOPWORDS)
    return [w for w in words if w not in stop]


def _index(corpus: list[str]) -> bm25s.BM25:
    index = bm25s.BM25()
    index.index(bm25s.tokenize(corpus, stopwords=STOPWORDS, show_progress=False), show_progress=False)
    return index


def rank_variant(
    features: Mapping[str, QueryFeatures], variant: Variant, weights: Weights,
    texts: Mapping[str, Texts] | None = None, seed: int = 0,
) -> Ranked:
    """Every query ranked by the variant; `weights` are the configured (or fitted) full weights."""
    if variant == "random":
        return _random(features, seed)
    if variant == "bm25":
        if texts is None:
            raise ValueError("the bm25 variant needs the participants' texts")
        return _bm25(features, texts)
    cut = weights.variant(cast(RankerVariant, variant))
    return {query: ranked(f, scored(f, cut)) for query, f in features.items()}


def _random(features: Mapping[str, QueryFeatures], seed: int) -> Ranked:
    rng = np.random.default_rng(seed)
    result = {}
    for query, f in features.items():
        allowed = np.isfinite(scored(f, Weights()))
        result[query] = ranked(f, np.where(allowed, rng.random(len(f.candidates)), -np.inf))
    return result


def _bm25(features: Mapping[str, QueryFeatures], texts: Mapping[str, Texts]) -> Ranked:
    index = Bm25(texts)
    result = {}
    for query, f in features.items():
        allowed = np.isfinite(scored(f, Weights()))
        result[query] = ranked(f, np.where(allowed, index.scores(texts[query], f.candidates), -np.inf))
    return result
