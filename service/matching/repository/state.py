"""Read-time state of candidates: what changes without a new matching version (visibility, activity,
exposure, active matches and blocks), and the exposure counts the suggestions record."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

# The factor by which an exposure count has decayed since it was last updated. In float8 on purpose:
# extract() returns numeric, and power() on numerics cost ~25 us a row (most of a cached read's time).
_DECAY = "power(0.5::float8, extract(epoch FROM now() - e.updated_at)::float8 / 86400 / {half_life}::float8)"


def exposure_decay_sql(half_life: str) -> str:
    """SQL of the factor an exposure row `e`'s count has decayed by, for a half-life (days) expression."""
    return _DECAY.format(half_life=half_life)


@dataclass(frozen=True)
class ReadTime:
    """What changes without a new matching version, over the ids asked for, in their order: still
    visible (not hidden, verified, not deleted) bool (n,), days since last activity float (n,), the
    decayed exposure count float (n,), active matches int (n,), and blocked for the query bool (n,)
    (declined either way or already paired); with the matching version they were read at."""

    version: int | None
    visible: np.ndarray
    age_days: np.ndarray
    shown: np.ndarray
    active: np.ndarray
    blocked: np.ndarray


_READ_TIME = f"""WITH c AS MATERIALIZED (SELECT * FROM unnest($1::bigint[]) WITH ORDINALITY AS c(id, n)),
    counts AS (SELECT participant_id AS id, count(*) AS n FROM match_active_sides
               WHERE participant_id = ANY($1::bigint[]) GROUP BY participant_id),
    blocked AS (SELECT other_id AS id FROM match_blocked_pairs WHERE participant_id = $3)
SELECT (SELECT version FROM matching_version) AS version,
       array_agg(coalesce(p.hidden_at IS NULL AND p.verified_at IS NOT NULL, false) ORDER BY c.n) AS visible,
       array_agg(coalesce(extract(epoch FROM now() - p.last_active_at)::float8 / 86400, 0) ORDER BY c.n) AS age,
       array_agg(coalesce(e.shown * {_DECAY.format(half_life="$2")}, 0) ORDER BY c.n) AS shown,
       array_agg(coalesce(k.n, 0) ORDER BY c.n) AS active,
       array_agg(b.id IS NOT NULL ORDER BY c.n) AS blocked
FROM c
LEFT JOIN participants p ON p.id = c.id
LEFT JOIN exposure e ON e.participant_id = c.id
LEFT JOIN counts k ON k.id = c.id
LEFT JOIN blocked b ON b.id = c.id"""


async def read_time_state(
    conn: asyncpg.Connection, query_id: int, ids: Sequence[int], exposure_half_life_days: float
) -> ReadTime:
    """`ReadTime` of these participants for this query participant, in one statement."""
    row = await conn.fetchrow(_READ_TIME, list(ids), exposure_half_life_days, query_id)
    assert row is not None

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array(row[name] or [], dtype=dtype)

    return ReadTime(row["version"], column("visible", bool), column("age", np.float64), column("shown", np.float64),
                    column("active", np.int64), column("blocked", bool))


async def record_exposure(conn: asyncpg.Connection, participant_ids: Sequence[int], half_life_days: float) -> None:
    """Count one showing for each participant, decaying the old count by its age (one statement).

    Rows are locked in id order so concurrent requests showing overlapping candidates cannot deadlock.
    On its own (not inside a caller's transaction), the commit does not wait for the WAL flush
    (synchronous_commit off for this statement's transaction only): a crash may lose the last
    fraction of a second of counts, a soft signal, and every suggestions request saves a disk flush.
    """
    quick = "" if conn.is_in_transaction() else ", (SELECT set_config('synchronous_commit', 'off', true)) AS quick"
    await conn.execute(
        f"""INSERT INTO exposure AS e (participant_id, shown, updated_at)
            SELECT id, 1, now() FROM unnest($1::bigint[]) AS id{quick} ORDER BY id
            ON CONFLICT (participant_id) DO UPDATE
            SET shown = e.shown * {_DECAY.format(half_life="$2")} + 1,
                updated_at = now()""",
        sorted(set(participant_ids)), half_life_days,
    )


@dataclass(frozen=True)
class StoredState:
    """The stored read-time columns of these participants, in their order, for an in-process copy
    (`service.matching.memory`): visible bool (n,), last activity and exposure update as epoch seconds
    float (n,) (NaN: none), the stored (undecayed) exposure count float (n,), active matches int (n,);
    the query's blocked others (None if no query was asked for) and the matching version."""

    version: int | None
    visible: np.ndarray
    active_at: np.ndarray
    shown: np.ndarray
    shown_at: np.ndarray
    active: np.ndarray
    blocked: frozenset[int] | None


_STORED = """WITH c AS MATERIALIZED (SELECT * FROM unnest($1::bigint[]) WITH ORDINALITY AS c(id, n)),
    counts AS (SELECT participant_id AS id, count(*) AS n FROM match_active_sides
               WHERE participant_id = ANY($1::bigint[]) GROUP BY participant_id)
SELECT (SELECT version FROM matching_version) AS version,
       array_agg(coalesce(p.hidden_at IS NULL AND p.verified_at IS NOT NULL, false) ORDER BY c.n) AS visible,
       array_agg(extract(epoch FROM p.last_active_at)::float8 ORDER BY c.n) AS active_at,
       array_agg(coalesce(e.shown, 0) ORDER BY c.n) AS shown,
       array_agg(extract(epoch FROM e.updated_at)::float8 ORDER BY c.n) AS shown_at,
       array_agg(coalesce(k.n, 0) ORDER BY c.n) AS active,
       CASE WHEN $2::bigint IS NOT NULL THEN
           (SELECT coalesce(array_agg(other_id), '{}') FROM match_blocked_pairs WHERE participant_id = $2)
       END AS blocked
FROM c
LEFT JOIN participants p ON p.id = c.id
LEFT JOIN exposure e ON e.participant_id = c.id
LEFT JOIN counts k ON k.id = c.id"""


async def stored_state(conn: asyncpg.Connection, query_id: int | None, ids: Sequence[int]) -> StoredState:
    """`StoredState` of these participants (and the query's blocked others), in one statement."""
    row = await conn.fetchrow(_STORED, list(ids), query_id)
    assert row is not None

    def column(name: str, dtype: type) -> np.ndarray:
        return np.array([math.nan if v is None else v for v in row[name] or []], dtype=dtype)

    blocked = None if row["blocked"] is None else frozenset(row["blocked"])
    return StoredState(row["version"], column("visible", bool), column("active_at", np.float64),
                       column("shown", np.float64), column("shown_at", np.float64), column("active", np.int64),
                       blocked)


async def add_exposure(
    conn: asyncpg.Connection, participant_ids: Sequence[int], counts: Sequence[float], half_life_days: float,
    token: str,
) -> None:
    """Count `counts` showings of each participant, as `record_exposure` does one, in one statement
    tagged with `token` (the exposure notification carries it: `service.matching.memory`)."""
    await conn.execute(
        f"""INSERT INTO exposure AS e (participant_id, shown, updated_at)
            SELECT id, n, now() FROM unnest($1::bigint[], $2::float8[]) AS u(id, n),
                (SELECT set_config('synchronous_commit', 'off', true),
                        set_config('koble.exposure_flush', $3, true)) AS s
            WHERE EXISTS (SELECT 1 FROM participants p WHERE p.id = u.id)  -- deleted since they were shown
            ORDER BY id
            ON CONFLICT (participant_id) DO UPDATE
            SET shown = e.shown * {_DECAY.format(half_life="$4")} + excluded.shown,
                updated_at = now()""",
        list(participant_ids), list(counts), token, half_life_days,
    )


async def listen(conn: asyncpg.Connection, channel: str, callback: Any) -> None:
    """LISTEN on `channel` on this (dedicated) connection, calling `callback(conn, pid, channel, payload)`."""
    await conn.add_listener(channel, callback)


async def ping(conn: asyncpg.Connection) -> None:
    """One round trip on a listening connection (proves it alive)."""
    await conn.fetchval("SELECT 1")


async def notify(conn: asyncpg.Connection, channel: str, payload: str) -> None:
    """NOTIFY `channel` with `payload` (delivered at commit: at once outside a transaction)."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
