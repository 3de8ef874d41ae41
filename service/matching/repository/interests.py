"""Interest pairs with their cosines, for explanations (`explain.strongest_per_direction`): per
candidate and direction, the few (query interest, candidate interest) pairs of highest cosine.

Read-only over `interest_embeddings` and the participants' texts; the ranker's own SQL
(retrieval, ranking) is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# Options kept per candidate and direction: the best and those that may tie with it (explain.NEAR).
OPTIONS_PER_DIRECTION = 4

_OPTIONS_OF = """
    SELECT candidate_id, query_side, query_position, candidate_position, query_text, candidate_text, cosine
    FROM (SELECT b.participant_id AS candidate_id, a.side AS query_side, a.position AS query_position,
                 b.position AS candidate_position,
                 (CASE a.side WHEN 'offers' THEN pa.offers ELSE pa.seeks END)[a.position + 1] AS query_text,
                 (CASE b.side WHEN 'offers' THEN pb.offers ELSE pb.seeks END)[b.position + 1] AS candidate_text,
                 1 - (a.embedding <=> b.embedding) AS cosine,
                 row_number() OVER (PARTITION BY b.participant_id, a.side
                                    ORDER BY a.embedding <=> b.embedding, a.position, b.position) AS rank
          FROM interest_embeddings a
          JOIN interest_embeddings b ON b.model = a.model AND b.side <> a.side
          JOIN participants pa ON pa.id = a.participant_id
          JOIN participants pb ON pb.id = b.participant_id
          WHERE a.participant_id = {query} AND a.model = {model} AND b.participant_id {candidates}) AS x
    WHERE rank <= {limit}
    ORDER BY candidate_id, query_side DESC, rank"""
_OPTIONS = _OPTIONS_OF.format(query="$1", model="$2", candidates="= ANY($3::bigint[])", limit="$4")


async def pair_options(
    conn: asyncpg.Connection, query_id: int, model: str, candidate_ids: Sequence[int]
) -> list[asyncpg.Record]:
    """Per candidate and query side, the best `OPTIONS_PER_DIRECTION` interest pairs, best first.

    Columns: candidate_id, query_side ('seeks' or 'offers'), query_position, candidate_position,
    query_text, candidate_text (NULL if gone since embedding), cosine.
    """
    return await conn.fetch(_OPTIONS, query_id, model, list(candidate_ids), OPTIONS_PER_DIRECTION)


async def pair_options_versioned(
    conn: asyncpg.Connection, query_id: int, model: str, candidate_ids: Sequence[int]
) -> tuple[int | None, list[asyncpg.Record]]:
    """`pair_options` and the matching version they were read at (one statement)."""
    rows = await conn.fetch(
        f"""WITH v AS (SELECT (SELECT version FROM matching_version) AS version)
            SELECT v.version, x.* FROM v LEFT JOIN ({_OPTIONS}) AS x ON true""",
        query_id, model, list(candidate_ids), OPTIONS_PER_DIRECTION,
    )
    return rows[0]["version"], [row for row in rows if row["candidate_id"] is not None]


async def pair_options_of_pairs(
    conn: asyncpg.Connection, pairs: Sequence[tuple[int, int]], model: str
) -> dict[tuple[int, int], list[asyncpg.Record]]:
    """`pair_options` for many (a, b) pairs (a as the query), in one statement for a page."""
    rows = await conn.fetch(
        f"""SELECT p.a, x.* FROM unnest($1::bigint[], $2::bigint[]) AS p(a, b)
            CROSS JOIN LATERAL ({_OPTIONS_OF.format(query="p.a", model="$3", candidates="= p.b", limit="$4")}) AS x""",
        [a for a, _ in pairs], [b for _, b in pairs], model, OPTIONS_PER_DIRECTION,
    )
    found: dict[tuple[int, int], list[asyncpg.Record]] = {pair: [] for pair in pairs}
    for row in rows:
        found[(row["a"], row["candidate_id"])].append(row)
    return found
