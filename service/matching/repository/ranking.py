"""The ranker in SQL: the rows it scores (`candidate_rows`) and the exact scan that orders candidates
by its final score but for location and exposure (`by_relevance`), with the full-text terms both use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import numpy as np

from service.kit.database import custom_plans
from service.matching import scoring
from service.matching.repository.retrieval import ALLOWED_SQL, QueryFilter
from service.matching.repository.state import exposure_decay_sql

MAX_POOL = 1_000_000  # `by_relevance`'s pool when every candidate it scans is to be scored with its lexical factor

# The query's own full-text terms: its most frequent lexemes (stop words of either language dropped),
# each with its Norwegian and English stem as well, so "PLC" or "sikkerhet" matches in either
# configuration. Frequent first, so long research texts give a bounded list.
TERMS_SQL = """(SELECT array_agg(DISTINCT stem)
    FROM (SELECT lexeme
          FROM (SELECT t.lexeme, cardinality(t.positions) AS n FROM participants a, unnest(a.{column}) AS t
                WHERE a.id = $1 ORDER BY n DESC, t.lexeme LIMIT 4 * $12) AS frequent
          WHERE ts_lexize('english_stem', lexeme) <> '{{}}' AND ts_lexize('norwegian_stem', lexeme) <> '{{}}'
          ORDER BY n DESC, lexeme LIMIT $12) AS chosen,
    LATERAL unnest(ARRAY[lexeme] || ts_lexize('english_stem', lexeme) || ts_lexize('norwegian_stem', lexeme))
        AS stem)"""

# How many of a candidate's distinct lexemes are among the query's terms: weight them A, keep the A's,
# count. ~2.4 us a row where ts_rank_cd with the same terms as an OR-query took ~22 us, and on the
# labelled set it ranked as well (full ranker nDCG@10 0.603 against 0.606); scoring.lexical_rank
# turns the count into a rank.
MATCHES_SQL = "coalesce(length(ts_filter(setweight(p.{column}, 'A', q.{terms}), '{{a}}')), 0)"

# scoring.best_pair_cosines in SQL: the largest cosine between one of the query's interests of side
# {mine} (the `qi` rows) and one of candidate {who}'s interests of the opposite side. NULL where either
# has none. $8 model.
BEST_PAIR_SQL = """(SELECT max(1 - (qi.embedding <=> b.embedding)) FROM qi
    JOIN interest_embeddings b ON b.participant_id = {who} AND b.model = $8 AND b.side <> qi.side
    WHERE qi.side = '{mine}')"""
# The query's own interest vectors ($1 query id, $8 model), read once per statement.
QUERY_INTERESTS_SQL = """qi AS MATERIALIZED (
    SELECT side, embedding FROM interest_embeddings WHERE participant_id = $1 AND model = $8 AND {enabled})"""

# $9 query seeks vector, $10 query offers vector, $11 exposure half-life (days), $12 lexical terms
# (0: no lexical matching), $13 candidate ids (NULL: every allowed candidate), $14 best interest
# pairs wanted (false: fwd_best and bwd_best are NULL).
_CANDIDATES = f"""WITH q AS MATERIALIZED (
    SELECT CASE WHEN $12 > 0 THEN {TERMS_SQL.format(column="seeks_tsv")} END AS fwd,
           CASE WHEN $12 > 0 THEN {TERMS_SQL.format(column="offers_tsv")} END AS bwd),
{QUERY_INTERESTS_SQL.format(enabled="$14::boolean")}
SELECT p.id, p.external_id, p.kind, p.name, p.organisation, p.language, p.domains, p.engagements,
       p.available_from, p.available_until, p.capacity, p.location,
       (p.hidden_at IS NULL AND p.verified_at IS NOT NULL) AS visible,
       extract(epoch FROM now() - p.last_active_at)::float8 / 86400 AS age_days,
       1 - (o.embedding <=> $9) AS fwd_cos, 1 - (s.embedding <=> $10) AS bwd_cos,
       CASE WHEN o.embedding IS NOT NULL THEN {BEST_PAIR_SQL.format(who="p.id", mine="seeks")} END AS fwd_best,
       CASE WHEN s.embedding IS NOT NULL THEN {BEST_PAIR_SQL.format(who="p.id", mine="offers")} END AS bwd_best,
       coalesce(e.shown * {exposure_decay_sql("$11")}, 0) AS shown,
       {MATCHES_SQL.format(column="offers_tsv", terms="fwd")} AS fwd_matches, length(p.offers_tsv) AS offers_terms,
       {MATCHES_SQL.format(column="seeks_tsv", terms="bwd")} AS bwd_matches, length(p.seeks_tsv) AS seeks_terms
FROM participants p CROSS JOIN q
LEFT JOIN side_embeddings o ON o.participant_id = p.id AND o.model = $8 AND o.side = 'offers'
LEFT JOIN side_embeddings s ON s.participant_id = p.id AND s.model = $8 AND s.side = 'seeks'
LEFT JOIN exposure e ON e.participant_id = p.id
WHERE {ALLOWED_SQL} AND {{among}}
  -- Only candidates with an interest to compare: the query's seeks with their offers, or vice versa.
  AND ((o.embedding IS NOT NULL AND $9::vector IS NOT NULL) OR (s.embedding IS NOT NULL AND $10::vector IS NOT NULL))
ORDER BY p.id"""


@dataclass(frozen=True)
class Relevance:
    """The query's side of the ranker's final score but for location and exposure, in SQL
    (scoring.score: R, scoring.relevance, and the soft terms)."""

    language: str
    cross_lingual_shift: float
    similarity_floor: float
    one_directional: bool
    lexical: float  # weight of the lexical factor (0: cosines only)
    lexical_terms: int  # the query's full-text terms (LEXICAL_TERMS)
    reciprocal: float = 1.0
    soft: Mapping[str, float] = field(default_factory=dict)  # soft feature -> weight (absent: 0)
    availability_horizon_days: float = 365.0
    freshness_half_life_days: float = 180.0
    interest: float = 0.0  # scoring.Weights.interest: the best interest pair's share of a direction's cosine

    @classmethod
    def of(cls, language: str, weights: scoring.Weights, lexical_terms: int) -> Relevance:
        """For a query of this language, with these weights."""
        return cls(
            language, weights.cross_lingual_shift, weights.similarity_floor, weights.one_directional, weights.lexical,
            lexical_terms if weights.lexical else 0, weights.reciprocal,
            {name: getattr(weights, name) for name in scoring.SOFT_NAMES},
            weights.availability_horizon_days, weights.freshness_half_life_days, weights.interest)

    def soft_params(self) -> list[float]:
        """$22.. of the exact scan: the horizon, the half-life, the weights of `SOFT_SQL`'s terms and the
        interest blend."""
        return [self.availability_horizon_days, self.freshness_half_life_days,
                *(float(self.soft.get(name, 0.0)) for name, sql in SOFT_SQL.items() if sql is not None),
                float(self.interest)]


# scoring.relevance in SQL: each direction's cosine (+ the shift for another language) mapped from
# [floor, 1] to [0, 1], times 1 + lexical * scoring.lexical_rank of its full-text matches, then the
# harmonic mean of the two directions, or the one that exists; candidates come in the order of
# reciprocal * R + the soft terms but location: the ranker's final score but for location and exposure,
# so the last one taken bounds what any candidate left out can score whatever exposure does (the cache
# entry's floor; exposure only lowers scores, and is applied when an entry is read). The lexical factor
# costs ~5 us a row, so it is computed only for the `pool` best by cosines alone.
# $9 query seeks vector, $10 query offers vector, $11 n, $12 lexical terms, $13 query language,
# $14 shift, $15 floor, $16 one-directional, $17 lexical weight, $18 pool, $19 reciprocal weight,
# $20-$21 the lexical path (below), $22 on the soft terms (SOFT_SQL).
_FIT = "CASE WHEN {cos} IS NOT NULL THEN greatest(0, least(1, ({cos} + l.shift - l.floor) / (1 - l.floor))) END"
_HARMONIC = """CASE WHEN {f} IS NOT NULL AND {b} IS NOT NULL AND NOT $16
                    THEN CASE WHEN {f} + {b} > 0 THEN 2 * {f} * {b} / ({f} + {b}) ELSE 0 END
                    ELSE coalesce({f}, {b}) END"""
_LEXICAL_RANK = "(0.1 * {matches} / (1 + ln(greatest({terms}, 1))))"
_BOOST = "(1 + $17 * {x} / (1 + {x}))"
# scoring.SOFT_FEATURES in SQL: each feature's value for candidate `p` (with the query's filter
# parameters, $13 its language), or None for one the exact scan leaves out (location: its weight is
# added to the entry's floor instead, scoring.location_codes compares case-folded text). Day numbers as
# float8 so that open ends are +-infinity, as in numpy. $22 availability horizon (days), $23 freshness
# half-life (days); the weights follow from $24 in this order (`Relevance.soft_params`).
_DAY = "coalesce(({column} - DATE '2000-01-01')::float8, '{infinity}'::float8)"
_SPAN = "least({until} - {since} + 1, $22::float8)"
_WINDOWS = {"qf": _DAY.format(column="$4::date", infinity="-infinity"),
            "qu": _DAY.format(column="$5::date", infinity="infinity"),
            "cf": _DAY.format(column="p.available_from", infinity="-infinity"),
            "cu": _DAY.format(column="p.available_until", infinity="infinity")}
_OVERLAP = ("least(greatest(least(greatest(least({qu}, {cu}) - greatest({qf}, {cf}) + 1, 0), $22::float8)"
            " / least(" + _SPAN.format(until="{qu}", since="{qf}") + ", " + _SPAN.format(until="{cu}", since="{cf}")
            + "), 0), 1)").format(**_WINDOWS)
_SHARED = "(SELECT count(*) FROM unnest(p.engagements) AS x WHERE x = ANY($6::text[]))"
_ENGAGEMENT = f"""CASE WHEN cardinality($6::text[]) > 0 AND cardinality(p.engagements) > 0
    THEN 0.5 + 0.5 * {_SHARED} / greatest(least(cardinality(p.engagements), cardinality($6::text[])), 1)
    ELSE 0.5 END"""
_FRESHNESS = ("power(0.5::float8, greatest(extract(epoch FROM now() - p.last_active_at)::float8 / 86400, 0)"
              " / $23::float8)")
SOFT_SQL: dict[str, str | None] = {
    "availability": _OVERLAP,
    "engagement": _ENGAGEMENT,
    "language": "(p.language = $13)::int",
    "location": None,
    "freshness": _FRESHNESS,
}
# Every soft feature has its twin here (or None): a feature added to scoring alone fails at import.
assert tuple(SOFT_SQL) == scoring.SOFT_NAMES, "SOFT_SQL must follow scoring.SOFT_FEATURES"
# Soft features the exact scan leaves out: each can add at most its weight to a candidate it did not take.
UNSCANNED_SOFT: tuple[str, ...] = tuple(name for name, sql in SOFT_SQL.items() if sql is None)
_SOFT = "(" + "\n    + ".join(
    f"${24 + i}::float8 * ({sql})" for i, sql in enumerate(sql for sql in SOFT_SQL.values() if sql is not None)) + ")"
# scoring.blended in SQL: a direction's cosine blended with its best interest pair (Weights.interest,
# the parameter after the soft weights); the side cosine alone where there is no best pair.
_INTEREST = f"{24 + len([sql for sql in SOFT_SQL.values() if sql is not None])}::float8"
_BLEND = f"CASE WHEN {{best}} IS NULL THEN {{side}} ELSE (1 - ${_INTEREST}) * {{side}} + ${_INTEREST} * {{best}} END"
# The lexical retrieval path: an OR-query of the query's terms that are rare in the candidates' column
# (ANALYZE's most common elements do not list them above $21 rows), so a lexically strong candidate is
# scored whatever its cosines. No statistics yet (never analysed), no lexical path. Lexemes with a
# quote or backslash are left out (the tsquery literal would need escaping).
_RARE = """(SELECT string_agg(quote_literal(t), ' | ')::tsquery
    FROM stats CROSS JOIN unnest(q.{terms}) AS t
    WHERE stats.attname = '{column}' AND t <> ALL(stats.common) AND strpos(t, '''') = 0 AND strpos(t, chr(92)) = 0)"""
# $20 candidate ids (NULL: every allowed candidate), $21 rare-term rows (0: no lexical path; only with $20).
_RELEVANCE = f"""WITH q AS MATERIALIZED (
    SELECT CASE WHEN $12 > 0 THEN {TERMS_SQL.format(column="seeks_tsv")} END AS fwd,
           CASE WHEN $12 > 0 THEN {TERMS_SQL.format(column="offers_tsv")} END AS bwd
), stats AS MATERIALIZED (
    SELECT s.attname::text AS attname,
           ARRAY(SELECT m.e FROM unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS m(e, f)
                 WHERE m.e IS NOT NULL AND m.f * greatest(c.reltuples, 0) > $21) AS common
    FROM pg_stats s JOIN pg_class c ON c.oid = 'participants'::regclass
    WHERE $21 > 0 AND $20::bigint[] IS NOT NULL AND s.schemaname = current_schema() AND s.tablename = 'participants'
      AND s.attname IN ('offers_tsv', 'seeks_tsv')
), lex AS MATERIALIZED (
    SELECT {_RARE.format(terms="fwd", column="offers_tsv")} AS fwd,
           {_RARE.format(terms="bwd", column="seeks_tsv")} AS bwd
    FROM q
), {QUERY_INTERESTS_SQL.format(enabled=f"${_INTEREST} > 0")}, allowed AS MATERIALIZED (
    SELECT p.id, p.language
    FROM {{source}}
    WHERE {ALLOWED_SQL}
), pool AS MATERIALIZED (
    -- Narrow rows through the joins: only the id and the fits.
    SELECT a.id, d.f, d.b
    FROM allowed a
    LEFT JOIN side_embeddings o
        ON o.participant_id = a.id AND o.model = $8 AND o.side = 'offers' AND $9::vector IS NOT NULL
    LEFT JOIN side_embeddings s
        ON s.participant_id = a.id AND s.model = $8 AND s.side = 'seeks' AND $10::vector IS NOT NULL
    CROSS JOIN LATERAL (SELECT CASE WHEN a.language <> $13 THEN $14::float8 ELSE 0 END AS shift,
                               $15::float8 AS floor) AS l
    CROSS JOIN LATERAL (SELECT 1 - (o.embedding <=> $9) AS f, 1 - (s.embedding <=> $10) AS b) AS side
    -- (OFFSET 0: each best pair is computed once a row, not once for every place the blend names it.)
    CROSS JOIN LATERAL (SELECT CASE WHEN ${_INTEREST} > 0 AND side.f IS NOT NULL
                                    THEN {BEST_PAIR_SQL.format(who="a.id", mine="seeks")} END AS f,
                               CASE WHEN ${_INTEREST} > 0 AND side.b IS NOT NULL
                                    THEN {BEST_PAIR_SQL.format(who="a.id", mine="offers")} END AS b
                        OFFSET 0) AS best
    CROSS JOIN LATERAL (SELECT {_BLEND.format(side="side.f", best="best.f")} AS f,
                               {_BLEND.format(side="side.b", best="best.b")} AS b OFFSET 0) AS c
    CROSS JOIN LATERAL (SELECT {_FIT.format(cos="c.f")} AS f, {_FIT.format(cos="c.b")} AS b) AS d
    WHERE o.embedding IS NOT NULL OR s.embedding IS NOT NULL
    ORDER BY $19 * {_HARMONIC.format(f="d.f", b="d.b")} DESC, a.id LIMIT $18
), boosted AS MATERIALIZED (  -- (inlined, the harmonic mean below would match the terms 10 times a row)
    SELECT c.id, {_SOFT} AS soft, c.f * {_BOOST.format(x=_LEXICAL_RANK.format(
                   matches=MATCHES_SQL.format(column="offers_tsv", terms="fwd"), terms="length(p.offers_tsv)"))} AS f,
           c.b * {_BOOST.format(x=_LEXICAL_RANK.format(
                   matches=MATCHES_SQL.format(column="seeks_tsv", terms="bwd"), terms="length(p.seeks_tsv)"))} AS b
    FROM pool c JOIN participants p ON p.id = c.id CROSS JOIN q
)
SELECT id FROM boosted ORDER BY $19 * {_HARMONIC.format(f="f", b="b")} + soft DESC, id LIMIT $11"""
# Every participant ($20 NULL), or the given ids and those sharing a rare term (each side's GIN index).
_EVERYONE = "participants p"
_AMONG = """(SELECT DISTINCT id FROM (
        SELECT unnest($20::bigint[]) AS id
        UNION ALL SELECT id FROM participants WHERE offers_tsv @@ (SELECT fwd FROM lex)
        UNION ALL SELECT id FROM participants WHERE seeks_tsv @@ (SELECT bwd FROM lex)) AS u) AS c
    JOIN participants p ON p.id = c.id"""


async def by_relevance(
    conn: asyncpg.Connection, query: QueryFilter, vectors: dict[str, np.ndarray], n: int, pool: int,
    relevance: Relevance, among: Sequence[int] | None = None, rare_rows: int = 0,
) -> list[int]:
    """The n allowed candidates of highest final score but for location and exposure (best first,
    then by id), by one exact scan.

    Unlike the top n of each direction, this follows the ranker: a candidate that fits well both
    ways (the harmonic mean) comes first even if neither direction alone would put it in a top n.
    The lexical factor is computed for the `pool` best by cosines.
    `among` restricts the scan to these candidates (an index's pool) and, with `rare_rows`, to the
    candidates sharing one of the query's terms found in at most about that many participants.
    """
    async with custom_plans(conn):
        rows = await conn.fetch(
            _RELEVANCE.replace("{source}", _EVERYONE if among is None else _AMONG), *query.params(),
            vectors.get("offers"), vectors.get("seeks"), n, relevance.lexical_terms,
            relevance.language, relevance.cross_lingual_shift, relevance.similarity_floor, relevance.one_directional,
            relevance.lexical, max(pool, n), relevance.reciprocal, None if among is None else list(among), rare_rows,
            *relevance.soft_params(),
        )
    return [row["id"] for row in rows]


async def candidate_rows(
    conn: asyncpg.Connection,
    query: QueryFilter,
    vectors: dict[str, np.ndarray],
    ids: Sequence[int] | None,
    exposure_half_life_days: float,
    lexical_terms: int,
    interests: bool = True,
) -> list[asyncpg.Record]:
    """Everything the ranker needs about allowed candidates: the given ids, or all of them (ids None).

    Only candidates with a comparable side (their offers for the query's seeks, or their seeks for
    its offers) are returned: with nothing to compare there is nothing to suggest.

    fwd_cos/bwd_cos are the cosines of the query's seeks with their offers and of their seeks with
    the query's offers (NULL where a side is missing); fwd_matches/bwd_matches how many lexemes of
    their offers/seeks are among the query's seek/offer terms, offers_terms/seeks_terms how many
    lexemes those have; fwd_best/bwd_best the best interest pair's cosine of each direction
    (`BEST_PAIR_SQL`; NULL where a side is missing or `interests` is false).
    """
    # One text per case, not `($13 IS NULL OR p.id = ANY($13))`: a generic plan of that would scan every
    # participant to re-score a few (a cache entry brought up to date), so each case keeps its own plan.
    sql = _CANDIDATES.replace("{among}", "$13::bigint[] IS NULL" if ids is None else "p.id = ANY($13::bigint[])")
    return await conn.fetch(
        sql, *query.params(), vectors.get("offers"), vectors.get("seeks"),
        exposure_half_life_days, lexical_terms, None if ids is None else list(ids), interests,
    )
