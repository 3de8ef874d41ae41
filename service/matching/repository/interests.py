"""Interests for explanations (`explain.strongest_per_direction`): the query's and its candidates'
interest vectors with texts, and a sample of each (kind, side, language) group for the centres; the
pairs' cosines are computed in `matching.interest_space` (centred, in context), not here.

Read-only over `interest_embeddings` and the participants' texts; the ranker's own SQL
(retrieval, ranking) is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# Options kept per candidate and direction: the best and those that may tie with it (explain.NEAR).
OPTIONS_PER_DIRECTION = 4


# --- the rows explanations compare in their own space (`matching.interest_space`) ---

_ROWS = """
    SELECT e.participant_id, e.side, e.position, p.kind, p.language, e.embedding,
           (CASE e.side WHEN 'offers' THEN p.offers ELSE p.seeks END)[e.position + 1] AS text
    FROM interest_embeddings e JOIN participants p ON p.id = e.participant_id
    WHERE e.model = $1 AND e.participant_id = ANY($2::bigint[])
    ORDER BY e.participant_id, e.side, e.position"""


async def interest_rows(conn: asyncpg.Connection, model: str, participant_ids: Sequence[int]) -> list[asyncpg.Record]:
    """Every interest of these participants: participant_id, side, position, kind, language, embedding,
    text (NULL if gone since embedding)."""
    return await conn.fetch(_ROWS, model, list(participant_ids))


async def interest_rows_versioned(
    conn: asyncpg.Connection, model: str, participant_ids: Sequence[int]
) -> tuple[int | None, list[asyncpg.Record]]:
    """`interest_rows` and the matching version they were read at (one statement)."""
    rows = await conn.fetch(
        f"""WITH v AS (SELECT (SELECT version FROM matching_version) AS version)
            SELECT v.version, x.* FROM v LEFT JOIN ({_ROWS}) AS x ON true""",
        model, list(participant_ids),
    )
    return rows[0]["version"], [row for row in rows if row["participant_id"] is not None]


async def group_sample(conn: asyncpg.Connection, model: str, per_group: int) -> list[asyncpg.Record]:
    """Up to `per_group` stored interest vectors of each (kind, side, language) group, a fixed pseudo-random
    choice (by a hash of the key): kind, side, language, embedding."""
    return await conn.fetch(
        """SELECT kind, side, language, embedding FROM (
               SELECT p.kind, e.side, p.language, e.embedding,
                      row_number() OVER (PARTITION BY p.kind, e.side, p.language
                                         ORDER BY md5(e.participant_id::text || e.side || e.position::text)) AS n
               FROM interest_embeddings e JOIN participants p ON p.id = e.participant_id
               WHERE e.model = $1) AS x
           WHERE n <= $2""",
        model, per_group,
    )
