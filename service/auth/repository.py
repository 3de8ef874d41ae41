"""SQL for sign-in and verification tokens (stored hashed)."""

from __future__ import annotations

import datetime as dt

import asyncpg


async def insert(
    conn: asyncpg.Connection, token_hash: bytes, participant_id: int, purpose: str, expires_at: dt.datetime
) -> None:
    """Store a new token's hash."""
    await conn.execute(
        "INSERT INTO auth_tokens (token_hash, participant_id, purpose, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        participant_id,
        purpose,
        expires_at,
    )


async def find_usable(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """A token that is unused and unexpired, without using it."""
    return await conn.fetchrow(
        "SELECT * FROM auth_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        token_hash,
    )


async def use(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Mark a usable token used, atomically: of two concurrent uses, one wins."""
    return await conn.fetchrow(
        """UPDATE auth_tokens SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
           RETURNING participant_id, purpose""",
        token_hash,
    )


async def delete_stale(conn: asyncpg.Connection) -> int:
    """Forget used or expired tokens."""
    result: str = await conn.execute("DELETE FROM auth_tokens WHERE used_at IS NOT NULL OR expires_at < now()")
    return int(result.split()[-1])
