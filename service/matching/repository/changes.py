"""Which participants the matching versions after a given one changed (table matching_changes, migration 0026)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

EVERYTHING = 0  # the participant id logged for a TRUNCATE: every cached ranking is void
DELETED = -1  # logged for a participant deleted (who leaves no row naming them): computed again, as rare


@dataclass(frozen=True)
class Changes:
    """The current version, the participants changed after the asked-for version up to it, and which of
    those may be anyone's candidate now (visible and verified; the rest are only to be dropped).
    changed None: not known, because that version's own rows were pruned or never logged, more changed
    than asked for, everything did (a TRUNCATE) or someone was deleted."""

    version: int | None
    changed: list[int] | None
    visible: list[int]


_SINCE = """WITH v AS (SELECT version FROM matching_version),
    c AS (SELECT DISTINCT participant_id AS id FROM matching_changes
          WHERE version > $1 AND version <= (SELECT version FROM v) LIMIT $2 + 1)
SELECT (SELECT version FROM v) AS version,
       EXISTS (SELECT 1 FROM matching_changes WHERE version = $1) AS known,
       ARRAY(SELECT id FROM c) AS changed,
       ARRAY(SELECT c.id FROM c JOIN participants p ON p.id = c.id
             WHERE p.hidden_at IS NULL AND p.verified_at IS NOT NULL) AS visible"""


async def since(conn: asyncpg.Connection, version: int, most: int) -> Changes:
    """The participants changed after `version` (at most `most` of them, else not known), in one statement."""
    row = await conn.fetchrow(_SINCE, version, most)
    changed = list(row["changed"])
    if not row["known"] or len(changed) > most or EVERYTHING in changed or DELETED in changed:
        return Changes(row["version"], None, [])
    return Changes(row["version"], changed, list(row["visible"]))


async def current(conn: asyncpg.Connection) -> int | None:
    """The matching version now (NULL before the first)."""
    version: int | None = await conn.fetchval("SELECT version FROM matching_version")
    return version
