"""SQL for staff accounts and the audit log."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


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
