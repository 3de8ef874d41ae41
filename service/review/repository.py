"""SQL for staff accounts, their sign-in links, the audit log, and the participants staff search and pair.

The queue, the pipeline and the export read matches: their SQL is the matches domain's (service/matches)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

# --- staff ---


async def staff_by_id(conn: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    """An active (not disabled) staff member."""
    return await conn.fetchrow("SELECT * FROM staff WHERE id = $1 AND disabled_at IS NULL", staff_id)


async def staff_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """A staff member by address, disabled or not."""
    return await conn.fetchrow("SELECT * FROM staff WHERE lower(email) = lower($1)", email)


async def upsert_staff(conn: asyncpg.Connection, email: str, role: str, name: str) -> asyncpg.Record:
    """Add a staff member, or set the role (and re-enable) an existing one."""
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO staff (email, role, name) VALUES ($1, $2, $3)
           ON CONFLICT (lower(email)) DO UPDATE SET role = EXCLUDED.role, disabled_at = NULL,
               name = CASE WHEN EXCLUDED.name = '' THEN staff.name ELSE EXCLUDED.name END
           RETURNING *""",
        email, role, name,
    )
    return row


async def all_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every staff member, active first, then by address."""
    return await conn.fetch("SELECT * FROM staff ORDER BY disabled_at IS NOT NULL, lower(email)")


async def set_role(conn: asyncpg.Connection, staff_id: int, role: str) -> asyncpg.Record | None:
    """Change an active staff member's role."""
    return await conn.fetchrow(
        "UPDATE staff SET role = $2 WHERE id = $1 AND disabled_at IS NULL RETURNING *", staff_id, role
    )


async def disable(conn: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    """Disable an active staff member (kept, so the audit log keeps who they were)."""
    return await conn.fetchrow(
        "UPDATE staff SET disabled_at = now() WHERE id = $1 AND disabled_at IS NULL RETURNING *", staff_id
    )


async def other_admins(conn: asyncpg.Connection, staff_id: int) -> int:
    """Active admins other than this one (the last admin may not be demoted or disabled)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM staff WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1", staff_id
    )
    return count


# --- staff sign-in links ---


async def insert_token(conn: asyncpg.Connection, token_hash: bytes, staff_id: int, expires_at: dt.datetime) -> None:
    """Store a new sign-in token's hash."""
    await conn.execute(
        "INSERT INTO staff_tokens (token_hash, staff_id, expires_at) VALUES ($1, $2, $3)",
        token_hash, staff_id, expires_at,
    )


async def usable_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """An unused, unexpired token of an active staff member, without using it."""
    return await conn.fetchrow(
        """SELECT t.* FROM staff_tokens t JOIN staff s ON s.id = t.staff_id AND s.disabled_at IS NULL
           WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()""",
        token_hash,
    )


async def use_token(conn: asyncpg.Connection, token_hash: bytes) -> int | None:
    """Mark a usable token used, atomically (of two uses one wins); returns the staff id."""
    staff_id: int | None = await conn.fetchval(
        """UPDATE staff_tokens t SET used_at = now() FROM staff s
           WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
             AND s.id = t.staff_id AND s.disabled_at IS NULL
           RETURNING t.staff_id""",
        token_hash,
    )
    return staff_id


async def delete_stale_tokens(conn: asyncpg.Connection) -> int:
    """Forget used or expired staff tokens."""
    result: str = await conn.execute("DELETE FROM staff_tokens WHERE used_at IS NOT NULL OR expires_at < now()")
    return int(result.split()[-1])


# --- audit log ---


async def audit(
    conn: asyncpg.Connection, staff_id: int | None, actor_label: str, action: str,
    participant_id: int | None = None, match_id: int | None = None, details: dict[str, Any] | None = None,
) -> None:
    """Record one staff action or view; `details` must hold no personal data."""
    await conn.execute(
        """INSERT INTO audit_log (staff_id, actor_label, action, participant_id, match_id, details)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb)""",
        staff_id, actor_label, action, participant_id, match_id, json.dumps(details or {}),
    )


async def audit_many(
    conn: asyncpg.Connection, staff_id: int | None, actor_label: str, action: str,
    match_ids: Sequence[int] = (), participant_ids: Sequence[int] = (),
) -> None:
    """One audit row per match and per participant shown (a page view of several people)."""
    rows: list[tuple[int | None, str, str, int | None, int | None]] = [
        (staff_id, actor_label, action, None, m) for m in match_ids]
    rows += [(staff_id, actor_label, action, p, None) for p in participant_ids]
    await conn.executemany(
        "INSERT INTO audit_log (staff_id, actor_label, action, participant_id, match_id) VALUES ($1, $2, $3, $4, $5)",
        rows,
    )


async def audit_page(conn: asyncpg.Connection, before_id: int | None, limit: int) -> list[asyncpg.Record]:
    """Audit rows, newest first, before an id (keyset paging)."""
    return await conn.fetch(
        """SELECT l.*, s.email AS staff_email FROM audit_log l LEFT JOIN staff s ON s.id = l.staff_id
           WHERE $1::bigint IS NULL OR l.id < $1 ORDER BY l.id DESC LIMIT $2""",
        before_id, limit,
    )


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
