"""The numbers behind the notebooks and `koble evaluate --report`: every variant on one prepared set.

All functions take a `runner.Prepared` (one import + embedding) and rank in memory, so comparing
six variants costs seconds, not six embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evaluation import metrics
from evaluation.runner import Prepared, all_slices, count_violations, orderings, slices
from evaluation.variants import VARIANTS, Ranked, Variant, rank_variant
from service.matching.scoring import Weights

LANGUAGE_SLICES = ("nb-nb", "en-en", "cross")


@dataclass(frozen=True)
class VariantRun:
    """One variant's rankings and the time they took (ranking only: features are shared)."""

    variant: Variant
    ranked: Ranked
    seconds: float


CONFIGURED = "full (configured weights)"


def run_variants(
    prepared: Prepared, weights: Weights | None = None, seed: int = 0, variants: Sequence[Variant] = VARIANTS
) -> dict[str, VariantRun]:
    """Every variant's rankings (weights: the full ranker's, default the configured ones).

    With weights other than the configured ones, the configured full ranker is added as CONFIGURED.
    """
    runs: dict[str, VariantRun] = {}
    texts = prepared.texts
    chosen = weights or prepared.weights
    plan: list[tuple[str, Variant, Weights]] = [(variant, variant, chosen) for variant in variants]
    if chosen != prepared.weights and "full" in variants:
        plan.append((CONFIGURED, "full", prepared.weights))
    for name, variant, variant_weights in plan:
        started = time.perf_counter()
        ranked = rank_variant(prepared.features, variant, variant_weights, texts, seed)
        runs[name] = VariantRun(variant, ranked, time.perf_counter() - started)
    return runs


@dataclass(frozen=True)
class Row:
    """One line of a metric table: a name, the summary, bootstrap intervals and violations."""

    name: str
    summary: metrics.Summary
    intervals: dict[str, tuple[float, float]]
    violations: int = 0
    seconds: float = 0.0


def variant_table(prepared: Prepared, runs: Mapping[str, VariantRun], k: int, seed: int = 0,
                  resamples: int = 1000) -> list[Row]:
    """Per variant: the metrics over all queries with 95 % bootstrap intervals, violations, ranking time."""
    rows = []
    for variant, run in runs.items():
        rankings = orderings(run.ranked)
        per_query = metrics.per_query(rankings, prepared.inputs.gold.queries, k)
        rows.append(Row(variant, metrics.summarise(per_query), metrics.bootstrap_intervals(per_query, resamples, seed),
                        count_violations(rankings, prepared.facts, k), run.seconds))
    return rows


def slice_table(prepared: Prepared, run: VariantRun, k: int) -> list[Row]:
    """One variant's metrics per slice: language pair, shared domain, (query kind → candidate kind)."""
    found = slices(orderings(run.ranked), prepared.inputs, k, all_slices())
    return [Row(name, summary, {}) for name, summary in found.items()]


def language_table(prepared: Prepared, runs: Mapping[str, VariantRun], k: int) -> list[Row]:
    """nb-nb, en-en and cross-lingual metrics of every variant (rows named `variant / slice`)."""
    chosen = {name: keep for name, keep in all_slices().items() if name in LANGUAGE_SLICES}
    rows = []
    for variant, run in runs.items():
        found = slices(orderings(run.ranked), prepared.inputs, k, chosen)
        rows += [Row(f"{variant} / {name}", summary, {}) for name, summary in found.items()]
    return rows


def ndcg_curve(prepared: Prepared, runs: Mapping[str, VariantRun], ks: Sequence[int]) -> dict[str, list[float]]:
    """Mean nDCG@k for each k, per variant."""
    gold = prepared.inputs.gold.queries
    return {variant: [metrics.evaluate_rankings(orderings(run.ranked), gold, k).ndcg_at_k for k in ks]
            for variant, run in runs.items()}


@dataclass(frozen=True)
class Failure:
    """A query the ranker served badly, in words: what it seeks, what it got, what it missed."""

    query: str
    ndcg: float
    query_text: str
    suggested: list[tuple[str, float, str]]  # (candidate, gold relevance, text)
    missed: list[tuple[str, float, str]]


def _text(prepared: Prepared, external_id: str) -> str:
    p = prepared.people[external_id]
    return f"[{p.kind}, {p.language}] offers: {' | '.join(p.offers)} — seeks: {' | '.join(p.seeks)}"


def worst_failures(prepared: Prepared, run: VariantRun, k: int, count: int = 5, shown: int = 3) -> list[Failure]:
    """The `count` queries with the lowest nDCG@k (ties by id), with their top suggestions and best misses."""
    gold = prepared.inputs.gold.queries
    rankings = orderings(run.ranked)
    scored = sorted((metrics.ndcg_at_k(rankings.get(q, []), relevant, k), q) for q, relevant in gold.items())
    failures = []
    for value, query in scored[:count]:
        top = rankings.get(query, [])[:shown]
        relevant = gold[query]
        missed = [b for b in sorted(relevant, key=lambda b: (-relevant[b], b)) if b not in top][:shown]
        failures.append(Failure(
            query, value, _text(prepared, query),
            [(b, relevant.get(b, 0.0), _text(prepared, b)) for b in top],
            [(b, relevant[b], _text(prepared, b)) for b in missed],
        ))
    return failures
