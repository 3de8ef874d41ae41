"""SQL for matches, their transitions and participants' answers."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from service.followup.lifecycle import ACTIVE
from service.followup.schemas import Actor


async def insert_match(
    conn: asyncpg.Connection, a_id: int, b_id: int, state: str, origin: str, score: float | None
) -> asyncpg.Record | None:
    """A new match for the pair (ordered ids); None if the pair already has one."""
    return await conn.fetchrow(
        """INSERT INTO matches (a_id, b_id, state, origin, score) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (a_id, b_id) DO NOTHING RETURNING *""",
        a_id, b_id, state, origin, score,
    )


async def by_id(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """One match."""
    return await conn.fetchrow("SELECT * FROM matches WHERE id = $1", match_id)


async def by_pair(conn: asyncpg.Connection, a_id: int, b_id: int) -> asyncpg.Record | None:
    """The match of a pair (ids ordered), if any."""
    return await conn.fetchrow("SELECT * FROM matches WHERE a_id = $1 AND b_id = $2", a_id, b_id)


async def lock(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """One match, locked until the transaction ends (concurrent deciders wait, then see the result)."""
    return await conn.fetchrow("SELECT * FROM matches WHERE id = $1 FOR UPDATE", match_id)


async def set_state(
    conn: asyncpg.Connection, match_id: int, state: str, closed_reason: str | None
) -> asyncpg.Record:
    """Move a locked match to `state`."""
    row: asyncpg.Record = await conn.fetchrow(
        """UPDATE matches SET state = $2, closed_reason = coalesce($3, closed_reason), snoozed_until = NULL,
                  state_changed_at = now(), updated_at = now()
           WHERE id = $1 RETURNING *""",
        match_id, state, closed_reason,
    )
    return row


async def insert_event(
    conn: asyncpg.Connection, match_id: int, from_state: str | None, to_state: str, actor: Actor,
    reason: str | None, comment: str | None,
) -> asyncpg.Record:
    """Record one transition."""
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO match_events (match_id, from_state, to_state, actor_kind, actor_participant_id,
                                     actor_staff_id, reason, comment)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        match_id, from_state, to_state, actor.kind, actor.participant_id, actor.staff_id, reason, comment,
    )
    return row


async def events(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """A match's transitions, oldest first, with the staff member's email where staff acted."""
    return await conn.fetch(
        """SELECT e.*, s.email AS staff_email FROM match_events e LEFT JOIN staff s ON s.id = e.actor_staff_id
           WHERE e.match_id = $1 ORDER BY e.id""",
        match_id,
    )


async def emails(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """The emails a match caused, oldest first (no bodies)."""
    return await conn.fetch(
        """SELECT id, template, subject, status, attempts, created_at, sent_at FROM outbox
           WHERE match_id = $1 ORDER BY id""",
        match_id,
    )


async def active_counts(conn: asyncpg.Connection, participant_ids: Sequence[int]) -> dict[int, int]:
    """Active matches (those taking capacity) per participant, for those that have any."""
    rows = await conn.fetch(
        """SELECT p.id, count(*) AS n FROM matches m JOIN unnest($1::bigint[]) AS p(id)
               ON p.id IN (m.a_id, m.b_id)
           WHERE m.state = ANY($2::text[]) GROUP BY p.id""",
        list(participant_ids), list(ACTIVE),
    )
    return {row["id"]: row["n"] for row in rows}


async def blocked_ids(conn: asyncpg.Connection, participant_id: int) -> list[int]:
    """Candidates never to suggest to this participant: declined either way, or already paired."""
    rows = await conn.fetch(
        """SELECT candidate_id AS id FROM answers WHERE participant_id = $1 AND answer = 'not_now'
           UNION SELECT participant_id FROM answers WHERE candidate_id = $1 AND answer = 'not_now'
           UNION SELECT b_id FROM matches WHERE a_id = $1 AND state <> 'suggested'
           UNION SELECT a_id FROM matches WHERE b_id = $1 AND state <> 'suggested'""",
        participant_id,
    )
    return [row["id"] for row in rows]
