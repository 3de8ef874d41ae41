"""Fitting the ranker's soft-feature weights to gold: `koble fit-weights`.

Model: the full ranker's score is linear in its features,
    score = reciprocal * R + Σ_f weight_f * feature_f   (f: availability, engagement, language,
                                                          location, freshness; exposure excluded)
so a logistic regression of "relevant" (gold relevance > 0; relevance 2 pairs weigh double) on
(R, features) over every allowed (query, candidate) pair gives weights in the ranker's own form:
weight_f = coef_f / coef_R * reciprocal (ranking ignores the intercept and any positive scale).
R itself (embedding fit with lexical fusion, floor and cross-lingual shift) is kept as configured,
and so is the weight of a feature that does not vary over the gold pairs (freshness, on a set
imported in one go): there is nothing to learn about it.

Validation: queries are split into seeded folds; each fold is ranked with weights fitted on the
other folds and with the configured weights, and nDCG@k is compared query by query. The fitted
weights "measure better" only when the mean held-out gain is positive AND its paired bootstrap
95 % interval lies above 0. `koble fit-weights` writes the file only then (or with --force), and
says which; the service reads a written file through `KOBLE_WEIGHTS_FILE` (service.matching.settings).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from evaluation import metrics
from evaluation.features import QueryFeatures, ranked, scored
from evaluation.gold import Gold
from service.matching import scoring

SOFT = scoring.SOFT_NAMES
MIN_SPREAD = 1e-3  # standard deviation below which a feature counts as constant (not fitted)
COLUMNS = ("reciprocal", *SOFT)


@dataclass
class Design:
    """The fitting data: X float (pairs, 6) in COLUMNS order, y relevance (pairs,), query index (pairs,)."""

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray
    queries: list[str]


def pair_features(f: QueryFeatures, weights: scoring.Weights) -> tuple[np.ndarray, np.ndarray]:
    """(X float (n, 6) in COLUMNS order, allowed bool (n,)) for one query's candidates."""
    shifted = scoring.language_shifted(f.profile, f.cands, weights.cross_lingual_shift)
    columns = [scoring.relevance(shifted, weights)]
    soft = scoring.soft_features(f.profile, f.cands, weights)
    columns += [soft[name] for name in SOFT]
    allowed = scoring.hard_constraints(f.profile, f.cands)
    return np.column_stack(columns), allowed


def design(features: Mapping[str, QueryFeatures], gold: Gold, weights: scoring.Weights) -> Design:
    """Every allowed pair of every query with its features and gold relevance (0: not relevant)."""
    xs, ys, groups, names = [], [], [], []
    for i, (query, f) in enumerate(features.items()):
        x, allowed = pair_features(f, weights)
        relevant = gold.queries.get(query, {})
        y = np.array([relevant.get(c, 0.0) for c in f.candidates])
        xs.append(x[allowed])
        ys.append(y[allowed])
        groups.append(np.full(int(allowed.sum()), i))
        names.append(query)
    if not xs:
        return Design(np.zeros((0, len(COLUMNS))), np.zeros(0), np.zeros(0, dtype=int), names)
    return Design(np.vstack(xs), np.concatenate(ys), np.concatenate(groups), names)


def fit(d: Design, rows: np.ndarray, base: scoring.Weights) -> scoring.Weights:
    """Weights fitted by logistic regression on the given rows of the design (soft weights replaced)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = d.x[rows], d.y[rows]
    if len(set((y > 0).tolist())) < 2:
        raise ValueError("gold needs relevant and non-relevant allowed pairs to fit weights")
    # A feature (nearly) constant in these pairs says nothing, and its coefficient would be noise
    # blown up by a tiny scale (freshness on a freshly imported set): it keeps its configured weight.
    varies = x.std(axis=0) > MIN_SPREAD
    if not varies[0]:
        raise ValueError("the embedding fit R does not vary over the gold pairs")
    scaler = StandardScaler().fit(x[:, varies])
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(x[:, varies]), y > 0,
                                                  sample_weight=np.maximum(y, 1.0))
    coef = np.zeros(len(COLUMNS))
    coef[varies] = model.coef_[0] / scaler.scale_
    if coef[0] <= 0:
        raise ValueError("the fit gives the embedding fit R no positive weight; gold and features disagree")
    soft: dict[str, Any] = {name: float(c / coef[0] * base.reciprocal)
                            for name, c, fitted in zip(SOFT, coef[1:], varies[1:], strict=True) if fitted}
    return replace(base, **soft)


def ndcg_per_query(features: Mapping[str, QueryFeatures], queries: Sequence[str], gold: Gold,
                   weights: scoring.Weights, k: int) -> np.ndarray:
    """float (q,): nDCG@k of each query ranked with these weights."""
    values = []
    for query in queries:
        f = features[query]
        order = [c for c, _ in ranked(f, scored(f, weights))]
        values.append(metrics.ndcg_at_k(order, gold.queries.get(query, {}), k))
    return np.array(values)


@dataclass
class FitResult:
    """Fitted weights (on all queries) and how they compared on held-out folds."""

    weights: scoring.Weights
    ndcg_fitted: float
    ndcg_configured: float
    gain_interval: tuple[float, float]
    folds: int
    k: int
    fold_weights: list[dict[str, float]]

    @property
    def better(self) -> bool:
        """Whether the fitted weights measure better: mean held-out gain > 0 and its interval above 0."""
        return self.ndcg_fitted > self.ndcg_configured and self.gain_interval[0] > 0

    def as_json(self) -> dict[str, Any]:
        """The weights file: the fitted weights plus how they were measured."""
        return {
            "weights": {name: getattr(self.weights, name) for name in COLUMNS},
            "measured": {"k": self.k, "folds": self.folds, "ndcg_fitted": self.ndcg_fitted,
                         "ndcg_configured": self.ndcg_configured, "gain_interval": list(self.gain_interval),
                         "better": self.better, "fold_weights": self.fold_weights},
        }


def cross_validate(
    features: Mapping[str, QueryFeatures], gold: Gold, base: scoring.Weights, k: int = 10, folds: int = 5,
    seed: int = 0, resamples: int = 1000,
) -> FitResult:
    """Fit per fold, compare held-out nDCG@k with the configured weights, then fit on everything."""
    d = design(features, gold, base)
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(d.queries)) % folds
    fitted, configured, fold_weights = [], [], []
    for fold in range(folds):
        test = [q for i, q in enumerate(d.queries) if fold_of[i] == fold]
        weights = fit(d, fold_of[d.group] != fold, base)
        fold_weights.append({name: getattr(weights, name) for name in SOFT})
        fitted.append(ndcg_per_query(features, test, gold, weights, k))
        configured.append(ndcg_per_query(features, test, gold, base, k))
    gain = np.concatenate(fitted) - np.concatenate(configured)
    picks = rng.integers(0, len(gain), size=(resamples, len(gain)))
    low, high = np.percentile(gain[picks].mean(axis=1), [2.5, 97.5])
    final = fit(d, np.ones(len(d.y), dtype=bool), base)
    return FitResult(final, float(np.concatenate(fitted).mean()), float(np.concatenate(configured).mean()),
                     (float(low), float(high)), folds, k, fold_weights)


def describe(result: FitResult) -> str:
    """What the fit found, for the terminal."""
    weights = ", ".join(f"{name} {getattr(result.weights, name):.4f}" for name in SOFT)
    verdict = "better" if result.better else "NOT measurably better"
    return (f"fitted soft weights: {weights}\n"
            f"held-out nDCG@{result.k} ({result.folds} folds): fitted {result.ndcg_fitted:.4f}, "
            f"configured {result.ndcg_configured:.4f}, gain 95% CI {result.gain_interval[0]:+.4f} to "
            f"{result.gain_interval[1]:+.4f}: the fitted weights are {verdict}")


def fit_command(participants: str, gold: str, out: str, k: int, folds: int, force: bool,
                embedding_cache: str | None, seed: int) -> int:
    """`koble fit-weights`: prepare, cross-validate, report, and write the file if better (or forced)."""
    from evaluation import runner
    from evaluation.evaluate import stdout_to_stderr
    from service.kit.commandline import first_line
    from service.kit.config import get_settings

    request = runner.Request(participants, gold, k, embedding_cache=embedding_cache, seed=seed,
                             progress=sys.stderr.isatty())
    try:
        with stdout_to_stderr():
            prepared = runner.prepare(request, get_settings())
            result = cross_validate(prepared.features, prepared.inputs.gold, prepared.weights, k, folds, seed)
    except runner.EvaluationError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"koble: cannot fit weights: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a database or model failure: one line, not a traceback
        print(f"koble: fit failed: {first_line(exc)}", file=sys.stderr)
        return 1
    print(describe(result))
    if result.better or force:
        Path(out).write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        print(f"weights written to {out}" + ("" if result.better else " (--force)"))
    else:
        print(f"{out} not written: keep the configured weights (use --force to write it anyway)")
    return 0
