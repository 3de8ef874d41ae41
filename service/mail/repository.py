"""SQL for the email outbox."""

from __future__ import annotations

import asyncpg


async def insert(
    conn: asyncpg.Connection,
    participant_id: int | None,
    template: str,
    to_address: str,
    subject: str,
    body_text: str,
    body_html: str,
    match_id: int | None = None,
    staff_id: int | None = None,
) -> int:
    """Add one pending email; returns its id."""
    outbox_id: int = await conn.fetchval(
        """INSERT INTO outbox (participant_id, template, to_address, subject, body_text, body_html,
                               match_id, staff_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        participant_id,
        template,
        to_address,
        subject,
        body_text,
        body_html,
        match_id,
        staff_id,
    )
    return outbox_id


async def claim(conn: asyncpg.Connection, outbox_id: int) -> asyncpg.Record | None:
    """Lock a pending email for sending (None if sent, or another worker holds it)."""
    return await conn.fetchrow(
        "SELECT * FROM outbox WHERE id = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED",
        outbox_id,
    )


async def mark(conn: asyncpg.Connection, outbox_id: int, status: str, error: str | None) -> None:
    """Record a delivery attempt's outcome."""
    await conn.execute(
        """UPDATE outbox SET status = $2, last_error = $3, attempts = attempts + 1,
                  sent_at = CASE WHEN $2 IN ('sent', 'logged') THEN now() END
           WHERE id = $1""",
        outbox_id,
        status,
        error,
    )


async def pending_ids(conn: asyncpg.Connection, older_than_seconds: int, limit: int) -> list[int]:
    """Pending emails a lost enqueue may have left behind."""
    rows = await conn.fetch(
        """SELECT id FROM outbox WHERE status = 'pending'
           AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2""",
        older_than_seconds,
        limit,
    )
    return [row["id"] for row in rows]


async def recent(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The newest emails, for the operator's `koble outbox`."""
    return await conn.fetch(
        "SELECT id, template, subject, body_text, status, created_at FROM outbox ORDER BY id DESC LIMIT $1",
        limit,
    )


async def for_participant(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The emails sent to one participant (for their data download)."""
    return await conn.fetch(
        "SELECT subject, status, created_at, sent_at FROM outbox WHERE participant_id = $1 ORDER BY id",
        participant_id,
    )
