"""SQL of the auth domain: sign-in tokens (stored hashed), staff accounts and server-side sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from service.auth.schemas import SubjectKind

# --- participants' tokens (email verification and sign-in) ---


async def insert_token(
    conn: asyncpg.Connection, token_hash: bytes, participant_id: int, purpose: str, expires_at: dt.datetime
) -> None:
    """Store a new participant token's hash."""
    await conn.execute(
        "INSERT INTO auth_tokens (token_hash, participant_id, purpose, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash, participant_id, purpose, expires_at,
    )


async def usable_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """A participant token that is unused and unexpired, without using it."""
    return await conn.fetchrow(
        "SELECT * FROM auth_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        token_hash,
    )


async def use_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Mark a usable participant token used, atomically: of two concurrent uses, one wins."""
    return await conn.fetchrow(
        """UPDATE auth_tokens SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
           RETURNING participant_id AS subject_id, purpose""",
        token_hash,
    )


# --- staff tokens (sign-in only; a disabled account's links stop working) ---


async def insert_staff_token(
    conn: asyncpg.Connection, token_hash: bytes, staff_id: int, expires_at: dt.datetime
) -> None:
    """Store a new staff sign-in token's hash."""
    await conn.execute(
        "INSERT INTO staff_tokens (token_hash, staff_id, expires_at) VALUES ($1, $2, $3)",
        token_hash, staff_id, expires_at,
    )


async def usable_staff_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """An unused, unexpired token of an active staff member, without using it."""
    return await conn.fetchrow(
        """SELECT t.* FROM staff_tokens t JOIN staff s ON s.id = t.staff_id AND s.disabled_at IS NULL
           WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()""",
        token_hash,
    )


async def use_staff_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Mark a usable staff token used, atomically (of two uses one wins)."""
    return await conn.fetchrow(
        """UPDATE staff_tokens t SET used_at = now() FROM staff s
           WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
             AND s.id = t.staff_id AND s.disabled_at IS NULL
           RETURNING t.staff_id AS subject_id, 'login' AS purpose""",
        token_hash,
    )


async def delete_stale_tokens(conn: asyncpg.Connection) -> int:
    """Forget used or expired tokens of participants and staff; returns how many."""
    deleted = 0
    for table in ("auth_tokens", "staff_tokens"):
        result: str = await conn.execute(f"DELETE FROM {table} WHERE used_at IS NOT NULL OR expires_at < now()")
        deleted += int(result.split()[-1])
    return deleted


# --- staff accounts ---


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


async def active_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Staff members not disabled who work with people (reviewers and admins), in the order they were added."""
    return await conn.fetch(
        "SELECT * FROM staff WHERE disabled_at IS NULL AND role IN ('reviewer', 'admin') ORDER BY id"
    )


async def all_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every staff member, active first, then by address."""
    return await conn.fetch("SELECT * FROM staff ORDER BY disabled_at IS NOT NULL, lower(email)")


async def set_role(conn: asyncpg.Connection, staff_id: int, role: str) -> asyncpg.Record | None:
    """Change an active staff member's role."""
    return await conn.fetchrow(
        "UPDATE staff SET role = $2 WHERE id = $1 AND disabled_at IS NULL RETURNING *", staff_id, role
    )


async def disable_staff(conn: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
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


# --- sessions ---


async def insert_session(
    conn: asyncpg.Connection, token_hash: bytes, kind: SubjectKind, subject_id: int, auth_level: str,
    lifetime: dt.timedelta,
) -> int:
    """Store a new session's hash; returns its id."""
    session_id: int = await conn.fetchval(
        """INSERT INTO sessions (token_hash, subject_kind, subject_id, auth_level, expires_at)
           VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING id""",
        token_hash, kind, subject_id, auth_level, lifetime,
    )
    return session_id


async def live_session(
    conn: asyncpg.Connection, token_hash: bytes, lifetime: dt.timedelta, touch_after: dt.timedelta
) -> asyncpg.Record | None:
    """A session neither ended nor expired; seen now and extended, at most once per `touch_after`."""
    # One round trip per request; the write happens only when last_seen_at is older than touch_after.
    return await conn.fetchrow(
        """WITH live AS (SELECT * FROM sessions
                         WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()),
                touched AS (UPDATE sessions s SET last_seen_at = now(), expires_at = now() + $2::interval
                            FROM live WHERE s.id = live.id AND live.last_seen_at < now() - $3::interval)
           SELECT * FROM live""",
        token_hash, lifetime, touch_after,
    )


async def end_session(conn: asyncpg.Connection, token_hash: bytes) -> None:
    """End one session."""
    await conn.execute("UPDATE sessions SET ended_at = now() WHERE token_hash = $1 AND ended_at IS NULL", token_hash)


async def end_sessions_of(conn: asyncpg.Connection, kind: SubjectKind, subject_ids: Sequence[int]) -> int:
    """End every live session of these subjects; returns how many."""
    result: str = await conn.execute(
        """UPDATE sessions SET ended_at = now()
           WHERE subject_kind = $1 AND subject_id = ANY($2::bigint[]) AND ended_at IS NULL""",
        kind, list(subject_ids),
    )
    return int(result.split()[-1])


async def delete_sessions_of(conn: asyncpg.Connection, kind: SubjectKind, subject_ids: Sequence[int]) -> None:
    """Forget every session of these subjects (their accounts are deleted)."""
    await conn.execute(
        "DELETE FROM sessions WHERE subject_kind = $1 AND subject_id = ANY($2::bigint[])", kind, list(subject_ids)
    )


async def delete_stale_sessions(conn: asyncpg.Connection) -> int:
    """Forget ended or expired sessions; returns how many."""
    result: str = await conn.execute("DELETE FROM sessions WHERE ended_at IS NOT NULL OR expires_at < now()")
    return int(result.split()[-1])


# --- reading the audit log (rows are written through service.kit.audit; reading names staff) ---


async def audit_page(conn: asyncpg.Connection, before_id: int | None, limit: int) -> list[asyncpg.Record]:
    """Audit rows, newest first, before an id (keyset paging), with the staff member's address."""
    return await conn.fetch(
        """SELECT l.*, s.email AS staff_email FROM audit_log l LEFT JOIN staff s ON s.id = l.staff_id
           WHERE $1::bigint IS NULL OR l.id < $1 ORDER BY l.id DESC LIMIT $2""",
        before_id, limit,
    )
