"""SQL of mapping rounds: rounds, their invitations and the invitations' events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from service.rounds.organisations import Organisation

STEPS = ("opened", "registered", "updated", "unsubscribed")
# Per group: how many were invited (emailed), opened, registered, updated, unsubscribed, answered.
_FIGURES = """count(*) FILTER (WHERE invited_at IS NOT NULL) AS invited,
              count(*) FILTER (WHERE opened_at IS NOT NULL) AS opened,
              count(*) FILTER (WHERE registered_at IS NOT NULL) AS registered,
              count(*) FILTER (WHERE updated_at IS NOT NULL) AS updated,
              count(*) FILTER (WHERE unsubscribed_at IS NOT NULL) AS unsubscribed,
              count(*) FILTER (WHERE registered_at IS NOT NULL OR updated_at IS NOT NULL) AS responded,
              count(*) FILTER (WHERE reminded_at IS NOT NULL) AS reminded,
              count(*) AS listed"""


async def insert_round(
    conn: asyncpg.Connection, name: str, reminder_days: int, source_name: str, staff_id: int | None
) -> int:
    """A new round; its id."""
    return int(await conn.fetchval(
        "INSERT INTO mapping_rounds (name, reminder_days, source_name, created_by) VALUES ($1, $2, $3, $4)"
        " RETURNING id", name, reminder_days, source_name, staff_id,
    ))


async def insert_invitations(conn: asyncpg.Connection, round_id: int, organisations: Sequence[Organisation]) -> None:
    """The round's list, one row per organisation (not yet emailed)."""
    await conn.executemany(
        """INSERT INTO round_invitations (round_id, line, organisation_number, name, email, municipality,
                                          contact_name, language, kind)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        [(round_id, o.line, o.organisation_number, o.name, o.email, o.municipality, o.contact_name,
          o.language, o.kind) for o in organisations],
    )


async def rounds(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every round, newest first, with its totals."""
    return await conn.fetch(
        f"""SELECT r.*, {_FIGURES} FROM mapping_rounds r LEFT JOIN round_invitations i ON i.round_id = r.id
            GROUP BY r.id ORDER BY r.id DESC"""
    )


async def round_by_id(conn: asyncpg.Connection, round_id: int) -> asyncpg.Record | None:
    """One round with its totals."""
    return await conn.fetchrow(
        f"""SELECT r.*, {_FIGURES} FROM mapping_rounds r LEFT JOIN round_invitations i ON i.round_id = r.id
            WHERE r.id = $1 GROUP BY r.id""", round_id,
    )


async def figures_by(conn: asyncpg.Connection, round_id: int, column: str) -> list[asyncpg.Record]:
    """The round's figures per municipality or per kind (`column`), by name."""
    assert column in ("municipality", "kind")  # a column name, never a person's input
    return await conn.fetch(
        f"SELECT {column} AS grp, {_FIGURES} FROM round_invitations WHERE round_id = $1 GROUP BY 1 ORDER BY 1",
        round_id,
    )


async def invitations(conn: asyncpg.Connection, round_id: int) -> list[asyncpg.Record]:
    """The round's organisations in the order of the file."""
    return await conn.fetch("SELECT * FROM round_invitations WHERE round_id = $1 ORDER BY line", round_id)


async def invitation(conn: asyncpg.Connection, invitation_id: int) -> asyncpg.Record | None:
    """One invitation with its round's name."""
    return await conn.fetchrow(
        """SELECT i.*, r.name AS round_name FROM round_invitations i JOIN mapping_rounds r ON r.id = i.round_id
           WHERE i.id = $1""", invitation_id,
    )


async def claim_unsent(conn: asyncpg.Connection, round_id: int) -> list[asyncpg.Record]:
    """Mark the round's not yet emailed invitations as invited, returning them (each claimed once)."""
    # A second sender waits on the row locks, then finds invited_at set and claims nothing.
    return await conn.fetch(
        """UPDATE round_invitations i SET invited_at = now() FROM mapping_rounds r
           WHERE r.id = i.round_id AND i.round_id = $1 AND i.invited_at IS NULL
           RETURNING i.*, r.name AS round_name""", round_id,
    )


async def claim_due_reminders(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[asyncpg.Record]:
    """Mark invitations due a reminder as reminded, returning them: each is claimed exactly once."""
    # SKIP LOCKED: a second worker passes over rows the first is claiming instead of waiting for them.
    return await conn.fetch(
        """WITH due AS (
               SELECT i.id FROM round_invitations i JOIN mapping_rounds r ON r.id = i.round_id
               WHERE i.reminded_at IS NULL AND i.invited_at IS NOT NULL
                 AND i.registered_at IS NULL AND i.updated_at IS NULL AND i.unsubscribed_at IS NULL
                 AND i.invited_at <= $1::timestamptz - make_interval(days => r.reminder_days)
               ORDER BY i.id LIMIT $2 FOR UPDATE OF i SKIP LOCKED)
           UPDATE round_invitations i SET reminded_at = $1 FROM due, mapping_rounds r
           WHERE i.id = due.id AND r.id = i.round_id
           RETURNING i.*, r.name AS round_name""", now, limit,
    )


async def mark(conn: asyncpg.Connection, invitation_id: int, step: str, participant_id: int | None = None) -> bool:
    """Record a step's first time (opened, registered, updated, unsubscribed); False if it was already."""
    assert step in STEPS  # a column name, never a person's input
    row = await conn.fetchrow(
        f"""UPDATE round_invitations SET {step}_at = now(), participant_id = coalesce($2, participant_id)
            WHERE id = $1 AND {step}_at IS NULL RETURNING id""", invitation_id, participant_id,
    )
    return row is not None


async def link_participant(conn: asyncpg.Connection, invitation_id: int, participant_id: int) -> None:
    """Note which participant an invitation's organisation is."""
    await conn.execute("UPDATE round_invitations SET participant_id = $2 WHERE id = $1", invitation_id, participant_id)


async def add_events(conn: asyncpg.Connection, invitation_ids: Sequence[int], event: str) -> None:
    """One event per invitation."""
    await conn.executemany(
        "INSERT INTO round_events (invitation_id, event) VALUES ($1, $2)", [(i, event) for i in invitation_ids]
    )


async def delete_round(conn: asyncpg.Connection, round_id: int) -> bool:
    """Delete a round with its list and events; False if there was none."""
    return await conn.fetchval("DELETE FROM mapping_rounds WHERE id = $1 RETURNING id", round_id) is not None
