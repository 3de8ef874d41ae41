"""Ranking metrics for `koble evaluate` (docs/contracts.md §4), as plain functions of one query's ranking.

A query's *ranking* is the list of candidate external ids the ranker returned, best first (all
allowed candidates, so the top k are its suggestions). Its *gold* maps each relevant candidate to
its graded relevance (> 0, docs/contracts.md §4); every other candidate is not relevant.

Definitions (k ≥ 1; "top k" is the first k of the ranking, fewer when fewer were ranked):

- precision@k = relevant candidates in the top k / k. The divisor stays k when fewer than k
  candidates were ranked: an empty slot is a slot without a relevant suggestion.
- recall@k = relevant candidates in the top k / all relevant candidates of the query (gold size,
  including relevant candidates the ranker did not return at all); 0 when the query has none.
- nDCG@k = DCG@k / IDCG@k with linear gain and log2 discount: DCG@k = Σ_{i=1..k} rel_i / log2(i + 1),
  rel_i the gold relevance of the candidate at rank i (0 if not relevant); IDCG@k is the DCG@k of
  the query's own gold relevances sorted from high to low. 0 when the query has no relevant candidate.
- reciprocal rank = 1 / rank of the first relevant candidate in the *whole* ranking (not only the
  top k), 0 when no relevant candidate was ranked; MRR is its mean.
- coverage = 1 when the query got at least one suggestion, else 0; its mean is the share of queries
  with suggestions.
- weighted Kendall-tau loss (the reviewer-paper expertise benchmark's measure) over a query's *judged*
  candidates (graded 0 to 3, zeros included): every pair with different grades e1 > e2 weighs e1 - e2 and
  counts as disagreeing when the ranker scores the lower-graded one higher (a tie counts half; an
  unranked candidate scores below every ranked one). Loss = Σ weights of disagreeing pairs / Σ weights,
  pooled over queries as the benchmark does: 0 is perfect, 0.5 random, 1 reversed.

Every summary is a macro average: each query weighs the same, however many relevant candidates it has.
Ties in score are the ranker's business; `order_by_score` breaks them by external id so a run is
reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

Ranking = Sequence[str]
Gold = Mapping[str, float]


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def hits_at_k(ranking: Ranking, gold: Gold, k: int) -> int:
    """How many of the top k are relevant."""
    _check_k(k)
    return sum(1 for candidate in ranking[:k] if candidate in gold)


def precision_at_k(ranking: Ranking, gold: Gold, k: int) -> float:
    """Relevant candidates in the top k, divided by k."""
    return hits_at_k(ranking, gold, k) / k


def recall_at_k(ranking: Ranking, gold: Gold, k: int) -> float:
    """Relevant candidates in the top k, divided by all relevant candidates of the query (0 if none)."""
    return hits_at_k(ranking, gold, k) / len(gold) if gold else 0.0


def dcg(relevances: Iterable[float]) -> float:
    """Discounted cumulative gain of relevances in rank order: Σ rel_i / log2(i + 1), i from 1."""
    return sum(rel / math.log2(i + 1) for i, rel in enumerate(relevances, start=1))


def ndcg_at_k(ranking: Ranking, gold: Gold, k: int) -> float:
    """DCG of the top k over the DCG of the ideal top k from the query's gold (0 if no relevant)."""
    _check_k(k)
    ideal = dcg(sorted(gold.values(), reverse=True)[:k])
    return dcg(gold.get(candidate, 0.0) for candidate in ranking[:k]) / ideal if ideal > 0 else 0.0


def reciprocal_rank(ranking: Ranking, gold: Gold) -> float:
    """1 / rank of the first relevant candidate in the whole ranking, 0 when none is ranked."""
    return next((1.0 / rank for rank, candidate in enumerate(ranking, start=1) if candidate in gold), 0.0)


def kendall_tau_parts(scores: Mapping[str, float], grades: Mapping[str, float]) -> tuple[float, float]:
    """One query's weighted Kendall-tau disagreement and its total weight (see above); (0, 0) if no pair."""
    lowest = min(scores.values(), default=0.0) - 1.0  # unranked: below every ranked candidate, tied together
    judged = [(grade, scores.get(candidate, lowest)) for candidate, grade in grades.items()]
    disagreement = weight = 0.0
    for i, (grade_i, score_i) in enumerate(judged):
        for grade_j, score_j in judged[i + 1:]:
            if grade_i == grade_j:
                continue
            gap = abs(grade_i - grade_j)
            higher, lower = (score_i, score_j) if grade_i > grade_j else (score_j, score_i)
            weight += gap
            disagreement += gap * (1.0 if higher < lower else 0.5 if higher == lower else 0.0)
    return disagreement, weight


def ranked_kendall_tau_parts(ranking: Ranking, gold: Gold) -> tuple[float, float]:
    """`kendall_tau_parts` of a ranking (scores falling with rank) over every ranked candidate and every
    gold one, a candidate without gold graded 0: for a fully judged set (every pair graded, 0 left
    out of the gold file, as bench/data/research_long) the benchmark's loss. O(n log n) by grade level."""
    import numpy as np

    place = {candidate: i for i, candidate in enumerate(ranking)}
    judged = dict.fromkeys(ranking, 0.0) | dict(gold)
    positions = np.array([place.get(c, len(ranking)) for c in judged], dtype=np.int64)  # unranked tie last
    grades = np.array(list(judged.values()), dtype=np.float64)
    levels = np.unique(grades)
    by_level = {level: np.sort(positions[grades == level]) for level in levels}
    disagreement = weight = 0.0
    for hi in levels:
        for lo in levels[levels < hi]:
            below, at_or_below = (np.searchsorted(by_level[lo], by_level[hi], side=side) for side in ("left", "right"))
            gap = float(hi - lo)
            weight += gap * len(by_level[hi]) * len(by_level[lo])
            disagreement += gap * float(below.sum() + 0.5 * (at_or_below - below).sum())
    return disagreement, weight


def kendall_tau_loss(parts: Iterable[tuple[float, float]]) -> float:
    """The pooled loss of several queries' `kendall_tau_parts`: Σ disagreement / Σ weight (0.5 if no pair)."""
    disagreement = weight = 0.0
    for query_disagreement, query_weight in parts:
        disagreement, weight = disagreement + query_disagreement, weight + query_weight
    return disagreement / weight if weight > 0 else 0.5


def order_by_score(scores: Mapping[str, float]) -> list[str]:
    """Candidates best first; equal scores in external-id order, so every run ranks ties alike."""
    return sorted(scores, key=lambda candidate: (-scores[candidate], candidate))


@dataclass(frozen=True)
class QueryMetrics:
    """The metrics of one query."""

    precision_at_k: float
    recall_at_k: float
    ndcg_at_k: float
    reciprocal_rank: float
    covered: bool
    # `ranked_kendall_tau_parts`: (disagreement, weight); pooled over queries, not compared per query.
    kendall: tuple[float, float] = field(default=(0.0, 0.0), compare=False)


def query_metrics(ranking: Ranking, gold: Gold, k: int) -> QueryMetrics:
    """Every metric of one query's ranking against its gold."""
    return QueryMetrics(
        precision_at_k(ranking, gold, k),
        recall_at_k(ranking, gold, k),
        ndcg_at_k(ranking, gold, k),
        reciprocal_rank(ranking, gold),
        bool(ranking),
        ranked_kendall_tau_parts(ranking, gold),
    )


@dataclass(frozen=True)
class Summary:
    """Macro averages over queries, named as `koble evaluate --json` prints them."""

    precision_at_k: float
    recall_at_k: float
    ndcg_at_k: float
    mrr: float
    coverage: float
    queries: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict."""
        return asdict(self)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(per_query: Sequence[QueryMetrics]) -> Summary:
    """Macro averages of per-query metrics (all 0 for no queries)."""
    return Summary(
        _mean([m.precision_at_k for m in per_query]),
        _mean([m.recall_at_k for m in per_query]),
        _mean([m.ndcg_at_k for m in per_query]),
        _mean([m.reciprocal_rank for m in per_query]),
        _mean([float(m.covered) for m in per_query]),
        len(per_query),
    )


def evaluate_rankings(rankings: Mapping[str, Ranking], gold: Mapping[str, Gold], k: int) -> Summary:
    """Summary over every query of `gold`; a query missing from `rankings` got no suggestion."""
    return summarise([query_metrics(rankings.get(query, ()), relevant, k) for query, relevant in gold.items()])


METRIC_NAMES = ("precision_at_k", "recall_at_k", "ndcg_at_k", "mrr", "coverage")


def per_query(rankings: Mapping[str, Ranking], gold: Mapping[str, Gold], k: int) -> list[QueryMetrics]:
    """The metrics of every query of `gold`, in gold order (a missing ranking: no suggestion)."""
    return [query_metrics(rankings.get(query, ()), relevant, k) for query, relevant in gold.items()]


def kendall_interval(
    per_query_metrics: Sequence[QueryMetrics], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """The pooled weighted Kendall-tau loss and its percentile bootstrap interval (queries resampled
    with replacement, seeded as `bootstrap_intervals`): (loss, low, high)."""
    import numpy as np

    loss = kendall_tau_loss(m.kendall for m in per_query_metrics)
    if not per_query_metrics:
        return loss, loss, loss
    parts = np.array([m.kendall for m in per_query_metrics])
    picks = np.random.default_rng(seed).integers(0, len(parts), size=(resamples, len(parts)))
    sums = parts[picks].sum(axis=1)  # (resamples, 2)
    losses = np.divide(sums[:, 0], sums[:, 1], out=np.full(resamples, 0.5), where=sums[:, 1] > 0)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(losses, [tail, 100 - tail])
    return loss, float(low), float(high)


def bootstrap_intervals(
    per_query_metrics: Sequence[QueryMetrics], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of each summary metric, resampling queries with replacement (seeded).

    Queries are the unit: the interval says how much the macro average would move on another set of
    queries like these. (0, 0) for every metric when there are no queries.
    """
    import numpy as np

    if not per_query_metrics:
        return {name: (0.0, 0.0) for name in METRIC_NAMES}
    values = np.array([[m.precision_at_k, m.recall_at_k, m.ndcg_at_k, m.reciprocal_rank, float(m.covered)]
                       for m in per_query_metrics])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[picks].mean(axis=1)  # (resamples, 5)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return {name: (float(lo), float(hi)) for name, lo, hi in zip(METRIC_NAMES, low, high, strict=True)}
