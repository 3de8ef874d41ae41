"""SQL for the participants staff search and pair (staff accounts and sign-in are auth's, the audit log is
written through service.kit.audit; the queue, the pipeline and the export read matches: their SQL is the
matches domain's)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# --- participants shown in the queue and searched for hand-picking ---


def _like(text: str) -> str:
    """A search text with LIKE's wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def participants_by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    """Participants by id (those that still exist)."""
    rows = await conn.fetch("SELECT * FROM participants WHERE id = ANY($1::bigint[])", list(set(ids)))
    return {row["id"]: row for row in rows}


async def best_interest_pairs(
    conn: asyncpg.Connection, pairs: Sequence[tuple[int, int]], model: str
) -> dict[tuple[int, int], asyncpg.Record]:
    """Per (a, b) pair, the closest pair of interests across opposite sides, in one query for a page.

    The batched form of service.matching.repository.best_interest_pairs (same columns and tie-breaks).
    """
    rows = await conn.fetch(
        """SELECT DISTINCT ON (p.a, p.b) p.a, p.b, ia.side AS query_side,
                  (CASE ia.side WHEN 'offers' THEN pa.offers ELSE pa.seeks END)[ia.position + 1] AS query_text,
                  (CASE ib.side WHEN 'offers' THEN pb.offers ELSE pb.seeks END)[ib.position + 1] AS candidate_text
           FROM unnest($1::bigint[], $2::bigint[]) AS p(a, b)
           JOIN interest_embeddings ia ON ia.participant_id = p.a AND ia.model = $3
           JOIN interest_embeddings ib ON ib.participant_id = p.b AND ib.model = $3 AND ib.side <> ia.side
           JOIN participants pa ON pa.id = p.a
           JOIN participants pb ON pb.id = p.b
           ORDER BY p.a, p.b, ia.embedding <=> ib.embedding, ia.side, ia.position, ib.position""",
        [a for a, _ in pairs], [b for _, b in pairs], model,
    )
    return {(row["a"], row["b"]): row for row in rows}


# --- hand-picking ---


async def search_participants(conn: asyncpg.Connection, text: str, limit: int) -> list[asyncpg.Record]:
    """Participants whose name, organisation, email or external id contains the text."""
    return await conn.fetch(
        """SELECT * FROM participants
           WHERE name ILIKE $1 OR organisation ILIKE $1 OR email ILIKE $1 OR external_id ILIKE $1
           ORDER BY name, id LIMIT $2""",
        f"%{_like(text)}%", limit,
    )


# --- proposing pairs ---


async def proposable_ids(conn: asyncpg.Connection) -> list[int]:
    """Visible, verified participants, oldest first (those the ranker proposes pairs for)."""
    rows = await conn.fetch(
        "SELECT id FROM participants WHERE hidden_at IS NULL AND verified_at IS NOT NULL ORDER BY id"
    )
    return [row["id"] for row in rows]
