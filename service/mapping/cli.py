"""`koble themes [--recompute] [--json] [--assignments FILE]` (docs/contracts.md §2 and §7)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from service.kit import embedded
from service.kit.commandline import DatabaseUnavailable, command_database, fail, first_line
from service.kit.config import get_settings
from service.mapping import service
from service.matching import service as matching


def themes_json(document: Mapping[str, Any]) -> dict[str, Any]:
    """`{"themes": [{"id", "label_nb", "label_en", "terms", "offers", "seeks"}]}` of the figures."""
    keys = ("id", "label_nb", "label_en", "terms", "offers", "seeks")
    return {"themes": [{key: theme[key] for key in keys} for theme in document.get("themes", [])]}


def themes_text(document: Mapping[str, Any]) -> str:
    """One line per theme: id, offers, seeks and both labels."""
    lines = [f"{'id':>5} {'offers':>6} {'seeks':>6}  label (nb) / label (en)"]
    lines += [
        f"{t['id']:>5} {t['offers']:>6} {t['seeks']:>6}  {t['label_nb']} / {t['label_en']}"
        for t in document.get("themes", [])
    ]
    return "\n".join(lines)


async def assignment_lines(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """One `{"external_id", "side", "index", "theme"}` per interest with a theme."""
    return await service.assignment_lines(conn)


def write_lines(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """JSON Lines, UTF-8."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


async def run(recompute: bool, as_json: bool, assignments: str | None, seed: int) -> int:
    """The command's body; its exit code."""
    settings = get_settings()
    embedded.quiet_logs(settings)
    try:
        async with command_database(settings) as pool, pool.acquire() as conn:
            if recompute:
                await service.recompute(conn, matching.model_name(settings), seed=seed)
            document = await service.figures_document(conn)
            if document is None:
                return fail("no themes yet: run koble themes --recompute")
            if assignments:
                write_lines(Path(assignments), await assignment_lines(conn))
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{assignments}: {first_line(exc)}")
    print(json.dumps(themes_json(document), ensure_ascii=False) if as_json else themes_text(document))
    return 0
