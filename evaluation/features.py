"""The ranker's inputs for every query, read once from the scratch database and kept in memory.

For each query this is exactly what `service.matching.service.rank_all` scores: the allowed
candidate rows of `matching.service.all_candidate_rows` (cosines both ways, lexical counts, windows,
engagements, ...) turned into `scoring.Profile` / `scoring.Candidates` by the service's own
functions. Every variant, fitted weight set, bootstrap resample and exposure simulation then
ranks with `scoring.score` in memory, so one import + embedding serves them all.
tests/evaluation/test_eval_variants.py checks that the full variant ranks exactly like `rank_all`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import asyncpg
import numpy as np

from service.matching import scoring
from service.matching import service as matching


# repr=False: asyncio formats a finished task's result on the way out; numpy reprs of these take minutes.
@dataclass(frozen=True, repr=False)
class QueryFeatures:
    """One query: its profile, its allowed candidates as arrays (n,) and their external ids (n,)."""

    query: str
    profile: scoring.Profile
    cands: scoring.Candidates
    candidates: list[str]


async def query_features(
    conn: asyncpg.Connection, participant_id: int, model: str, config: matching.RankerConfig
) -> QueryFeatures | None:
    """The ranker's view of one query (lexical counts always fetched); None if it cannot be ranked."""
    query = await matching.query_participant(conn, participant_id, model)
    if query is None or query["hidden_at"] is not None or query["verified_at"] is None:
        return None
    # The service's own filter and vectors: the same rows rank_all scores.
    rows = await matching.all_candidate_rows(conn, query, model, config)
    location, locations = scoring.location_codes(query["location"], [row["location"] for row in rows])
    profile = matching.query_profile(query, location, at_capacity=False)
    cands = matching.candidate_arrays(rows, locations, None, lexical=True)
    return QueryFeatures(query["external_id"], profile, cands, [row["external_id"] for row in rows])


async def all_features(
    conn: asyncpg.Connection, ids: Mapping[str, int], queries: Sequence[str], model: str,
    config: matching.RankerConfig,
) -> dict[str, QueryFeatures]:
    """Features of every query that can be ranked (in the given order)."""
    found = {}
    for query in queries:
        features = await query_features(conn, ids[query], model, config)
        if features is not None:
            found[query] = features
    return found


def scored(features: QueryFeatures, weights: scoring.Weights, exposure: np.ndarray | None = None) -> np.ndarray:
    """float (n,): the ranker's scores of the query's candidates (exposure: decayed showings, default 0)."""
    cands = features.cands if exposure is None else replace(features.cands, exposure=exposure)
    return scoring.score(features.profile, cands, weights)


def ranked(features: QueryFeatures, scores: np.ndarray) -> list[tuple[str, float]]:
    """(external id, score) of every allowed candidate, best first; ties by internal id as the service."""
    order = scoring.rank(scores, features.cands.ids)
    return [(features.candidates[i], float(scores[i])) for i in order]
