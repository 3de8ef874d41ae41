"""SQL of the evaluation package: real outcomes for `koble export-gold`, and the seeded simulation
of matches that notebook 03 uses when a database has none (CI: the demo data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg


async def match_histories(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every match with both external ids, whether both are visible, and its transitions in order.

    Columns: id, a, b, visible (neither hidden), state, origin, created_at, state_changed_at,
    from_states, to_states (text[], from_state NULL for the creation) and event_times (timestamptz[]).
    """
    return await conn.fetch(
        """SELECT m.id, pa.external_id AS a, pb.external_id AS b,
                  (pa.hidden_at IS NULL AND pb.hidden_at IS NULL) AS visible,
                  m.state, m.origin, m.created_at, m.state_changed_at,
                  coalesce(array_agg(e.from_state ORDER BY e.created_at, e.id)
                           FILTER (WHERE e.id IS NOT NULL), '{}') AS from_states,
                  coalesce(array_agg(e.to_state ORDER BY e.created_at, e.id)
                           FILTER (WHERE e.id IS NOT NULL), '{}') AS to_states,
                  coalesce(array_agg(e.created_at ORDER BY e.created_at, e.id)
                           FILTER (WHERE e.id IS NOT NULL), '{}') AS event_times
           FROM matches m
           JOIN participants pa ON pa.id = m.a_id
           JOIN participants pb ON pb.id = m.b_id
           LEFT JOIN match_events e ON e.match_id = m.id
           GROUP BY m.id, pa.external_id, pb.external_id, pa.hidden_at, pb.hidden_at
           ORDER BY m.id"""
    )


async def answers(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """(participant, candidate, answer) of every answer between visible participants (external ids)."""
    return await conn.fetch(
        """SELECT p.external_id AS participant, c.external_id AS candidate, a.answer
           FROM answers a
           JOIN participants p ON p.id = a.participant_id
           JOIN participants c ON c.id = a.candidate_id
           WHERE p.hidden_at IS NULL AND c.hidden_at IS NULL
           ORDER BY p.external_id, c.external_id"""
    )


async def visible_participants(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every visible participant with the fields of a participant file (docs/contracts.md §1)."""
    return await conn.fetch(
        """SELECT external_id, kind, name, email, organisation, language, domains, engagements,
                  available_from, available_until, capacity, location, offers, seeks
           FROM participants WHERE hidden_at IS NULL ORDER BY external_id"""
    )


async def pairing_facts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """id, kind and domains of every visible participant (the simulation pairs across kinds)."""
    return await conn.fetch("SELECT id, kind, domains FROM participants WHERE hidden_at IS NULL ORDER BY id")


async def match_count(conn: asyncpg.Connection) -> int:
    """How many matches exist."""
    count: int = await conn.fetchval("SELECT count(*) FROM matches")
    return count


async def insert_simulated_match(
    conn: asyncpg.Connection, a_id: int, b_id: int, score: float, created_at: dt.datetime
) -> int | None:
    """A ranker-origin match born `suggested` at the given time (with its creation event); None if the
    pair has one."""
    match_id: int | None = await conn.fetchval(
        """INSERT INTO matches (a_id, b_id, state, origin, score, state_changed_at, created_at, updated_at)
           VALUES ($1, $2, 'suggested', 'ranker', $3, $4, $4, $4)
           ON CONFLICT (a_id, b_id) DO NOTHING RETURNING id""",
        a_id, b_id, score, created_at,
    )
    if match_id is not None:
        await insert_simulated_events(conn, match_id, [(None, "suggested", created_at)])
    return match_id


async def insert_simulated_events(
    conn: asyncpg.Connection, match_id: int, steps: Sequence[tuple[str | None, str, dt.datetime]]
) -> None:
    """The match's transitions (from, to, when) by the system, and its final state and time."""
    await conn.executemany(
        """INSERT INTO match_events (match_id, from_state, to_state, actor_kind, reason, created_at)
           VALUES ($1, $2, $3, 'system', 'simulation', $4)""",
        [(match_id, source, target, when) for source, target, when in steps],
    )
    if steps:
        _, last, when = steps[-1]
        await conn.execute(
            """UPDATE matches SET state = $2, state_changed_at = $3, updated_at = $3,
                      closed_reason = CASE WHEN $2 = 'closed' THEN 'simulation' END
               WHERE id = $1""",
            match_id, last, when,
        )
