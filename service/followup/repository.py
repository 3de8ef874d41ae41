"""SQL for matches, their transitions and participants' answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from service.followup.lifecycle import ACTIVE
from service.kit.audit import Actor


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
        """SELECT id, template, subject, status, attempts, last_error, to_address, staff_id, created_at, sent_at
           FROM outbox WHERE match_id = $1 ORDER BY id""",
        match_id,
    )


# The matches taking a participant's capacity, one row per side, and the participants never to suggest
# to {pid} (declined either way, or already paired): shared with the ranker's read-time statement
# (matching.repository.read_time_state), which reads them with everything else a cached list needs.
ACTIVE_SIDES_SQL = """SELECT a_id AS id FROM matches WHERE a_id = ANY({ids}) AND state = ANY({states})
    UNION ALL
    SELECT b_id FROM matches WHERE b_id = ANY({ids}) AND state = ANY({states})"""
BLOCKED_SQL = """SELECT candidate_id AS id FROM answers WHERE participant_id = {pid} AND answer = 'not_now'
    UNION SELECT participant_id FROM answers WHERE candidate_id = {pid} AND answer = 'not_now'
    UNION SELECT b_id FROM matches WHERE a_id = {pid} AND state <> 'suggested'
    UNION SELECT a_id FROM matches WHERE b_id = {pid} AND state <> 'suggested'"""


async def active_counts(conn: asyncpg.Connection, participant_ids: Sequence[int]) -> dict[int, int]:
    """Active matches (those taking capacity) per participant, for those that have any."""
    # Two index look-ups (a_id, b_id) rather than an OR join: a cached suggestion list asks for ~800 ids.
    sides = ACTIVE_SIDES_SQL.format(ids="$1::bigint[]", states="$2::text[]")
    rows = await conn.fetch(f"SELECT id, count(*) AS n FROM ({sides}) AS sides GROUP BY id",
                            list(participant_ids), list(ACTIVE))
    return {row["id"]: row["n"] for row in rows}


# --- Follow-up: one-click reply links, reminders, preferences, the funnel -------------------------


async def insert_reply_link(
    conn: asyncpg.Connection, match_id: int, participant_id: int, action: str, lifetime_days: int
) -> int:
    """Store a new single-use reply link; returns its id (signed into the link)."""
    link_id: int = await conn.fetchval(
        """INSERT INTO reply_links (match_id, participant_id, action, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(days => $4)) RETURNING id""",
        match_id, participant_id, action, lifetime_days,
    )
    return link_id


async def reply_link(conn: asyncpg.Connection, link_id: int) -> asyncpg.Record | None:
    """A reply link with its match's state (None if the link or its match is gone)."""
    return await conn.fetchrow(
        """SELECT l.*, m.state, l.expires_at < now() AS expired FROM reply_links l
           JOIN matches m ON m.id = l.match_id WHERE l.id = $1""",
        link_id,
    )


async def use_reply_link(conn: asyncpg.Connection, link_id: int) -> bool:
    """Mark a link used, atomically: of two clicks at once, one wins."""
    result: str = await conn.execute(
        "UPDATE reply_links SET used_at = now() WHERE id = $1 AND used_at IS NULL AND expires_at > now()",
        link_id,
    )
    return result.endswith(" 1")


async def due(conn: asyncpg.Connection, state: str, older_than: dt.datetime, kind: str) -> list[asyncpg.Record]:
    """Matches in `state` since before `older_than` without a `kind` reminder for that state yet."""
    return await conn.fetch(
        """SELECT m.* FROM matches m
           WHERE m.state = $1 AND m.state_changed_at < $2
             AND NOT EXISTS (SELECT 1 FROM match_reminders r
                             WHERE r.match_id = m.id AND r.state = $1 AND r.kind = $3)
           ORDER BY m.id LIMIT 500""",
        state, older_than, kind,
    )


async def claim_reminder(conn: asyncpg.Connection, match_id: int, state: str, kind: str, at: dt.datetime) -> bool:
    """Record that a reminder goes out; False if one already did (another worker, an earlier run)."""
    result: str = await conn.execute(
        """INSERT INTO match_reminders (match_id, state, kind, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""",
        match_id, state, kind, at,
    )
    return result.endswith(" 1")


async def due_escalation(conn: asyncpg.Connection, state: str, reminded_before: dt.datetime) -> list[asyncpg.Record]:
    """Matches still in `state`, reminded before `reminded_before`, whose staff were not told yet."""
    return await conn.fetch(
        """SELECT m.* FROM matches m
           JOIN match_reminders r ON r.match_id = m.id AND r.state = $1 AND r.kind = 'reminder'
           WHERE m.state = $1 AND r.created_at < $2
             AND NOT EXISTS (SELECT 1 FROM match_reminders x
                             WHERE x.match_id = m.id AND x.state = $1 AND x.kind = 'escalation')
           ORDER BY m.id LIMIT 500""",
        state, reminded_before,
    )


async def active_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Staff members who get follow-up emails (not disabled)."""
    return await conn.fetch("SELECT * FROM staff WHERE disabled_at IS NULL ORDER BY id")


async def set_reminders(conn: asyncpg.Connection, participant_id: int, enabled: bool) -> bool:
    """Turn a participant's reminder emails on or off; False if there is no such participant."""
    result: str = await conn.execute(
        "UPDATE participants SET email_reminders = $2 WHERE id = $1", participant_id, enabled
    )
    return result.endswith(" 1")


async def reached(conn: asyncpg.Connection, path: Sequence[str], group: str) -> list[asyncpg.Record]:
    """Per group: each match's first and furthest stage on `path` (indexes), for the funnel.

    group: 'all', 'domain', 'kinds' or 'month' (chosen from a fixed list, never from input).
    """
    keys = {
        "all": "ARRAY['']",
        "domain": "ARRAY(SELECT DISTINCT d FROM unnest(a.domains || b.domains) AS d)",
        "kinds": "ARRAY[least(a.kind, b.kind) || ' + ' || greatest(a.kind, b.kind)]",
        "month": "ARRAY[to_char(m.created_at, 'YYYY-MM')]",
    }
    return await conn.fetch(
        f"""WITH steps AS (
                SELECT e.match_id, min(array_position($1::text[], e.to_state)) AS born,
                       max(array_position($1::text[], e.to_state)) AS furthest
                FROM match_events e WHERE e.to_state = ANY($1::text[]) GROUP BY e.match_id)
            SELECT g.key, s.born, s.furthest FROM steps s
            JOIN matches m ON m.id = s.match_id
            JOIN participants a ON a.id = m.a_id JOIN participants b ON b.id = m.b_id
            CROSS JOIN LATERAL unnest({keys[group]}) AS g(key)""",
        list(path),
    )


async def median_days(conn: asyncpg.Connection) -> dict[str, float]:
    """Median days a match spent in each state it has left."""
    rows = await conn.fetch(
        """WITH spans AS (
               SELECT to_state AS state,
                      lead(created_at) OVER (PARTITION BY match_id ORDER BY id) - created_at AS spent
               FROM match_events)
           SELECT state, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM spent)) / 86400 AS days
           FROM spans WHERE spent IS NOT NULL GROUP BY state"""
    )
    return {row["state"]: float(row["days"]) for row in rows}


async def for_participant(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's matches past the suggestion stage, newest first."""
    return await conn.fetch(
        """SELECT * FROM matches WHERE $1 IN (a_id, b_id)
           AND state NOT IN ('suggested', 'approved', 'rejected') ORDER BY updated_at DESC""",
        participant_id,
    )


async def reminders(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """The reminders and escalations a match has had."""
    return await conn.fetch(
        "SELECT state, kind, created_at FROM match_reminders WHERE match_id = $1 ORDER BY created_at", match_id
    )


async def ids_in_state(conn: asyncpg.Connection, state: str, limit: int = 500) -> list[int]:
    """Ids of matches in one state, oldest change first."""
    rows = await conn.fetch(
        "SELECT id FROM matches WHERE state = $1 ORDER BY state_changed_at LIMIT $2", state, limit
    )
    return [row["id"] for row in rows]
