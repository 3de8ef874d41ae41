"""SQL for participants' answers to suggestions and the matches they see."""

from __future__ import annotations

import asyncpg

# States a participant sees: staff-only states (suggested, approved, rejected) stay with staff.
SHOWN_STATES = ("introduced", "mutual", "declined", "meeting_held", "project_agreed", "project_completed", "closed")


async def lock_pair(conn: asyncpg.Connection, a_id: int, b_id: int) -> None:
    """Serialise answers about one pair until the transaction ends (two yeses at once make one match)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('answers:' || $1::bigint || ':' || $2::bigint, 0))",
        min(a_id, b_id), max(a_id, b_id),
    )


async def upsert_answer(conn: asyncpg.Connection, participant_id: int, candidate_id: int, answer: str) -> None:
    """Store (or change) a participant's answer to a candidate."""
    await conn.execute(
        """INSERT INTO answers (participant_id, candidate_id, answer, created_at, updated_at)
           VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp())
           ON CONFLICT (participant_id, candidate_id) DO UPDATE SET answer = $3, updated_at = clock_timestamp()""",
        participant_id, candidate_id, answer,
    )


async def answer_of(conn: asyncpg.Connection, participant_id: int, candidate_id: int) -> str | None:
    """One participant's answer to one candidate, if any."""
    value: str | None = await conn.fetchval(
        "SELECT answer FROM answers WHERE participant_id = $1 AND candidate_id = $2", participant_id, candidate_id
    )
    return value


async def answered_ids(conn: asyncpg.Connection, participant_id: int) -> set[int]:
    """Every candidate this participant has answered, either way."""
    rows = await conn.fetch("SELECT candidate_id FROM answers WHERE participant_id = $1", participant_id)
    return {row["candidate_id"] for row in rows}


async def last_answer(conn: asyncpg.Connection, participant_id: int) -> asyncpg.Record | None:
    """The participant's most recent answer, with the candidate's name and the pair's match state."""
    return await conn.fetchrow(
        """SELECT a.candidate_id, a.answer, p.external_id, p.name, m.state AS match_state
           FROM answers a JOIN participants p ON p.id = a.candidate_id
           LEFT JOIN matches m ON m.a_id = least(a.participant_id, a.candidate_id)
                              AND m.b_id = greatest(a.participant_id, a.candidate_id)
           WHERE a.participant_id = $1 ORDER BY a.updated_at DESC, a.candidate_id DESC LIMIT 1""",
        participant_id,
    )


async def delete_answer(conn: asyncpg.Connection, participant_id: int, candidate_id: int, answer: str | None) -> bool:
    """Remove one answer (only if it is still `answer`, when given); False if there was none."""
    status: str = await conn.execute(
        """DELETE FROM answers WHERE participant_id = $1 AND candidate_id = $2
           AND ($3::text IS NULL OR answer = $3)""",
        participant_id, candidate_id, answer,
    )
    return status != "DELETE 0"


async def declined(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The candidates this participant said "not now" to, newest first, with the pair's match state."""
    return await conn.fetch(
        """SELECT p.id, p.external_id, p.name, p.organisation, p.kind, a.updated_at, m.state AS match_state
           FROM answers a JOIN participants p ON p.id = a.candidate_id
           LEFT JOIN matches m ON m.a_id = least(a.participant_id, a.candidate_id)
                              AND m.b_id = greatest(a.participant_id, a.candidate_id)
           WHERE a.participant_id = $1 AND a.answer = 'not_now' ORDER BY a.updated_at DESC, p.id""",
        participant_id,
    )


async def introduced_unanswered(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """Staff-first feed: introduced matches this participant has not answered, oldest introduction first."""
    return await conn.fetch(
        """SELECT m.id AS match_id, CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END AS other_id
           FROM matches m
           WHERE (m.a_id = $1 OR m.b_id = $1) AND m.state = 'introduced'
             AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.participant_id = $1
                             AND a.candidate_id = CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END)
           ORDER BY m.state_changed_at, m.id""",
        participant_id,
    )


async def my_matches(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The matches a participant may see, open ones first, newest change first, with the other party.

    Only matches that reached the participants (introduced or mutual at some point) are shown.
    """
    return await conn.fetch(
        """SELECT m.id, m.state, m.state_changed_at, m.created_at, o.id AS other_id, o.external_id,
                  o.name, o.organisation, o.kind, o.email
           FROM matches m JOIN participants o ON o.id = CASE WHEN m.a_id = $1 THEN m.b_id ELSE m.a_id END
           WHERE (m.a_id = $1 OR m.b_id = $1) AND m.state = ANY($2::text[])
             AND EXISTS (SELECT 1 FROM match_events e WHERE e.match_id = m.id
                         AND e.to_state IN ('introduced', 'mutual'))
           ORDER BY m.state IN ('declined', 'closed', 'project_completed'), m.state_changed_at DESC, m.id DESC""",
        participant_id, list(SHOWN_STATES),
    )
