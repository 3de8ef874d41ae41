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
    unsubscribe_url: str | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> int:
    """Add one pending email; returns its id."""
    name, mime, data = attachment or (None, None, None)
    outbox_id: int = await conn.fetchval(
        """INSERT INTO outbox (participant_id, template, to_address, subject, body_text, body_html,
                               match_id, staff_id, unsubscribe_url, attachment_name, attachment_type, attachment)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id""",
        participant_id,
        template,
        to_address,
        subject,
        body_text,
        body_html,
        match_id,
        staff_id,
        unsubscribe_url,
        name,
        mime,
        data,
    )
    return outbox_id


async def claim(conn: asyncpg.Connection, outbox_id: int, lease_seconds: float) -> asyncpg.Record | None:
    """Claim an email for sending (committed before SMTP); None if sent, failed or held by a live worker.

    A `sending` claim older than the lease belongs to a worker that died mid-send: it is taken over.
    Of two workers claiming at once, the second re-reads the updated row and gets None.
    """
    return await conn.fetchrow(
        """UPDATE outbox SET status = 'sending', claimed_at = now(), attempts = attempts + 1
           WHERE id = $1 AND (status = 'pending'
                 OR (status = 'sending' AND claimed_at < now() - make_interval(secs => $2)))
           RETURNING *""",
        outbox_id,
        lease_seconds,
    )


async def finish(
    conn: asyncpg.Connection, outbox_id: int, status: str, error: str | None, retry_after: float = 0
) -> None:
    """Record the outcome of a claimed email's delivery attempt (`pending`: due again in `retry_after` s)."""
    await conn.execute(
        """UPDATE outbox SET status = $2, last_error = $3, claimed_at = NULL,
                  sent_at = CASE WHEN $2 IN ('sent', 'logged') THEN now() END,
                  next_attempt_at = now() + make_interval(secs => $4)
           WHERE id = $1 AND status = 'sending'""",
        outbox_id,
        status,
        error,
        retry_after,
    )


async def release(conn: asyncpg.Connection, outbox_id: int) -> None:
    """Give back a claim whose send was interrupted (worker stopping): pending again, the try not counted."""
    await conn.execute(
        """UPDATE outbox SET status = 'pending', claimed_at = NULL, attempts = greatest(attempts - 1, 0),
                  next_attempt_at = now()
           WHERE id = $1 AND status = 'sending'""",
        outbox_id,
    )


async def overdue(conn: asyncpg.Connection, grace_seconds: float, limit: int) -> list[tuple[int, int]]:
    """(id, handoffs) of pending emails due more than `grace_seconds` ago, oldest due first."""
    rows = await conn.fetch(
        """SELECT id, handoffs FROM outbox WHERE status = 'pending'
           AND next_attempt_at < now() - make_interval(secs => $1) ORDER BY next_attempt_at LIMIT $2""",
        grace_seconds,
        limit,
    )
    return [(row["id"], row["handoffs"]) for row in rows]


async def stale_claims(conn: asyncpg.Connection, lease_seconds: float, limit: int) -> list[tuple[int, int]]:
    """(id, handoffs) of emails whose sending worker died mid-send (claim older than the lease)."""
    rows = await conn.fetch(
        """SELECT id, handoffs FROM outbox WHERE status = 'sending'
           AND claimed_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2""",
        lease_seconds,
        limit,
    )
    return [(row["id"], row["handoffs"]) for row in rows]


async def hand_off(conn: asyncpg.Connection, outbox_ids: list[int]) -> list[tuple[int, int]]:
    """Count one more hand-off to the queue for these undelivered emails; (id, handoffs) after it."""
    rows = await conn.fetch(
        """UPDATE outbox SET handoffs = handoffs + 1
           WHERE id = ANY($1::bigint[]) AND status IN ('pending', 'sending') RETURNING id, handoffs""",
        outbox_ids,
    )
    return sorted((row["id"], row["handoffs"]) for row in rows)


async def undelivered(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Failed, pending and in-flight emails, newest first (staff's outbox page; no bodies)."""
    return await conn.fetch(
        """SELECT id, template, to_address, subject, status, attempts, last_error, match_id, participant_id,
                  created_at, claimed_at
           FROM outbox WHERE status IN ('failed', 'pending', 'sending') ORDER BY id DESC LIMIT $1""",
        limit,
    )


async def for_match(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """The emails a match caused, oldest first (no bodies)."""
    return await conn.fetch(
        """SELECT id, template, subject, status, attempts, last_error, to_address, staff_id, created_at, sent_at
           FROM outbox WHERE match_id = $1 ORDER BY id""",
        match_id,
    )


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """How many emails are in each delivery status."""
    rows = await conn.fetch("SELECT status, count(*) AS n FROM outbox GROUP BY status")
    return {row["status"]: row["n"] for row in rows}


async def requeue_failed(conn: asyncpg.Connection, outbox_id: int) -> bool:
    """Put a failed email back to pending with fresh tries; False if it was not failed."""
    result: str = await conn.execute(
        """UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now()
           WHERE id = $1 AND status = 'failed'""",
        outbox_id,
    )
    return result.endswith(" 1")


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
