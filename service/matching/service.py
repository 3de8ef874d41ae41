"""Suggestions for one participant: retrieval, the ranker, explanations and exposure bookkeeping.

`suggest` is what pages, the API and `koble suggest` call (index retrieval, then the top k, then
exposure); `rank_all` ranks every allowed candidate exactly, for `koble evaluate`.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg
import numpy as np

from service.kit import i18n
from service.kit.config import Settings
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS, KINDS
from service.matching import embedding, explain, interest_space, scoring
from service.matching.cache import CARD_COLUMNS, Entry, SuggestionCache
from service.matching.embedding import EmbeddedHook
from service.matching.memory import ReadTimeMemory
from service.matching.repository import changes, embeddings, interests, ranking, retrieval, state
from service.matching.settings import RankerSettings, get_ranker_settings

LEXICAL_TERMS = 64  # lexemes in a query's full-text OR-query (frequent first)
# Each time exposure overtakes an entry it is computed again four times as wide, up to this many times
# the usual candidates (64 x 200 at 10k: every allowed candidate, so no floor and no more recomputing).
# A fixed single widening was not enough: under sustained traffic (400 requests/s over 300
# participants) the widened entries were overtaken again and recall@10 fell to 0.957 (min 0.2).
MAX_WIDTH = 64
# The read-time state is read for an entry's best FIRST_READ candidates (2k if more), then four times
# as deep while a candidate not yet read could still reach the top k (`_chosen`).
FIRST_READ = 32
PAIRS_AHEAD = 20  # best interest pairs read with a new entry (for its likely top; more as shown)
# Recall after traffic above `exact_search_below` (issue 16 item 6): an entry made from an index pool bounds
# only the pool, which holds the true top k (recall 0.99 at 100k) but not everything deeper; once exposure
# has pushed its k-th final score below the RESHAPED_DEPTH * k-th best score without exposure, candidates
# from deeper than the pool is good for may now beat it, and the entry is made again by the exact scan
# (300-550 ms at 100k on a quiet machine), at most EXACT_RESCANS at a time per process: inline when this is
# the only suggestion request in flight, else in the background (the pool's answer served meanwhile).
# Recall@10 after traffic at 100k: 0.757 before, 0.998 with any drop of the k-th score (1e-3) as the
# trigger, which rescanned every entry on its second request (hit p50 1.5 s at load 13; bench/README.md).
RESHAPED_DEPTH = 2
EXACT_RESCANS = 1
# An entry of an older version is brought up to date by re-scoring the participants changed since
# (`_patched`) when at most this many changed, else computed again. Before, every registration emptied
# every cache: bench/load.py's mix (2 registrations in 100 requests) kept the hit rate at 0.44-0.45.
PATCH_MOST = 64
# What `_patched` needs of the query participant's row to score candidates (Entry.source).
SOURCE_COLUMNS = ("id", "kind", "domains", "engagements", "available_from", "available_until", "capacity",
                  "language", "location", "hidden_at", "verified_at", "offers_vector", "seeks_vector")
_rescans = 0  # exact rescans running in this process
_in_flight = 0  # suggestion requests being answered in this process


@dataclass(frozen=True)
class RankerConfig:
    """The weights and the retrieval knobs of one ranking (from RankerSettings, or chosen by evaluation)."""

    weights: scoring.Weights
    exact_search_below: int = 20_000  # side vectors below which retrieval scans exactly
    exact_candidates: int = 200  # candidates of highest relevance taken by the exact scan
    # Of which the lexical factor is computed for the best by cosines alone: at 10k synthetic participants a
    # pool of 1,000 lost lexically strong candidates ranked ~1,200-1,600th by cosine (recall 0.98 -> 1.0).
    relevance_pool: int = 20_000
    exposure_half_life_days: float = 7.0
    lexical_terms: int = LEXICAL_TERMS
    # Above `exact_search_below`: the pool the exact relevance is computed over, instead of every
    # allowed candidate. Per other kind, the best by the sum of both directions' cosines (pair
    # vectors' HNSW index; one direction's index for a one-sided query), plus every allowed candidate
    # sharing one of the query's terms that at most `rare_term_rows` participants have (lexical path).
    pair_candidates: int = 300
    rare_term_rows: int = 1_000
    # Of the pool, the best `pool_keep` by base score stay in the entry (`exact_candidates` when scanning
    # exactly): deep enough that exposure (at most its weight off a score) rarely pushes the top k below
    # the entry's floor, which would compute it again. With 200 kept, 100k participants and wrk
    # traffic over 200 of them, entries were overtaken again and again: 251 / 113 req/s at 8 / 16
    # connections (p99 4.4 s), where cache hits alone take 2.2 ms of CPU (bench/README.md).
    # (A second index scan past much-shown candidates was tried and removed: after traffic at 100k it
    # lifted recall of fresh computations from 0.890 to 0.925 but cost ~290 ms a miss; bench/README.md.)
    pool_keep: int = 600


def ranker_config(model: str, ranker: RankerSettings | None = None) -> RankerConfig:
    """The configured ranker for a model (`ranker`: the process's `get_ranker_settings()` by default)."""
    ranker = ranker or get_ranker_settings()
    return RankerConfig(
        ranker.weights(model), exact_search_below=ranker.exact_search_below,
        exact_candidates=ranker.exact_candidates, exposure_half_life_days=ranker.exposure_half_life_days,
        pair_candidates=ranker.pair_candidates, rare_term_rows=ranker.rare_term_rows)


def model_name(settings: Settings) -> str:
    """The `model` column value of the configured encoder (does not load the model)."""
    from service.matching.encoders import get_encoder

    return get_encoder(settings.koble_encoder).name


async def embedding_backlog(conn: asyncpg.Connection, settings: Settings) -> int:
    """Participants with interests still waiting for vectors of the configured encoder (/metrics)."""
    return await embeddings.backlog(conn, model_name(settings))


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
    explanation_html: str = ""  # `explanation` as safe HTML (markupsafe.Markup), shared terms in <mark>


@dataclass(frozen=True)
class Ranked:
    """One allowed candidate in an exact ranking (evaluation)."""

    id: int
    external_id: str
    score: float


@dataclass
class ScanRest:
    """The exact scan's candidates after those an entry was made of, in the scan's order, while `_fresh_top`
    may widen that entry (`_deepened`); not cached. complete: the scan listed every allowed candidate."""

    ids: list[int] = field(default_factory=list)
    complete: bool = False


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


def _optional(rows: Sequence[Mapping[str, Any]], column: str) -> np.ndarray:
    """A float column that rows may lack (NaN there, as for NULL)."""
    return np.array([math.nan if row.get(column) is None else row[column] for row in rows], dtype=np.float64)


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
    """Rows of `ranking.candidate_rows` as scoring arrays."""
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
        fwd_best=_optional(rows, "fwd_best"), bwd_best=_optional(rows, "bwd_best"),
    )


def _lexical(rows: Sequence[Mapping[str, Any]], matches: str, terms: str) -> np.ndarray:
    return scoring.lexical_rank(_column(rows, matches), _column(rows, terms))


# --- ranking ---


def query_filter(query: Mapping[str, Any], model: str, excluded: Sequence[int]) -> retrieval.QueryFilter:
    """The query participant's side of the SQL hard constraints (a `retrieval.query_participant` row)."""
    return retrieval.QueryFilter(
        id=query["id"], kind=query["kind"], domains=list(query["domains"]),
        available_from=query["available_from"], available_until=query["available_until"],
        engagements=list(query["engagements"]), excluded=list(excluded), model=model,
    )


def query_vectors(query: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The query's vector for each candidate side it is compared with: their offers vs its seeks etc."""
    pairs = (("offers", query["seeks_vector"]), ("seeks", query["offers_vector"]))
    return {side: as_array(vector) for side, vector in pairs if vector is not None}


def as_array(vector: Any) -> np.ndarray:
    """A pgvector value (the codec's `Vector`) or sequence as a float32 array."""
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


def _scored(
    query: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], config: RankerConfig, base_only: bool = False
) -> np.ndarray:
    """float (n,): the ranker's scores for candidate rows (-inf where a hard constraint fails).

    `base_only`: without the exposure and freshness terms, which `_chosen` adds when the list is read.
    Capacity and declines are not checked here (`_chosen` does, when a list is read).
    """
    query_location, locations = scoring.location_codes(query["location"], [row["location"] for row in rows])
    profile = query_profile(query, query_location, at_capacity=False)
    cands = candidate_arrays(rows, locations, None, lexical=bool(config.weights.lexical))
    weights = replace(config.weights, exposure=0.0, freshness=0.0) if base_only else config.weights
    return scoring.score(profile, cands, weights)


async def suggest(
    conn: asyncpg.Connection,
    participant_id: int,
    k: int,
    model: str,
    config: RankerConfig | None = None,
    reader_language: i18n.Language | None = None,
    by_name: bool = False,
    record_exposure: bool = True,
    cache: SuggestionCache | None = None,
    among: Sequence[int] | None = None,
) -> list[Suggestion]:
    """The k best allowed candidates for a participant, best first, each with its explanation.

    The explanation is in `reader_language` (default: the participant's own language), addressed to
    the participant ("you") or, with `by_name`, about both by name (staff, CLI). The shown candidates'
    exposure grows unless `record_exposure` is false (operators looking, not participants).
    With a `cache`, the ranked candidates are computed once per matching version (`SuggestionCache`);
    the answer is the same as without one. `among`: only these candidates (an event's attendees), ranked
    exactly with the same hard constraints and explanations, never cached.
    """
    config = config or RankerConfig(scoring.Weights(
        similarity_floor=scoring.default_similarity_floor(model),
        cross_lingual_shift=scoring.default_cross_lingual_shift(model)))
    if among is not None:
        cache = None
    global _in_flight
    _in_flight += 1
    try:
        return await _suggest(conn, participant_id, k, model, config, reader_language, by_name, record_exposure,
                              cache, among)
    finally:
        _in_flight -= 1


async def _suggest(
    conn: asyncpg.Connection, participant_id: int, k: int, model: str, config: RankerConfig,
    reader_language: i18n.Language | None, by_name: bool, record_exposure: bool, cache: SuggestionCache | None,
    among: Sequence[int] | None,
) -> list[Suggestion]:
    entry = cache.get(participant_id) if cache is not None else None
    current, top = (False, None)
    if cache is not None and entry is not None:
        current, top = await _cached_top(conn, cache, entry, model, config, k)
    if cache is not None:
        cache.count(hit=current)
    if not current:
        top = await _fresh_top(conn, participant_id, model, config, k, cache, among=among)
    return await _suggestions(conn, top, model, config, cache, reader_language, by_name, record_exposure)


async def cached_suggestions(
    conn: asyncpg.Connection, cache: SuggestionCache, external_id: str, k: int, model: str, config: RankerConfig,
    reader_language: i18n.Language | None = None, by_name: bool = False, record_exposure: bool = True,
) -> list[Suggestion] | None:
    """`suggest` for a participant known by external id, only if the cache has their entry of the
    current version (which proves they still exist under that id); None otherwise."""
    participant_id = cache.participant_id(external_id)
    entry = cache.get(participant_id) if participant_id is not None else None
    if entry is None or entry.query["external_id"] != external_id:
        return None
    global _in_flight
    _in_flight += 1
    try:
        current, top = await _cached_top(conn, cache, entry, model, config, k)
    finally:
        _in_flight -= 1
    if not current:
        return None  # the caller falls back to `suggest`, which counts the miss
    cache.count(hit=True)
    return await _suggestions(conn, top, model, config, cache, reader_language, by_name, record_exposure)


Found = tuple[Entry, Callable[[int], Mapping[str, Any]]]  # an entry and the card of each of its candidates
Top = tuple[Entry, Callable[[int], Mapping[str, Any]], list[tuple[int, float]]]  # ... and (index, final score)s


async def _cached_top(
    conn: asyncpg.Connection, cache: SuggestionCache, entry: Entry, model: str, config: RankerConfig, k: int
) -> tuple[bool, Top | None]:
    """Whether a cached entry is of the current version, and if so the top k: its own, or computed
    afresh four times as wide when exposure overtook it (None: no suggestions at all)."""
    version, chosen, reshaped = await _chosen(conn, entry, config, k, last_try=entry.width >= MAX_WIDTH,
                                              memory=cache.memory)
    if not cache.observe(version):
        return False, None
    if version != entry.version:
        patched = await _patched(conn, cache, entry, model, config)
        if patched is None:
            return False, None
        entry = patched
        version, chosen, reshaped = await _chosen(conn, entry, config, k, last_try=entry.width >= MAX_WIDTH,
                                                  memory=cache.memory)
        if not cache.observe(version) or version != entry.version:
            return False, None
        cache.patches += 1
    if reshaped and _rescans < EXACT_RESCANS:
        if _in_flight <= 1 or cache.run_later is None:
            return True, await _fresh_top(conn, entry.query["id"], model, config, k, cache, exact=True)
        cache.run_later(_rescan(entry.query["id"], model, config, cache))
    if chosen is not None:
        # Copied now, before the interest pairs are awaited: another request may empty the cache meanwhile
        # (a newer version, or a read that saw two versions), and each was a KeyError, a 500, in
        # bench/load.py. Emptied already while this one read its read-time state: computed afresh.
        cards = cache.cards([int(entry.ids[i]) for i, _ in chosen])
        if cards is None:
            return False, None
        return True, (entry, cards.__getitem__, chosen)
    return True, await _fresh_top(conn, entry.query["id"], model, config, k, cache, min(4 * entry.width, MAX_WIDTH),
                                  exact=entry.exact and _rescans < EXACT_RESCANS)


async def _patched(
    conn: asyncpg.Connection, cache: SuggestionCache, entry: Entry, model: str, config: RankerConfig
) -> Entry | None:
    """The entry brought up to the current version by re-scoring the participants changed since (kept in
    the cache); None if it must be computed again (its own participant changed, or too many did).

    Exact: a base score depends on the pair alone (scoring.score), so the unchanged candidates keep
    theirs, and those left out of the entry stay below its floor. The rows are read after the version:
    if they are newer still, the next update re-reads them (they are among the changes after it), and
    the entry is served only once a read-time read sees its version (`_cached_top`).
    """
    found = cache.changes_since(entry.version)
    if found is None:
        found = await changes.since(conn, entry.version, PATCH_MOST)
        if found.version is not None and cache.observe(found.version):
            cache.keep_changes(entry.version, found)
    if found.version is None or found.version <= entry.version or found.changed is None:
        return None
    if entry.query["id"] in found.changed:
        return None
    # Newcomers not yet confirmed, hidden and deleted participants are only dropped: no read.
    rows = await _among(conn, entry.source, model, config, found.visible) if found.visible else []
    patched = _merged(entry, found.version, found.changed, rows, config)
    if cache.observe(found.version):
        cache.put(entry.query["id"], patched, {row["id"]: row for row in rows})
    return patched


def _merged(
    entry: Entry, version: int, changed: Sequence[int], rows: Sequence[Mapping[str, Any]], config: RankerConfig
) -> Entry:
    """The entry at `version`: the changed candidates' old places dropped and their rows scored again,
    kept where they could reach the top (base + freshness weight above the floor; all, without a floor)."""
    base = _scored(entry.source, rows, config, base_only=True) if rows else np.empty(0)
    kept = [i for i in range(len(rows)) if base[i] + max(config.weights.freshness, 0.0) > entry.floor]
    stays = ~np.isin(entry.ids, np.asarray(changed, dtype=np.int64))
    ids, scores, capacity = _joined(entry, stays, [rows[i] for i in kept], base[kept])
    gone = set(changed)
    return replace(entry, version=version, ids=ids, base=scores, capacity=capacity,
                   pairs={i: p for i, p in entry.pairs.items() if i not in gone},
                   explanations={key: e for key, e in entry.explanations.items() if key[0] not in gone})


def _joined(
    entry: Entry, stays: np.ndarray, rows: Sequence[Mapping[str, Any]], base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids int (m,), base float (m,), capacity float (m,): the entry's candidates where `stays` (bool (n,))
    and these rows with their base scores (float (r,)), best base first (`scoring.rank`: finite only)."""
    ids = np.concatenate([entry.ids[stays], np.array([row["id"] for row in rows], dtype=np.int64)])
    scores = np.concatenate([entry.base[stays], base])
    capacity = np.concatenate([entry.capacity[stays], _column(rows, "capacity")])
    order = scoring.rank(scores, ids)
    return ids[order], scores[order], capacity[order]


async def _deepened(
    conn: asyncpg.Connection, found: Found, rest: ScanRest, widen: int, model: str, config: RankerConfig,
    cache: SuggestionCache | None,
) -> Found | None:
    """An entry just computed, widened to `widen` from its scan's further candidates without scanning again
    (kept in the cache); None if the scan did not reach that far or the version moved since it.

    The scan took candidates in order (`_floor`), so the next ones bound everything after them as the
    first ones did: the floor becomes the lower of the two bounds, none once the scan is used up.
    A widening used to scan again: two more exact scans (120 ms each at 10,000 participants) made a new
    participant's first suggestions take ~1 s when exposure had overtaken their first entry.
    """
    entry = found[0]
    take = rest.ids[: config.exact_candidates * (widen - entry.width)]
    if not take and not rest.complete:
        return None
    rows = await _among(conn, entry.source, model, config, take) if take else []
    if await changes.current(conn) != entry.version:
        return None
    del rest.ids[: len(take)]
    base = _scored(entry.source, rows, config, base_only=True) if rows else np.empty(0)
    order = scoring.rank(base, np.array([row["id"] for row in rows], dtype=np.int64))
    ranked = [rows[i] for i in order]
    floor = -math.inf if not rest.ids and rest.complete else min(entry.floor, _floor(base[order], ranked,
                                                                                       config.weights))
    ids, scores, capacity = _joined(entry, np.ones(len(entry.ids), dtype=bool), ranked, base[order])
    wider = replace(entry, ids=ids, base=scores, capacity=capacity, floor=floor, width=widen)
    cards = {row["id"]: row for row in ranked}
    if cache is not None and cache.observe(entry.version):
        cache.put(entry.query["id"], wider, cards)
    return wider, lambda i: cards[i] if i in cards else found[1](i)


def _rescan(
    participant_id: int, model: str, config: RankerConfig, cache: SuggestionCache
) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """A background exact recomputation of a participant's entry (kept if its version is still current)."""

    async def rescan(conn: asyncpg.Connection) -> None:
        if _rescans < EXACT_RESCANS:
            await compute_entry(conn, participant_id, model, config, cache, exact=True)

    return rescan


async def _fresh_top(
    conn: asyncpg.Connection, participant_id: int, model: str, config: RankerConfig, k: int,
    cache: SuggestionCache | None, widen: int = 1, among: Sequence[int] | None = None, exact: bool = False,
) -> Top | None:
    """The top k of an entry computed afresh, four times as wide while exposure has already overtaken
    it (from the same exact scan while its list reaches, `_deepened`; at MAX_WIDTH served whatever it
    holds). None: no suggestions at all. `exact`: by the exact scan whatever the number of side vectors."""
    rest = ScanRest()
    found = await compute_entry(conn, participant_id, model, config, cache, widen=widen, among=among, exact=exact,
                                rest=rest)
    memory = cache.memory if cache is not None else None
    while found is not None:
        _, chosen, _ = await _chosen(conn, found[0], config, k, last_try=widen >= MAX_WIDTH, memory=memory)
        if chosen is not None:
            return found[0], found[1], chosen
        widen = min(4 * widen, MAX_WIDTH)
        found = (await _deepened(conn, found, rest, widen, model, config, cache)
                 or await compute_entry(conn, participant_id, model, config, cache, widen=widen, among=among,
                                        exact=exact, rest=rest))
    return None


async def _suggestions(
    conn: asyncpg.Connection, top: Top | None, model: str, config: RankerConfig, cache: SuggestionCache | None,
    reader_language: i18n.Language | None, by_name: bool, record_exposure: bool,
) -> list[Suggestion]:
    """The chosen candidates of an entry with explanations; their exposure grows."""
    if top is None or not top[2]:
        return []
    entry, card, chosen = top
    pairs = await _pairs(conn, entry, [int(entry.ids[i]) for i, _ in chosen], model, cache, _ahead(entry, chosen))
    language = reader_language or entry.query["language"]
    quoted: frozenset[str] = frozenset()  # the query's interests quoted so far on this page (explain: variety)
    suggestions = []
    for i, value in chosen:
        candidate = card(int(entry.ids[i]))
        parts, text, html, quotes = _explained(entry, candidate, pairs.get(candidate["id"]), language, by_name, quoted)
        suggestions.append(Suggestion(
            id=candidate["id"], external_id=candidate["external_id"], kind=candidate["kind"], name=candidate["name"],
            organisation=candidate["organisation"], score=value, explanation=text, parts=parts, explanation_html=html,
        ))
        quoted |= quotes
    if record_exposure:  # written within KOBLE_EXPOSURE_FLUSH_MS (listener.ReadTimeSync) with a memory
        await _count_showings(conn, [s.id for s in suggestions], config, cache)
    return suggestions


Explained = tuple[explain.ExplanationParts, str, str, frozenset[str]]  # parts, text, HTML, query texts quoted
EXPLAINED_PER_ENTRY = 512  # bounds an entry's remembered explanations (candidates x languages x pages)


def _explained(
    entry: Entry, card: Mapping[str, Any], options: Sequence[explain.PairOption] | None,
    language: i18n.Language, by_name: bool, quoted: frozenset[str],
) -> Explained:
    """A candidate's explanation for this entry's participant, remembered on the entry: within one
    version the cards and interest pairs are fixed, so it is computed once per page position's `quoted`."""
    # Explaining was a third of a cache hit's CPU (py-spy, 10,000 participants: shared terms, highlighting).
    key = (card["id"], language, by_name, quoted)
    found = entry.explanations.get(key)
    if found is None:
        parts = explain.explanation_parts(entry.query, card, options or (), quoted)
        names = (entry.query["name"], card["name"]) if by_name else None
        text, html = explain.render_cached(parts, language, names)
        if len(entry.explanations) >= EXPLAINED_PER_ENTRY:
            entry.explanations.clear()
        found = entry.explanations[key] = (parts, text, html, frozenset(explain.quoted_query_texts(options, parts)))
    return found


async def compute_entry(
    conn: asyncpg.Connection, participant_id: int, model: str, config: RankerConfig,
    cache: SuggestionCache | None, widen: int = 1, among: Sequence[int] | None = None, exact: bool = False,
    rest: ScanRest | None = None,
) -> Found | None:
    """Retrieve and score a participant's candidates; kept in the cache if every read saw one version.

    `widen` multiplies the candidates retrieved (the entry's `width`); `among` scores exactly these
    candidates (every one of them that passes the hard constraints) instead of retrieving; `exact`
    retrieves by the exact scan whatever the number of side vectors (`EXACT_RESCANS` at a time). `rest`
    receives the exact scan's further candidates, up to MAX_WIDTH times the usual (for `_deepened`).
    """
    if rest is not None:
        rest.ids, rest.complete = [], False
    query = await retrieval.query_participant(conn, participant_id, model)
    if query is None or query["hidden_at"] is not None or query["verified_at"] is None or not query_vectors(query):
        return None
    pooled = False
    if among is not None:
        rows, truncated = await _among(conn, query, model, config, among), False
    elif exact:
        global _rescans
        _rescans += 1
        try:
            rows, truncated, pooled = await _retrieved(conn, query, model, config, widen, exact=True, rest=rest)
        finally:
            _rescans -= 1
    else:
        rows, truncated, pooled = await _retrieved(conn, query, model, config, widen, rest=rest)
    base = _scored(query, rows, config, base_only=True)
    ids = np.array([row["id"] for row in rows], dtype=np.int64)
    order = scoring.rank(base, ids)
    ranked = [rows[i] for i in order]
    capacity = _column(ranked, "capacity")
    entry = Entry(version=query["matching_version"], query=_card(query),
                  source={name: query[name] for name in SOURCE_COLUMNS}, ids=ids[order], base=base[order],
                  capacity=capacity, floor=_floor(base[order], ranked, config.weights) if truncated else -math.inf,
                  width=widen, exact=not pooled)
    # Pairs for the likely top now, in the same run of reads: the version read with them proves
    # that nothing changed since the query row was read.
    likely = entry.ids[:PAIRS_AHEAD].tolist()
    version, options = await _options_versioned(conn, participant_id, model, likely)
    entry.pairs.update(_grouped(likely, options))
    cards = {row["id"]: row for row in (rows[i] for i in order)}
    if cache is not None and version is not None and version == entry.version and cache.observe(version):
        cache.put(participant_id, entry, cards)
    return entry, cards.__getitem__


def _floor(base: np.ndarray, ranked: Sequence[Mapping[str, Any]], weights: scoring.Weights) -> float:
    """What a candidate left out of a cut entry can score at most (base float (m,), its ranked rows).

    The exact scan takes candidates in the order of their final score but for location and exposure;
    one left out scored at most the lowest of those, so at most the entry's lowest base score with its
    freshness, plus the weights of the soft features the scan leaves out (`ranking.UNSCANNED_SOFT`:
    location). Exposure only lowers scores; a candidate becoming active again can gain up to the
    freshness weight (not counted). Above `exact_search_below` the pool is not exact, and the bound
    holds for the pool only.
    """
    if not len(ranked):
        return -math.inf
    fresh = scoring.freshness(_column(ranked, "age_days"), weights.freshness_half_life_days)
    unscanned = sum(max(getattr(weights, name), 0.0) for name in ranking.UNSCANNED_SOFT)
    return float((base + weights.freshness * fresh).min()) + unscanned


def _card(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in (*CARD_COLUMNS, "language")}


async def _retrieved(
    conn: asyncpg.Connection, query: Mapping[str, Any], model: str, config: RankerConfig, widen: int = 1,
    exact: bool = False, rest: ScanRest | None = None,
) -> tuple[list[asyncpg.Record], bool, bool]:
    """Candidate rows of the retrieved candidates (hard constraints but capacity and declines applied),
    whether retrieval was cut (fewer than every allowed candidate may have been seen), and whether they
    came from an index pool (a cut that bounds the pool only). `exact`: the exact scan whatever the size.

    The `exact_candidates` of highest final score but for location (`ranking.by_relevance`),
    computed over every allowed candidate below `exact_search_below` side vectors; above, the
    `pool_keep` best of a pool (`_pooled`).
    """
    vectors = query_vectors(query)
    constraints = query_filter(query, model, [])
    size = await retrieval.side_rows(conn, query["side_rows"], config.exact_search_below)
    relevance = ranking.Relevance.of(query["language"], config.weights, config.lexical_terms)
    n = config.exact_candidates * widen
    pooled = not exact and size >= config.exact_search_below
    if not pooled:
        # Deeper for `rest`: the order is computed for every allowed candidate anyway; listing up to 12,800 of
        # them instead of 200 changed nothing measurable (by_relevance 115 ms, 120 before, at 10,000 participants).
        depth = n if rest is None else max(n, config.exact_candidates * MAX_WIDTH)
        scanned = await ranking.by_relevance(conn, constraints, vectors, depth, config.relevance_pool, relevance)
        ids, truncated = scanned[:n], len(scanned) > n or len(scanned) >= depth
        if rest is not None:
            rest.ids, rest.complete = scanned[n:], len(scanned) < depth
    else:
        # A pool is a cut whatever its size: exposure may promote a candidate outside it.
        n = config.pool_keep * widen
        ids, truncated = await _pooled(conn, constraints, vectors, n, config, relevance, widen), True
    lexical_terms = config.lexical_terms if config.weights.lexical else 0
    rows = await ranking.candidate_rows(conn, constraints, vectors, ids, config.exposure_half_life_days,
                                        lexical_terms, interests=bool(config.weights.interest))
    return rows, truncated, pooled


async def _among(
    conn: asyncpg.Connection, query: Mapping[str, Any], model: str, config: RankerConfig, among: Sequence[int]
) -> list[asyncpg.Record]:
    """Candidate rows of exactly these candidates (those passing the SQL hard constraints)."""
    lexical_terms = config.lexical_terms if config.weights.lexical else 0
    return await ranking.candidate_rows(conn, query_filter(query, model, []), query_vectors(query), list(among),
                                        config.exposure_half_life_days, lexical_terms,
                                        interests=bool(config.weights.interest))


async def _pooled(
    conn: asyncpg.Connection, query_filter: retrieval.QueryFilter, vectors: dict[str, np.ndarray], n: int,
    config: RankerConfig, relevance: ranking.Relevance, widen: int,
) -> list[int]:
    """The n of highest relevance among the index's pool and the lexical path's.

    The pool follows the sum of both directions' cosines (pair vectors), which the harmonic mean
    tracks far better than either direction's top list; the lexical path adds the candidates whose
    shared rare terms could double a fit, and the best interest pairs' path adds the candidates whose
    one interest fits one of the query's (`retrieval.interest_pool`). `widen` widens the pool.
    """
    size = min(config.pair_candidates * widen, retrieval.MAX_EF_SEARCH)
    pool = await _index_pool(conn, query_filter, vectors, size)
    if config.weights.interest:
        # The side vectors blur many-topic profiles: add who fits best interest by interest.
        pool = list(dict.fromkeys([*pool, *await retrieval.interest_pool(conn, query_filter, size)]))
    return await ranking.by_relevance(conn, query_filter, vectors, n, ranking.MAX_POOL, relevance,
                                         among=pool, rare_rows=config.rare_term_rows)


async def _index_pool(
    conn: asyncpg.Connection, query_filter: retrieval.QueryFilter, vectors: dict[str, np.ndarray], size: int
) -> list[int]:
    """Up to `size` candidates per other kind from the HNSW indexes: by pair vectors for a two-sided
    query, else by the one direction it has."""
    if len(vectors) == 2:
        return await retrieval.pair_pool(conn, query_filter, vectors, size)
    return (await retrieval.retrieve(conn, query_filter, vectors, size, False)).ids


@dataclass
class _State:
    """The read-time state of a query and of its entry's first `len(allowed)` candidates: still allowed
    (visible, below capacity, not blocked) bool (d,), freshness and decayed exposure float (d,)."""

    version: int | None
    query_allowed: bool
    allowed: np.ndarray
    fresh: np.ndarray
    shown: np.ndarray


async def _read_state(
    conn: asyncpg.Connection, entry: Entry, config: RankerConfig, depth: int, earlier: _State | None = None,
    memory: ReadTimeMemory | None = None,
) -> _State:
    """`earlier` extended to the entry's first `depth` candidates (from `memory`, else one statement);
    version None if the reads saw different versions."""
    query_id, start = entry.query["id"], 0 if earlier is None else len(earlier.allowed)
    first = [query_id] if earlier is None else []
    ids = [*first, *entry.ids[start:depth].tolist()]
    read = await _read_time(conn, memory, query_id, ids, config.exposure_half_life_days)
    capacity = np.concatenate([[float(entry.query["capacity"])] if first else [], entry.capacity[start:depth]])
    allowed = read.visible & (read.active < capacity) & ~read.blocked
    fresh = scoring.freshness(read.age_days, config.weights.freshness_half_life_days)
    if earlier is None:
        return _State(read.version, bool(allowed[0]), allowed[1:], fresh[1:], read.shown[1:])
    return _State(read.version if read.version == earlier.version else None, earlier.query_allowed,
                  np.concatenate([earlier.allowed, allowed]), np.concatenate([earlier.fresh, fresh]),
                  np.concatenate([earlier.shown, read.shown]))


async def _read_time(
    conn: asyncpg.Connection, memory: ReadTimeMemory | None, query_id: int, ids: list[int], half_life_days: float
) -> state.ReadTime:
    """The read-time state of these participants for this query: from memory when every copy is there
    (no round trip), else read (and, with a memory, kept for the next time)."""
    if memory is None or not memory.ready:
        return await state.read_time_state(conn, query_id, ids, half_life_days)
    found = memory.state(query_id, ids, time.time())
    if found is not None:
        return found
    # Only the copies it lacks: an answer or a match forgets two people's, and reading those two instead of
    # every candidate of the entry took these reads from 0.86 to 0.41 ms of PostgreSQL each (bench/README.md,
    # "Generic plans for the everyday statements").
    missing, blocked = memory.missing(query_id, ids)
    await _stored(conn, memory, query_id if blocked else None, missing)
    found = memory.state(query_id, ids, time.time())
    if found is not None:
        return found
    # A notification touched what was just read (it was not kept): read everything, as without a memory.
    return memory.from_stored(query_id, ids, await _stored(conn, memory, query_id, ids), time.time())


async def _stored(
    conn: asyncpg.Connection, memory: ReadTimeMemory, query_id: int | None, ids: list[int]
) -> state.StoredState:
    """These participants' stored read-time state (and the query's blocked pairs), kept in memory as read."""
    began = memory.begin_load()
    try:
        stored = await state.stored_state(conn, query_id, ids)
    except BaseException:
        memory.cancel_load()
        raise
    memory.store(began, query_id, ids, stored)
    return stored


async def _chosen(
    conn: asyncpg.Connection, entry: Entry, config: RankerConfig, k: int, last_try: bool = False,
    memory: ReadTimeMemory | None = None,
) -> tuple[int | None, list[tuple[int, float]] | None, bool]:
    """The version read, the top k of an entry after the read-time terms and checks:
    (index in entry.ids, final score), and whether exposure has reshaped a pool entry's top (`RESHAPED`).

    final = base + freshness - exposure terms (scoring.score's, so the result equals ranking afresh);
    -inf for candidates no longer visible, at capacity or blocked. Nothing if the query itself is
    hidden or at capacity. The state is read only as deep as needed: entries are in order of base
    score, and final ≤ base + the freshness weight. None (unless `last_try`) when the k-th final
    score is no longer above what a candidate outside the entry could reach (`Entry.floor`).
    """
    depth = min(len(entry.ids), max(FIRST_READ, 2 * k))
    seen = await _read_state(conn, entry, config, depth, memory=memory)
    if not seen.query_allowed:
        return seen.version, [], False
    while True:
        final = _final(entry, seen, config.weights)
        top = scoring.rank(final, entry.ids[:depth], k)
        kth = float(final[top[-1]]) if len(top) == k else -math.inf
        if depth == len(entry.ids) or kth > entry.base[depth] + max(config.weights.freshness, 0.0):
            break
        depth = min(len(entry.ids), 4 * depth)
        seen = await _read_state(conn, entry, config, depth, seen, memory)
    reshaped = not entry.exact and _reshaped(entry, seen, config.weights, kth, k)
    if not last_try and entry.floor > -math.inf and kth <= entry.floor:
        return seen.version, None, reshaped
    return seen.version, [(int(i), float(final[i])) for i in top], reshaped


def _reshaped(entry: Entry, seen: _State, weights: scoring.Weights, kth: float, k: int) -> bool:
    """Whether exposure pushed the k-th final score below the RESHAPED_DEPTH * k-th best score without it."""
    unexposed = np.where(seen.allowed, entry.base[:len(seen.allowed)] + weights.freshness * seen.fresh, -np.inf)
    depth = RESHAPED_DEPTH * k
    if len(unexposed) < depth or not math.isfinite(kth):
        return False
    return bool(kth < float(np.partition(unexposed, -depth)[-depth]))


def _final(entry: Entry, seen: _State, weights: scoring.Weights) -> np.ndarray:
    """float (d,): final scores of the entry's first d candidates (-inf where no longer allowed)."""
    depth = len(seen.allowed)
    final = (entry.base[:depth] + weights.freshness * seen.fresh
             - weights.exposure * scoring.exposure_pressure(seen.shown, entry.capacity[:depth],
                                                            weights.exposure_scale))
    return np.where(seen.allowed, final, -np.inf)


async def record_exposure(
    conn: asyncpg.Connection, participant_ids: Sequence[int], config: RankerConfig, cache: SuggestionCache | None = None
) -> None:
    """Count one showing of each of these participants (for callers that show fewer than they asked for):
    written with the suggestions' showings by the cache's read-time memory, if it has one, else now."""
    await _count_showings(conn, participant_ids, config, cache)


async def _count_showings(
    conn: asyncpg.Connection, participant_ids: Sequence[int], config: RankerConfig, cache: SuggestionCache | None
) -> None:
    # With a memory, one statement per KOBLE_EXPOSURE_FLUSH_MS for every request's showings, not one per request.
    memory = cache.memory if cache is not None else None
    if memory is not None and memory.ready:
        memory.show(participant_ids)
    else:
        await state.record_exposure(conn, participant_ids, config.exposure_half_life_days)


def _grouped(ids: Sequence[int], rows: Sequence[Mapping[str, Any]]) -> dict[int, Any]:
    """Candidate id -> its interest pair options (a tuple of `explain.PairOption`, empty if none), for every id."""
    found: dict[int, list[Mapping[str, Any]]] = {int(i): [] for i in ids}
    for row in rows:
        found[row["candidate_id"]].append(row)
    return {i: tuple(explain.pair_options(options)) for i, options in found.items()}


async def interest_pair_options(
    conn: asyncpg.Connection, query_id: int, model: str, candidate_ids: Sequence[int]
) -> dict[int, tuple[Mapping[str, Any], ...]]:
    """Per candidate, the best interest pairs of each direction with cosines (`explain.explanation_parts`'
    `pair` argument: both directions' strongest pair are quoted)."""
    _version, rows = await _options_versioned(conn, query_id, model, candidate_ids)
    found: dict[int, list[Mapping[str, Any]]] = {int(i): [] for i in candidate_ids}
    for row in rows:
        found[row["candidate_id"]].append(row)
    return {i: tuple(options) for i, options in found.items()}


async def explain_to(
    conn: asyncpg.Connection, model: str, me: asyncpg.Record, other: asyncpg.Record, language: i18n.Language
) -> tuple[str, str, tuple[str, ...]]:
    """Why `other` fits `me`, addressed to `me`, as the ranker's explanations are: plain text, safe HTML with
    the shared terms marked, and those terms (both directions' strongest interest pair). The one way every
    page and email explains a single pair (the feed's card, the match page, an introduction)."""
    options = await interest_pair_options(conn, me["id"], model, [other["id"]])
    parts = explain.explanation_parts(me, other, options.get(other["id"], ()))
    return (*explain.render_cached(parts, language), explain.shared_of(parts))


async def interest_pair_options_of_pairs(
    conn: asyncpg.Connection, pairs: Sequence[tuple[int, int]], model: str
) -> dict[tuple[int, int], tuple[Mapping[str, Any], ...]]:
    """`interest_pair_options` for many (a, b) pairs, a as the query (a page of the staff queue)."""
    centres = await _interest_centres(conn, model)
    rows = await interests.interest_rows(conn, model, sorted({i for pair in pairs for i in pair}))
    of: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        of.setdefault(row["participant_id"], []).append(row)
    return {(a, b): tuple(interest_space.option_rows(of.get(a, []) + of.get(b, []), a, centres,
                                                     interests.OPTIONS_PER_DIRECTION)) for a, b in pairs}


# Explanations compare interests centred per group and read in context (`interest_space`); the centres
# are means over thousands of rows and move little, so they are computed from a sample once per model
# and kept: no read per card beyond the interest rows.
CENTRES_MAX_AGE = 600.0  # seconds
CENTRE_SAMPLE = 2000  # rows per (kind, side, language) group the centres are computed from
_centres: dict[str, tuple[float, interest_space.Centres]] = {}


async def _interest_centres(conn: asyncpg.Connection, model: str) -> interest_space.Centres:
    """The explanation space's centres of a model, computed from a sample at most `CENTRES_MAX_AGE` ago."""
    kept = _centres.get(model)
    if kept is not None and time.monotonic() - kept[0] < CENTRES_MAX_AGE:
        return kept[1]
    rows = await interests.group_sample(conn, model, CENTRE_SAMPLE)
    vectors = np.array([interest_space.as_array(r["embedding"]) for r in rows], dtype=np.float32)
    groups = [interest_space.group_of(r["kind"], r["side"], r["language"]) for r in rows]
    centres = interest_space.centres_of(vectors, groups) if rows else {}
    _centres[model] = (time.monotonic(), centres)
    return centres


def forget_centres() -> None:
    """Compute the explanation centres again on next use (tests empty the database between them)."""
    _centres.clear()


async def _options_versioned(
    conn: asyncpg.Connection, query_id: int, model: str, candidate_ids: Sequence[int]
) -> tuple[int | None, list[dict[str, Any]]]:
    """Per candidate and query side, the best interest pairs in the explanation space, with the
    matching version the interests were read at."""
    centres = await _interest_centres(conn, model)
    version, rows = await interests.interest_rows_versioned(conn, model, [query_id, *candidate_ids])
    return version, interest_space.option_rows(rows, query_id, centres, interests.OPTIONS_PER_DIRECTION)


# Candidates past the chosen ones whose pairs are read in the same statement: exposure moves the next
# candidates up at each showing, so a participant's next page would read them again, one round trip
# each (a tenth of a cache hit's CPU at 10,000 participants, py-spy under wrk).
READ_AHEAD = 20


def _ahead(entry: Entry, chosen: Sequence[tuple[int, float]]) -> list[int]:
    """Up to READ_AHEAD of the entry's candidates after the last chosen one, with no pairs read yet."""
    last = max((i for i, _ in chosen), default=-1)
    return [int(c) for c in entry.ids[last + 1:last + 1 + READ_AHEAD] if int(c) not in entry.pairs]


async def _pairs(
    conn: asyncpg.Connection, entry: Entry, ids: Sequence[int], model: str, cache: SuggestionCache | None,
    ahead: Sequence[int] = (),
) -> Mapping[int, Any]:
    """Interest pair options of these candidates: the entry's, and the missing ones read (and kept),
    with those of `ahead` in the same read unless it is the entry's first page (a miss: its wait is a
    registration's first suggestions)."""
    missing = [i for i in ids if i not in entry.pairs]
    if not missing:
        return entry.pairs
    if entry.pairs:
        missing += [i for i in ahead if i not in missing]
    version, rows = await _options_versioned(conn, entry.query["id"], model, missing)
    found = _grouped(missing, rows)
    if cache is not None:
        cache.add_pairs(entry, version, found)
    return entry.pairs | found


async def rank_all(
    conn: asyncpg.Connection, participant_id: int, model: str, config: RankerConfig
) -> list[Ranked]:
    """Every allowed candidate for a participant, exactly ranked, best first (evaluation).

    No index, no top-n cut, no capacity or decline checks (docs/contracts.md §4: not applicable inside
    `koble evaluate`); no exposure is recorded.
    """
    query = await retrieval.query_participant(conn, participant_id, model)
    if query is None or query["hidden_at"] is not None or query["verified_at"] is None:
        return []
    lexical_terms = config.lexical_terms if config.weights.lexical else 0
    rows = await ranking.candidate_rows(
        conn, query_filter(query, model, []), query_vectors(query), None, config.exposure_half_life_days, lexical_terms,
        interests=bool(config.weights.interest),
    )
    scores = _scored(query, rows, config)
    order = scoring.rank(scores, np.array([row["id"] for row in rows], dtype=np.int64))
    return [Ranked(rows[i]["id"], rows[i]["external_id"], float(scores[i])) for i in order]


async def may_suggest(
    conn: asyncpg.Connection, participant_id: int, candidate_id: int, model: str, config: RankerConfig
) -> bool:
    """Whether docs/contracts.md §6 lets the ranker suggest this candidate to this participant now.

    Both profiles' hard constraints (kinds, a shared domain, windows, engagements, visibility), an
    interest to compare, and the candidate's capacity. Not the participant's own capacity or their
    answers and matches: the caller refuses those in its own words (the feed's answers).
    """
    query = await retrieval.query_participant(conn, participant_id, model)
    if query is None:
        return False
    # The SQL twin of scoring.hard_constraints, for one candidate.
    capacity = await retrieval.allowed_capacity(conn, query_filter(query, model, []), candidate_id)
    if capacity is None:
        return False
    read = await state.read_time_state(conn, participant_id, [candidate_id], config.exposure_half_life_days)
    return bool(read.active[0] < capacity)


async def query_participant(conn: asyncpg.Connection, participant_id: int, model: str) -> asyncpg.Record | None:
    """The participant as the ranker reads it (with its side vectors), or None (evaluation's features)."""
    return await retrieval.query_participant(conn, participant_id, model)


async def all_candidate_rows(
    conn: asyncpg.Connection, query: asyncpg.Record, model: str, config: RankerConfig
) -> list[asyncpg.Record]:
    """Every candidate row the ranker scores for this query, with lexical counts (no pool, no cache)."""
    return await ranking.candidate_rows(
        conn, query_filter(query, model, []), query_vectors(query), None,
        config.exposure_half_life_days, config.lexical_terms,
    )


@dataclass(frozen=True)
class InterestVectors:
    """Interest vectors of visible participants: participant ids int (n,), sides and positions (n,),
    text hashes (n,) and the vectors float32 (n, dim), in (participant, side, position) order."""

    participant_ids: np.ndarray
    sides: list[str]
    positions: np.ndarray
    hashes: list[bytes]
    vectors: np.ndarray


async def interest_vectors(
    conn: asyncpg.Connection, model: str, participant_ids: Sequence[int] | None = None
) -> InterestVectors:
    """Every stored interest vector of this model of visible participants (or of these participants)."""
    rows = await embeddings.interest_vectors(conn, model, participant_ids)
    dim = len(rows[0]["embedding"].to_numpy()) if rows else 0
    vectors = np.empty((len(rows), dim), dtype=np.float32)
    for i, row in enumerate(rows):
        vectors[i] = row["embedding"].to_numpy()
    return InterestVectors(
        np.array([row["participant_id"] for row in rows], dtype=np.int64), [row["side"] for row in rows],
        np.array([row["position"] for row in rows], dtype=np.int64), [bytes(row["text_hash"]) for row in rows],
        vectors)


def unmet_floor(model: str, ranker: RankerSettings | None = None) -> float:
    """The ranker's similarity floor for a model (`KOBLE_SIMILARITY_FLOOR` or the model's default)."""
    return (ranker or get_ranker_settings()).weights(model).similarity_floor


def on_embedded(hook: EmbeddedHook) -> None:
    """Call `hook(conn, model, participant_ids)` after each embedding write (a domain above matching,
    e.g. mapping's nearest theme, registered by the entry points; registering twice is a no-op)."""
    embedding.add_hook(hook)
