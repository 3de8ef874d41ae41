"""Mapping's SQL: themes, each interest's theme, and the latest recomputation's state and figures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import numpy as np

AssignmentRow = tuple[int, str, int, int, float | None]  # (participant id, side, position, theme id, best offer)


async def themes(conn: asyncpg.Connection, model: str) -> list[asyncpg.Record]:
    """Every theme of this model (active or not), by id."""
    return await conn.fetch("SELECT * FROM themes WHERE model = $1 ORDER BY id", model)


async def theme(conn: asyncpg.Connection, theme_id: int) -> asyncpg.Record | None:
    """One theme by id, or None."""
    return await conn.fetchrow("SELECT * FROM themes WHERE id = $1", theme_id)


async def insert_theme(
    conn: asyncpg.Connection, model: str, centroid: np.ndarray, split_from: int | None = None
) -> int:
    """A new active theme; its id."""
    value: int = await conn.fetchval(
        "INSERT INTO themes (model, centroid, split_from) VALUES ($1, $2, $3) RETURNING id", model, centroid, split_from
    )
    return value


async def update_centroids(conn: asyncpg.Connection, rows: Sequence[tuple[int, np.ndarray]]) -> None:
    """Set (theme id, centroid) and mark the themes active."""
    await conn.executemany(
        "UPDATE themes SET centroid = $2, active = true, updated_at = now() WHERE id = $1", list(rows)
    )


async def retire(conn: asyncpg.Connection, theme_ids: Sequence[int]) -> None:
    """Mark themes (and their parts) inactive: no recomputation matched them."""
    await conn.execute(
        """UPDATE themes SET active = false, updated_at = now()
           WHERE id = ANY($1::bigint[]) OR split_from = ANY($1::bigint[])""",
        list(theme_ids),
    )


async def set_labels(conn: asyncpg.Connection, rows: Sequence[tuple[int, str, str, list[str]]]) -> None:
    """Set (theme id, label_nb, label_en, terms)."""
    await conn.executemany("UPDATE themes SET label_nb = $2, label_en = $3, terms = $4 WHERE id = $1", list(rows))


async def rename(conn: asyncpg.Connection, theme_id: int, name_nb: str | None, name_en: str | None) -> None:
    """Staff's names of a theme (None: the computed label again)."""
    await conn.execute(
        "UPDATE themes SET name_nb = $2, name_en = $3, updated_at = now() WHERE id = $1", theme_id, name_nb, name_en
    )


async def merge(conn: asyncpg.Connection, theme_id: int, into: int) -> None:
    """Show a theme's interests under another (and whatever was merged into it, too)."""
    await conn.execute(
        "UPDATE themes SET merged_into = $2, updated_at = now() WHERE id = $1 OR merged_into = $1", theme_id, into
    )


async def mark_split(conn: asyncpg.Connection, theme_id: int) -> None:
    """A theme divided into parts by staff."""
    await conn.execute("UPDATE themes SET is_split = true, updated_at = now() WHERE id = $1", theme_id)


async def replace_assignments(conn: asyncpg.Connection, rows: Sequence[AssignmentRow]) -> None:
    """Every interest's theme, replaced as a whole (the caller holds the transaction)."""
    await conn.execute("DELETE FROM theme_assignments")
    await conn.copy_records_to_table(
        "theme_assignments",
        records=list(rows),
        columns=["participant_id", "side", "position", "theme_id", "best_offer"],
    )


async def assign(conn: asyncpg.Connection, participant_ids: Sequence[int], rows: Sequence[AssignmentRow]) -> None:
    """These participants' interests' themes, replacing theirs."""
    await conn.execute("DELETE FROM theme_assignments WHERE participant_id = ANY($1::bigint[])", list(participant_ids))
    await conn.executemany(
        """INSERT INTO theme_assignments (participant_id, side, position, theme_id, best_offer)
           VALUES ($1, $2, $3, $4, $5)""",
        list(rows),
    )


async def reassign(conn: asyncpg.Connection, rows: Sequence[tuple[int, str, int, int]]) -> None:
    """Move (participant id, side, position) to a theme id."""
    await conn.executemany(
        "UPDATE theme_assignments SET theme_id = $4 WHERE participant_id = $1 AND side = $2 AND position = $3",
        list(rows),
    )


async def assignments(conn: asyncpg.Connection, theme_ids: Sequence[int] | None = None) -> list[asyncpg.Record]:
    """participant_id, side, position, theme_id, best_offer (of these themes only, if given)."""
    return await conn.fetch(
        """SELECT participant_id, side, position, theme_id, best_offer FROM theme_assignments
           WHERE $1::bigint[] IS NULL OR theme_id = ANY($1::bigint[])
           ORDER BY participant_id, side, position""",
        None if theme_ids is None else list(theme_ids),
    )


async def state(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The latest recomputation (model, centers as JSON text, computed_at, seconds), or None."""
    return await conn.fetchrow("SELECT model, centers::text AS centers, computed_at, seconds FROM theme_state")


async def document(conn: asyncpg.Connection) -> tuple[Any, str] | None:
    """(computed_at, the figures' JSON text) of the latest recomputation: one row, parsed by the caller."""
    row = await conn.fetchrow("SELECT computed_at, document::text AS document FROM theme_state")
    return None if row is None else (row["computed_at"], row["document"])


async def save_state(conn: asyncpg.Connection, model: str, centers: dict[str, Any], seconds: float) -> None:
    """Store the latest recomputation (its figures follow with save_document)."""
    await conn.execute(
        """INSERT INTO theme_state (id, model, centers, computed_at, seconds, document)
           VALUES (true, $1, $2::jsonb, now(), $3, '{}')
           ON CONFLICT (id) DO UPDATE SET model = $1, centers = $2::jsonb, computed_at = now(), seconds = $3""",
        model,
        json.dumps(centers),
        seconds,
    )


async def save_document(conn: asyncpg.Connection, figures: dict[str, Any]) -> None:
    """Replace the figures (after a staff edit), keeping the recomputation's centre."""
    await conn.execute("UPDATE theme_state SET document = $1::jsonb", json.dumps(figures, ensure_ascii=False))
