"""Read-time state of candidates: what changes without a new matching version (visibility, activity,
exposure, active matches and blocks), and the exposure counts the suggestions record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
