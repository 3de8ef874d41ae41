"""Exposure: how evenly suggestions spread over participants, with and without the exposure term.

`simulate_exposure` replays the service's loop in memory: every query asks for its top k, in a
seeded random order, for a number of rounds; each time a candidate is shown its `shown` count
grows by one (the service decays it with a half-life of days; a replay of a few rounds within
one period keeps it undecayed). The ranker sees the counts through its exposure term exactly as
in `suggest`. Gini and the Lorenz curve are over every participant's showings, zeros included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from evaluation.features import QueryFeatures, scored
from service.matching import scoring


def simulate_exposure(
    features: Mapping[str, QueryFeatures], participants: list[str], weights: scoring.Weights, k: int = 10,
    rounds: int = 3, seed: int = 0,
) -> np.ndarray:
    """float (len(participants),): showings of each participant after the replay."""
    position = {p: i for i, p in enumerate(participants)}
    where = {q: np.array([position[c] for c in f.candidates], dtype=np.int64) for q, f in features.items()}
    shown = np.zeros(len(participants))
    rng = np.random.default_rng(seed)
    queries = list(features)
    for _ in range(rounds):
        for i in rng.permutation(len(queries)):
            f = features[queries[i]]
            scores = scored(f, weights, exposure=shown[where[queries[i]]])
            top = scoring.rank(scores, f.cands.ids, k)
            shown[where[queries[i]][top]] += 1
    return shown


def without_exposure(weights: scoring.Weights) -> scoring.Weights:
    """The same weights with the exposure term off."""
    return replace(weights, exposure=0.0)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal, towards 1: one takes everything)."""
    sorted_values = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(sorted_values), sorted_values.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * sorted_values).sum()) / (n * total) - (n + 1) / n)


def lorenz(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of participants, share of showings) from 0 to 1, poorest first: the Lorenz curve."""
    sorted_values = np.sort(np.asarray(values, dtype=np.float64))
    cumulative = np.concatenate([[0.0], np.cumsum(sorted_values)])
    total = cumulative[-1] or 1.0
    return np.linspace(0.0, 1.0, len(cumulative)), cumulative / total


def top_share(values: np.ndarray, share: float = 0.1) -> float:
    """The share of all showings that went to the most-shown `share` of participants."""
    sorted_values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    total = sorted_values.sum()
    count = max(1, round(len(sorted_values) * share))
    return float(sorted_values[:count].sum() / total) if total else 0.0
