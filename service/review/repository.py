"""SQL for the review queue, hand-picking, the pipeline and exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from service.review.schemas import QueueFilter

# --- the queue ---


def _queue_where(f: QueueFilter) -> tuple[list[str], list[Any]]:
    """WHERE clauses and their parameters for the filters (m: match, a and b: the two participants)."""
    clauses = {
        "pending": ["m.state = 'suggested'", "(m.snoozed_until IS NULL OR m.snoozed_until <= now())"],
        "snoozed": ["m.state = 'suggested'", "m.snoozed_until > now()"],
        "rejected": ["m.state = 'rejected'"],
    }[f.status]
    params: list[Any] = []

    def add(template: str, *values: Any) -> None:
        numbers = [f"${len(params) + i + 1}" for i in range(len(values))]
        params.extend(values)
        clauses.append(template.format(*numbers))

    if f.domain:
        add("{0} = ANY(a.domains) AND {0} = ANY(b.domains)", f.domain)
    if f.kinds:
        add("((a.kind = {0} AND b.kind = {1}) OR (a.kind = {1} AND b.kind = {0}))", *f.kinds)
    if f.engagement:
        add("(cardinality(a.engagements) = 0 OR {0} = ANY(a.engagements))"
            " AND (cardinality(b.engagements) = 0 OR {0} = ANY(b.engagements))", f.engagement)
    if f.language:
        add("{0} IN (a.language, b.language)", f.language)
    if f.date_from:
        add("m.created_at >= {0}::date", f.date_from)
    if f.date_to:
        add("m.created_at < {0}::date + 1", f.date_to)
    if f.q:
        add("(a.name ILIKE {0} OR a.organisation ILIKE {0} OR a.email ILIKE {0}"
            " OR b.name ILIKE {0} OR b.organisation ILIKE {0} OR b.email ILIKE {0})", f"%{_like(f.q)}%")
    return clauses, params


def _like(text: str) -> str:
    """A search text with LIKE's wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_QUEUE_FROM = "FROM matches m JOIN participants a ON a.id = m.a_id JOIN participants b ON b.id = m.b_id"


async def queue_page(conn: asyncpg.Connection, f: QueueFilter) -> list[asyncpg.Record]:
    """One page of matches for the filters, best first (score, then newest), after `f.after`."""
    clauses, params = _queue_where(f)
    if f.after is not None:
        params.extend(f.after)
        clauses.append(f"(coalesce(m.score, 0), m.id) < (${len(params) - 1}::real, ${len(params)}::bigint)")
    params.append(f.limit)
    sql = (f"SELECT m.* {_QUEUE_FROM} WHERE {' AND '.join(clauses)}"
           f" ORDER BY coalesce(m.score, 0) DESC, m.id DESC LIMIT ${len(params)}")
    return await conn.fetch(sql, *params)


async def queue_count(conn: asyncpg.Connection, f: QueueFilter) -> int:
    """How many matches the filters select, on all pages."""
    clauses, params = _queue_where(f)
    count: int = await conn.fetchval(f"SELECT count(*) {_QUEUE_FROM} WHERE {' AND '.join(clauses)}", *params)
    return count


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


async def snooze(conn: asyncpg.Connection, match_id: int, until: dt.datetime) -> asyncpg.Record | None:
    """Hide a suggested match from the queue until a time; None if it is no longer suggested."""
    return await conn.fetchrow(
        """UPDATE matches SET snoozed_until = $2, updated_at = now() WHERE id = $1 AND state = 'suggested'
           RETURNING *""",
        match_id, until,
    )


# --- hand-picking ---


async def search_participants(conn: asyncpg.Connection, text: str, limit: int) -> list[asyncpg.Record]:
    """Participants whose name, organisation, email or external id contains the text."""
    return await conn.fetch(
        """SELECT * FROM participants
           WHERE name ILIKE $1 OR organisation ILIKE $1 OR email ILIKE $1 OR external_id ILIKE $1
           ORDER BY name, id LIMIT $2""",
        f"%{_like(text)}%", limit,
    )


async def declined_between(conn: asyncpg.Connection, x: int, y: int) -> bool:
    """Whether either said "not now" to the other."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM answers WHERE answer = 'not_now'
                  AND ((participant_id = $1 AND candidate_id = $2) OR (participant_id = $2 AND candidate_id = $1)))""",
        x, y,
    )
    return found


# --- pipeline, match pages and export ---


async def state_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Matches per lifecycle state."""
    rows = await conn.fetch("SELECT state, count(*) AS n FROM matches GROUP BY state")
    return {row["state"]: row["n"] for row in rows}


async def matches_in_state(conn: asyncpg.Connection, state: str, limit: int) -> list[asyncpg.Record]:
    """The most recently moved matches in one state, with both parties' names."""
    return await conn.fetch(
        f"""SELECT m.*, a.name AS a_name, a.organisation AS a_organisation, a.kind AS a_kind,
                   b.name AS b_name, b.organisation AS b_organisation, b.kind AS b_kind
            {_QUEUE_FROM} WHERE m.state = $1 ORDER BY m.state_changed_at DESC, m.id DESC LIMIT $2""",
        state, limit,
    )


async def matches_of(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's matches, newest first, with the other party's name, organisation and kind."""
    return await conn.fetch(
        """SELECT m.*, o.id AS other_id, o.name AS other_name, o.organisation AS other_organisation,
                  o.kind AS other_kind
           FROM matches m JOIN participants o ON o.id = CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END
           WHERE $1 IN (m.a_id, m.b_id) ORDER BY m.id DESC""",
        participant_id,
    )


async def export_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every match for the council's reporting: ids, kinds, domains, organisations, states and dates."""
    return await conn.fetch(
        f"""SELECT m.id, m.state, m.origin, m.score, m.closed_reason, m.created_at, m.state_changed_at,
                   a.external_id AS a_external_id, a.kind AS a_kind, a.organisation AS a_organisation,
                   b.external_id AS b_external_id, b.kind AS b_kind, b.organisation AS b_organisation,
                   ARRAY(SELECT unnest(a.domains) INTERSECT SELECT unnest(b.domains) ORDER BY 1) AS domains
            {_QUEUE_FROM} ORDER BY m.id"""
    )


async def proposable_ids(conn: asyncpg.Connection) -> list[int]:
    """Visible, verified participants, oldest first (those the ranker proposes pairs for)."""
    rows = await conn.fetch(
        "SELECT id FROM participants WHERE hidden_at IS NULL AND verified_at IS NOT NULL ORDER BY id"
    )
    return [row["id"] for row in rows]
