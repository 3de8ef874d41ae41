"""SQL of the events domain (its tables only: docs/architecture.md). Tiny typed functions, raw SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

Span = tuple[dt.datetime, dt.datetime]
EVENT_FIELDS = ("name", "place", "meeting_minutes", "break_minutes", "signup_deadline", "booking_deadline",
                "request_mode", "max_meetings", "solver_seconds")

# --- events, sessions, slots, tables ---


async def insert_event(conn: asyncpg.Connection, fields: dict[str, Any]) -> asyncpg.Record:
    """A new event."""
    names = ", ".join(EVENT_FIELDS)
    marks = ", ".join(f"${i}" for i in range(1, len(EVENT_FIELDS) + 1))
    row = await conn.fetchrow(f"INSERT INTO events ({names}) VALUES ({marks}) RETURNING *",
                              *(fields[n] for n in EVENT_FIELDS))
    assert row is not None
    return row


async def update_event(conn: asyncpg.Connection, event_id: int, fields: dict[str, Any]) -> None:
    """Change an event's settings."""
    sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(EVENT_FIELDS, start=2))
    await conn.execute(f"UPDATE events SET {sets}, updated_at = now() WHERE id = $1",
                       event_id, *(fields[n] for n in EVENT_FIELDS))


async def event(conn: asyncpg.Connection, event_id: int, lock: bool = False) -> asyncpg.Record | None:
    """One event (locked for the transaction with `lock`)."""
    return await conn.fetchrow("SELECT * FROM events WHERE id = $1" + (" FOR UPDATE" if lock else ""), event_id)


async def events(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every event with its first session's start and its attendee count, newest first."""
    return await conn.fetch(
        """SELECT e.*, (SELECT min(starts_at) FROM event_sessions s WHERE s.event_id = e.id) AS starts_at,
                  (SELECT count(*) FROM event_attendees a WHERE a.event_id = e.id) AS attendees
           FROM events e ORDER BY starts_at DESC NULLS LAST, e.id DESC""")


async def replace_sessions(conn: asyncpg.Connection, event_id: int, sessions: Sequence[Span]) -> None:
    """The event's sessions become these."""
    await conn.execute("DELETE FROM event_sessions WHERE event_id = $1", event_id)
    await conn.executemany("INSERT INTO event_sessions (event_id, starts_at, ends_at) VALUES ($1, $2, $3)",
                           [(event_id, s, e) for s, e in sessions])


async def sessions(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """The event's sessions in time order."""
    return await conn.fetch("SELECT * FROM event_sessions WHERE event_id = $1 ORDER BY starts_at", event_id)


async def replace_slots(conn: asyncpg.Connection, event_id: int, spans: Sequence[Span]) -> None:
    """The event's slots become these; a slot kept (same start and end) keeps its id, meetings and blocks."""
    starts = [s for s, _ in spans]
    ends = [e for _, e in spans]
    await conn.execute(
        """DELETE FROM event_slots s WHERE s.event_id = $1 AND (s.starts_at, s.ends_at) NOT IN
           (SELECT * FROM unnest($2::timestamptz[], $3::timestamptz[]))""", event_id, starts, ends)
    await conn.execute(
        """INSERT INTO event_slots (event_id, starts_at, ends_at)
           SELECT $1, s, e FROM unnest($2::timestamptz[], $3::timestamptz[]) AS t(s, e)
           ON CONFLICT (event_id, starts_at) DO NOTHING""", event_id, starts, ends)


async def slots(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """The event's time slots in time order."""
    return await conn.fetch("SELECT * FROM event_slots WHERE event_id = $1 ORDER BY starts_at", event_id)


async def replace_tables(conn: asyncpg.Connection, event_id: int, tables: Sequence[tuple[str, int | None]]) -> None:
    """Tables 1..T become these (name, host); a table kept keeps its id and its meetings."""
    await conn.execute("DELETE FROM event_tables WHERE event_id = $1 AND number > $2", event_id, len(tables))
    await conn.executemany(
        """INSERT INTO event_tables (event_id, number, name, host_participant_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id, number) DO UPDATE SET name = $3, host_participant_id = $4""",
        [(event_id, n, name, host) for n, (name, host) in enumerate(tables, start=1)])


async def tables(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """The event's tables by number."""
    return await conn.fetch("SELECT * FROM event_tables WHERE event_id = $1 ORDER BY number", event_id)


async def set_schedule_result(conn: asyncpg.Connection, event_id: int, objective: float, bound: float,
                              seconds: float) -> None:
    """Remember the last solver run's numbers."""
    await conn.execute(
        """UPDATE events SET objective = $2, upper_bound = $3, solver_took = $4, scheduled_at = now()
           WHERE id = $1""", event_id, objective, bound, seconds)


async def mark_published(conn: asyncpg.Connection, event_id: int) -> None:
    """The agendas are final (from now on a change is published to those it affects)."""
    await conn.execute("UPDATE events SET published_at = coalesce(published_at, now()) WHERE id = $1", event_id)


async def mark_closed(conn: asyncpg.Connection, event_id: int) -> bool:
    """The event is over and followed up; False if it already was."""
    done = await conn.fetchval(
        "UPDATE events SET closed_at = now() WHERE id = $1 AND closed_at IS NULL RETURNING id", event_id)
    return done is not None


# --- attendees and their blocked slots ---


async def sign_up(conn: asyncpg.Connection, event_id: int, participant_id: int) -> bool:
    """Add an attendee; False if already signed up."""
    added = await conn.fetchval(
        """INSERT INTO event_attendees (event_id, participant_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING participant_id""", event_id, participant_id)
    return added is not None


async def attendee(conn: asyncpg.Connection, event_id: int, participant_id: int) -> asyncpg.Record | None:
    """One attendee row."""
    return await conn.fetchrow("SELECT * FROM event_attendees WHERE event_id = $1 AND participant_id = $2",
                               event_id, participant_id)


async def attendees(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """Every attendee of an event, in sign-up order."""
    return await conn.fetch("SELECT * FROM event_attendees WHERE event_id = $1 ORDER BY signed_up_at, participant_id",
                            event_id)


async def events_of(conn: asyncpg.Connection, participant_id: int) -> set[int]:
    """The events a participant signed up for."""
    rows = await conn.fetch("SELECT event_id FROM event_attendees WHERE participant_id = $1", participant_id)
    return {row["event_id"] for row in rows}


async def set_presence(conn: asyncpg.Connection, event_id: int, participant_id: int,
                       arrives: dt.datetime | None, leaves: dt.datetime | None, blocked: Sequence[int]) -> None:
    """An attendee's arrival, leaving and blocked slots (only the event's own slots are kept)."""
    await conn.execute("UPDATE event_attendees SET arrives_at = $3, leaves_at = $4 WHERE event_id = $1"
                       " AND participant_id = $2", event_id, participant_id, arrives, leaves)
    await conn.execute("DELETE FROM event_blocks WHERE event_id = $1 AND participant_id = $2", event_id, participant_id)
    await conn.execute(
        """INSERT INTO event_blocks (event_id, participant_id, slot_id)
           SELECT $1, $2, id FROM event_slots WHERE event_id = $1 AND id = ANY($3::bigint[])""",
        event_id, participant_id, list(blocked))


async def blocks(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """Every blocked (participant, slot) of an event."""
    return await conn.fetch("SELECT participant_id, slot_id FROM event_blocks WHERE event_id = $1", event_id)


async def check_in(conn: asyncpg.Connection, event_id: int, participant_id: int) -> bool:
    """Mark an attendee arrived (and not a no-show); False if not an attendee."""
    done = await conn.fetchval(
        """UPDATE event_attendees SET checked_in_at = coalesce(checked_in_at, now()), no_show_at = NULL
           WHERE event_id = $1 AND participant_id = $2 RETURNING participant_id""", event_id, participant_id)
    return done is not None


async def mark_no_show(conn: asyncpg.Connection, event_id: int, participant_id: int) -> bool:
    """Mark an attendee as not come; False if not an attendee or already checked in."""
    done = await conn.fetchval(
        """UPDATE event_attendees SET no_show_at = now() WHERE event_id = $1 AND participant_id = $2
           AND checked_in_at IS NULL RETURNING participant_id""", event_id, participant_id)
    return done is not None


async def set_useful(conn: asyncpg.Connection, event_id: int, participant_id: int, useful: bool) -> bool:
    """An attendee's answer to "was it useful?"; False if not an attendee."""
    done = await conn.fetchval(
        """UPDATE event_attendees SET useful = $3 WHERE event_id = $1 AND participant_id = $2
           RETURNING participant_id""", event_id, participant_id, useful)
    return done is not None


# --- requests ---


async def insert_request(conn: asyncpg.Connection, event_id: int, from_id: int, to_id: int, reason: str,
                         status: str, score: float | None) -> asyncpg.Record | None:
    """A meeting request; None if the pair already has one at this event."""
    return await conn.fetchrow(
        """INSERT INTO event_requests (event_id, from_id, to_id, reason, status, score,
                                       decided_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 = 'requested' THEN NULL ELSE now() END)
           ON CONFLICT DO NOTHING RETURNING *""", event_id, from_id, to_id, reason, status, score)


async def request_between(conn: asyncpg.Connection, event_id: int, x: int, y: int) -> asyncpg.Record | None:
    """The request of a pair at an event, either way (locked for the transaction)."""
    return await conn.fetchrow(
        """SELECT * FROM event_requests WHERE event_id = $1 AND least(from_id, to_id) = least($2::bigint, $3::bigint)
           AND greatest(from_id, to_id) = greatest($2::bigint, $3::bigint) FOR UPDATE""", event_id, x, y)


async def request(conn: asyncpg.Connection, request_id: int) -> asyncpg.Record | None:
    """One request."""
    return await conn.fetchrow("SELECT * FROM event_requests WHERE id = $1", request_id)


async def decide(conn: asyncpg.Connection, request_id: int, status: str, mutual: bool = False) -> asyncpg.Record | None:
    """Accept or decline a request still waiting (mutual: both asked); None if it was decided already."""
    return await conn.fetchrow(
        """UPDATE event_requests SET status = $2, decided_at = now(), mutual = mutual OR $3
           WHERE id = $1 AND status = 'requested' RETURNING *""", request_id, status, mutual)


async def requests_of(conn: asyncpg.Connection, event_id: int, participant_id: int) -> list[asyncpg.Record]:
    """A participant's requests at an event, both ways, newest first."""
    return await conn.fetch(
        """SELECT * FROM event_requests WHERE event_id = $1 AND (from_id = $2 OR to_id = $2)
           ORDER BY created_at DESC, id DESC""", event_id, participant_id)


async def requests(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """Every request of an event."""
    return await conn.fetch("SELECT * FROM event_requests WHERE event_id = $1 ORDER BY id", event_id)


# --- meetings ---

_MEETINGS = """SELECT m.*, r.from_id, r.to_id, r.score, r.mutual, r.reason,
                      s.starts_at, s.ends_at, t.number AS table_number, t.name AS table_name,
                      ps.starts_at AS published_starts_at, pt.number AS published_table_number
               FROM event_meetings m JOIN event_requests r ON r.id = m.request_id
               LEFT JOIN event_slots s ON s.id = m.slot_id LEFT JOIN event_tables t ON t.id = m.table_id
               LEFT JOIN event_slots ps ON ps.id = m.published_slot_id
               LEFT JOIN event_tables pt ON pt.id = m.published_table_id"""


async def meetings(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """Every meeting row of an event (placed or not), with its request, slot and table."""
    return await conn.fetch(f"{_MEETINGS} WHERE m.event_id = $1 ORDER BY s.starts_at NULLS LAST, t.number",
                            event_id)


async def meetings_of(conn: asyncpg.Connection, event_id: int, participant_id: int) -> list[asyncpg.Record]:
    """A participant's meeting rows at an event, in time order."""
    return await conn.fetch(
        f"""{_MEETINGS} WHERE m.event_id = $1 AND (r.from_id = $2 OR r.to_id = $2)
            ORDER BY s.starts_at NULLS LAST, t.number""", event_id, participant_id)


Placement = tuple[int, int | None, int | None]


async def place(conn: asyncpg.Connection, event_id: int, placements: Sequence[Placement]) -> None:
    """Put meetings (request id, slot id, table id; None: not scheduled) where the schedule says.

    Every placement is cleared first, so a swap of two meetings never meets the unique (slot, table) index.
    """
    ids = [p[0] for p in placements]
    await conn.execute("UPDATE event_meetings SET slot_id = NULL, table_id = NULL WHERE request_id = ANY($1::bigint[])",
                       ids)
    await conn.executemany(
        """INSERT INTO event_meetings (request_id, event_id, slot_id, table_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (request_id) DO UPDATE SET slot_id = $3, table_id = $4""",
        [(r, event_id, s, t) for r, s, t in placements])


async def unplace_of(conn: asyncpg.Connection, event_id: int, participant_id: int) -> int:
    """Free the unheld meetings of one attendee (a no-show); how many were freed."""
    status = await conn.execute(
        """UPDATE event_meetings m SET slot_id = NULL, table_id = NULL FROM event_requests r
           WHERE r.id = m.request_id AND m.event_id = $1 AND (r.from_id = $2 OR r.to_id = $2)
           AND m.slot_id IS NOT NULL AND m.held_at IS NULL""", event_id, participant_id)
    return int(status.split()[-1])


async def changed_since_published(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """Meetings whose slot or table differs from what was last published, with both attendees."""
    return await conn.fetch(
        """SELECT m.request_id, r.from_id, r.to_id FROM event_meetings m JOIN event_requests r ON r.id = m.request_id
           WHERE m.event_id = $1
           AND (m.slot_id, m.table_id) IS DISTINCT FROM (m.published_slot_id, m.published_table_id)""",
        event_id)


async def publish_placements(conn: asyncpg.Connection, event_id: int) -> None:
    """What is placed now is what has been published."""
    await conn.execute("UPDATE event_meetings SET published_slot_id = slot_id, published_table_id = table_id"
                       " WHERE event_id = $1", event_id)


async def mark_held(conn: asyncpg.Connection, request_id: int, match_id: int | None) -> None:
    """A meeting took place (and the match it became)."""
    await conn.execute("UPDATE event_meetings SET held_at = coalesce(held_at, now()), match_id = $2"
                       " WHERE request_id = $1", request_id, match_id)


async def export_of(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's event days (the data download): sign-up, arrival, check-in, hosted tables."""
    return await conn.fetch(
        """SELECT e.name AS event, a.signed_up_at, a.arrives_at, a.leaves_at, a.checked_in_at, a.no_show_at,
                  a.useful,
                  ARRAY(SELECT t.number FROM event_tables t WHERE t.event_id = e.id
                        AND t.host_participant_id = a.participant_id ORDER BY t.number) AS hosted_tables
           FROM event_attendees a JOIN events e ON e.id = a.event_id
           WHERE a.participant_id = $1 ORDER BY e.id""",
        participant_id,
    )


async def requests_export(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's meeting requests and meetings at event days, with the time and table (the data download)."""
    return await conn.fetch(
        """SELECT e.name AS event, CASE WHEN r.from_id = $1 THEN 'sent' ELSE 'received' END AS direction,
                  p.name AS other_party, r.reason, r.status, r.created_at, r.decided_at,
                  s.starts_at AS meeting_starts_at, s.ends_at AS meeting_ends_at, t.number AS table_number,
                  m.held_at
           FROM event_requests r JOIN events e ON e.id = r.event_id
           LEFT JOIN participants p ON p.id = CASE WHEN r.from_id = $1 THEN r.to_id ELSE r.from_id END
           LEFT JOIN event_meetings m ON m.request_id = r.id
           LEFT JOIN event_slots s ON s.id = m.slot_id LEFT JOIN event_tables t ON t.id = m.table_id
           WHERE $1 IN (r.from_id, r.to_id) ORDER BY e.id, r.id""",
        participant_id,
    )
