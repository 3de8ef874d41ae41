"""The evaluation metrics against values computed by hand (log2(3) ≈ 1.58496, log2(5) ≈ 2.32193)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation import metrics
from evaluation.metrics import (
    QueryMetrics,
    evaluate_rankings,
    ndcg_at_k,
    order_by_score,
    precision_at_k,
    query_metrics,
    recall_at_k,
    reciprocal_rank,
    summarise,
)

RANKING = ["x", "a", "y", "b", "z"]
GOLD = {"a": 3.0, "b": 1.0, "c": 2.0}  # c is relevant but was not ranked at all
IDEAL = 3 + 2 / math.log2(3) + 1 / 2  # gains 3, 2, 1 at ranks 1, 2, 3 = 4.76186


def test_precision_and_recall_at_3() -> None:
    # Top 3 = x, a, y: one hit (a) of k = 3 slots and of 3 relevant candidates.
    assert precision_at_k(RANKING, GOLD, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, GOLD, 3) == pytest.approx(1 / 3)


def test_precision_and_recall_at_5() -> None:
    # Top 5 holds a and b: 2 of 5 slots, 2 of 3 relevant (c is never reached).
    assert precision_at_k(RANKING, GOLD, 5) == pytest.approx(0.4)
    assert recall_at_k(RANKING, GOLD, 5) == pytest.approx(2 / 3)


def test_ndcg_with_graded_relevance() -> None:
    # @3: only a (gain 3) at rank 2 -> 3/log2(3) = 1.89279; 1.89279 / 4.76186 = 0.39749.
    assert ndcg_at_k(RANKING, GOLD, 3) == pytest.approx((3 / math.log2(3)) / IDEAL)
    assert ndcg_at_k(RANKING, GOLD, 3) == pytest.approx(0.39749, abs=1e-5)
    # @5: adds b (gain 1) at rank 4 -> 1/log2(5) = 0.43068; the ideal keeps its 3 gold gains.
    assert ndcg_at_k(RANKING, GOLD, 5) == pytest.approx((3 / math.log2(3) + 1 / math.log2(5)) / IDEAL)
    assert ndcg_at_k(RANKING, GOLD, 5) == pytest.approx(0.48794, abs=1e-5)


def test_ndcg_rewards_the_higher_grade_first() -> None:
    gold = {"a": 3.0, "b": 1.0}
    assert ndcg_at_k(["a", "b"], gold, 2) == pytest.approx(1.0)
    # Swapped: (1 + 3/log2 3) / (3 + 1/log2 3) = 2.89279 / 3.63093 = 0.79671.
    assert ndcg_at_k(["b", "a"], gold, 2) == pytest.approx(0.79671, abs=1e-5)


def test_ndcg_ideal_is_cut_at_k() -> None:
    # One slot: the ideal is the single best gain (3); ranking b first earns 1 of it.
    assert ndcg_at_k(["b", "a"], {"a": 3.0, "b": 1.0}, 1) == pytest.approx(1 / 3)


def test_reciprocal_rank_looks_past_k() -> None:
    assert reciprocal_rank(RANKING, GOLD) == pytest.approx(1 / 2)
    ranking = [f"n{i}" for i in range(11)] + ["a"]
    # First relevant at rank 12: nothing in the top 10, yet MRR still counts it.
    assert reciprocal_rank(ranking, {"a": 1.0}) == pytest.approx(1 / 12)
    assert precision_at_k(ranking, {"a": 1.0}, 10) == 0.0


def test_no_relevant_candidate_gives_zero_not_an_error() -> None:
    assert query_metrics(RANKING, {}, 3) == QueryMetrics(0.0, 0.0, 0.0, 0.0, True)
    # Relevant candidates exist but none was ranked.
    assert query_metrics(["x", "y"], {"a": 2.0}, 3) == QueryMetrics(0.0, 0.0, 0.0, 0.0, True)


def test_fewer_candidates_than_k() -> None:
    # One candidate, relevant, k = 10: precision keeps the divisor k; the rest are perfect.
    assert query_metrics(["a"], {"a": 1.0}, 10) == QueryMetrics(0.1, 1.0, 1.0, 1.0, True)
    # Two ranked, gold has a third one that was not: recall 2/3, ideal counts all three gains.
    result = query_metrics(["a", "b"], {"a": 2.0, "b": 2.0, "c": 1.0}, 10)
    assert result.precision_at_k == pytest.approx(0.2)
    assert result.recall_at_k == pytest.approx(2 / 3)
    # (2 + 2/log2 3) / (2 + 2/log2 3 + 1/2) = 3.26186 / 3.76186 = 0.86709.
    assert result.ndcg_at_k == pytest.approx(0.86709, abs=1e-5)


def test_empty_ranking_is_not_covered() -> None:
    assert query_metrics([], {"a": 1.0}, 5) == QueryMetrics(0.0, 0.0, 0.0, 0.0, False)


def test_equal_grades_in_any_order_are_ideal() -> None:
    assert ndcg_at_k(["b", "a"], {"a": 1.0, "b": 1.0}, 2) == pytest.approx(1.0)


def test_order_by_score_breaks_ties_by_id() -> None:
    assert order_by_score({"b": 0.5, "c": 0.9, "a": 0.5, "d": -1.0}) == ["c", "a", "b", "d"]


def test_tied_scores_rank_deterministically_into_the_metrics() -> None:
    # a and b tie; id order puts a (not relevant) first, so the relevant b is at rank 2.
    ranking = order_by_score({"b": 0.7, "a": 0.7})
    assert reciprocal_rank(ranking, {"b": 1.0}) == pytest.approx(0.5)
    assert precision_at_k(ranking, {"b": 1.0}, 1) == 0.0


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        precision_at_k(RANKING, GOLD, 0)
    with pytest.raises(ValueError, match="at least 1"):
        ndcg_at_k(RANKING, GOLD, -1)


def test_summary_is_a_macro_average() -> None:
    first = QueryMetrics(1.0, 0.5, 0.8, 1.0, True)
    second = QueryMetrics(0.0, 0.0, 0.0, 0.0, False)
    assert summarise([first, second]).as_dict() == {
        "precision_at_k": 0.5, "recall_at_k": 0.25, "ndcg_at_k": 0.4, "mrr": 0.5, "coverage": 0.5, "queries": 2,
    }


def test_evaluate_rankings_counts_a_missing_query_as_uncovered() -> None:
    gold = {"q1": {"a": 1.0}, "q2": {"b": 2.0, "c": 1.0}}
    # q1: a at rank 2 of k = 2 -> P 1/2, R 1, nDCG 1/log2 3 = 0.63093, RR 1/2. q2: never ranked.
    summary = evaluate_rankings({"q1": ["x", "a"]}, gold, 2)
    assert summary.queries == 2
    assert summary.precision_at_k == pytest.approx(0.25)
    assert summary.recall_at_k == pytest.approx(0.5)
    assert summary.ndcg_at_k == pytest.approx((1 / math.log2(3)) / 2)
    assert summary.mrr == pytest.approx(0.25)
    assert summary.coverage == pytest.approx(0.5)


def test_no_queries_summarise_to_zero() -> None:
    assert metrics.summarise([]).as_dict() == {
        "precision_at_k": 0.0, "recall_at_k": 0.0, "ndcg_at_k": 0.0, "mrr": 0.0, "coverage": 0.0, "queries": 0,
    }


def test_kendall_tau_loss_is_zero_in_grade_order_one_reversed_and_half_when_all_tie() -> None:
    grades = {"a": 3.0, "b": 2.0, "c": 0.0, "d": 0.0}
    assert metrics.kendall_tau_loss([metrics.kendall_tau_parts({"a": 0.9, "b": 0.5, "c": 0.1}, grades)]) == 0.0
    reversed_ = {"a": 0.1, "b": 0.5, "c": 0.8, "d": 0.9}
    assert metrics.kendall_tau_loss([metrics.kendall_tau_parts(reversed_, grades)]) == 1.0
    tied = {candidate: 0.5 for candidate in grades}
    assert metrics.kendall_tau_loss([metrics.kendall_tau_parts(tied, grades)]) == 0.5


def test_kendall_tau_loss_weighs_a_pair_by_its_grade_gap_and_pools_queries() -> None:
    # b above a disagrees with weight 1 (gaps: a-b 1, a-c 3, b-c 2; 6 in all).
    parts = metrics.kendall_tau_parts({"b": 0.9, "a": 0.8, "c": 0.1}, {"a": 3.0, "b": 2.0, "c": 0.0})
    assert parts == (1.0, 6.0)
    assert metrics.kendall_tau_loss([parts, (0.0, 0.0), (3.0, 3.0)]) == 4.0 / 9.0
    assert metrics.kendall_tau_loss([]) == 0.5


@given(
    st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 3), min_size=2),
    st.lists(st.floats(0, 1, allow_nan=False), min_size=8, max_size=8),
)
def test_kendall_tau_parts_equal_the_sum_over_grade_thresholds(grades: dict[str, int], values: list[float]) -> None:
    # Independent oracle: a gap e1 - e2 is the number of integer thresholds t with e2 < t ≤ e1, so the weighted
    # disagreement is the sum over thresholds of plain (unweighted) disagreements between "≥ t" and "< t".
    scores = dict(zip("abcdefg", values, strict=False))  # h is never ranked
    low = min(scores.values()) - 1.0
    expected = expected_weight = 0.0
    for t in (1, 2, 3):
        above = [scores.get(c, low) for c, g in grades.items() if g >= t]
        below = [scores.get(c, low) for c, g in grades.items() if g < t]
        expected += sum(1.0 if x < y else 0.5 if x == y else 0.0 for x in above for y in below)
        expected_weight += len(above) * len(below)
    disagreement, weight = metrics.kendall_tau_parts(scores, {c: float(g) for c, g in grades.items()})
    assert weight == expected_weight and math.isclose(disagreement, expected)


@given(
    st.lists(st.sampled_from("abcdefghij"), unique=True, max_size=10),
    st.dictionaries(st.sampled_from("abcdefghijkl"), st.integers(1, 3), max_size=8),
)
def test_ranked_kendall_tau_parts_equal_the_pairwise_definition_with_ungraded_candidates_at_0(
    ranking: list[str], gold: dict[str, int]
) -> None:
    # Oracle: kendall_tau_parts (every pair) with scores falling with rank and every ranked candidate graded.
    grades = {c: 0.0 for c in ranking} | {c: float(g) for c, g in gold.items()}
    scores = {c: float(-i) for i, c in enumerate(ranking)}
    expected = metrics.kendall_tau_parts(scores, grades)
    found = metrics.ranked_kendall_tau_parts(ranking, {c: float(g) for c, g in gold.items()})
    assert found[1] == expected[1] and math.isclose(found[0], expected[0])


def test_the_kendall_interval_pools_resampled_queries_around_the_loss() -> None:
    per_query = [metrics.query_metrics(r, {"a": 2.0, "b": 1.0}, 2) for r in (["a", "b", "c"], ["b", "a", "c"])]
    loss, low, high = metrics.kendall_interval(per_query, resamples=200, seed=1)
    # First query: perfect; second: (a, b) reversed, weight 1 of 1 + 2 + 1.
    assert loss == pytest.approx(1 / 8) and low <= loss <= high and low == 0.0 and high == pytest.approx(0.25)
