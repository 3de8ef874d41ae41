"""`koble suggest EXTERNAL_ID [--k 10] [--json]` (docs/contracts.md §2): ranked suggestions with score and explanation.

For operators: explanations name both participants, and looking does not count as showing
(no exposure is recorded).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import asyncpg

from service.kit import embedded, i18n, vocabulary
from service.kit.commandline import DatabaseUnavailable, command_database, fail
from service.kit.config import Settings, get_settings
from service.matching import service
from service.profiles import service as profiles


def as_json(external_id: str, suggestions: Sequence[service.Suggestion]) -> dict[str, Any]:
    """The API's shape (docs/contracts.md §3)."""
    return {
        "participant": external_id,
        "suggestions": [
            {"external_id": s.external_id, "kind": s.kind, "name": s.name, "score": round(s.score, 4),
             "explanation": s.explanation}
            for s in suggestions
        ],
    }


def as_text(row: asyncpg.Record, suggestions: Sequence[service.Suggestion], language: i18n.Language) -> str:
    """A readable ranked list: rank, name, organisation, kind, score, then the explanation indented."""
    if not suggestions:
        return f"No suggestions for {row['name']} ({row['external_id']})."
    token = i18n.current_language.set(language)
    try:
        kinds = vocabulary.kind_labels()
    finally:
        i18n.current_language.reset(token)
    lines = [f"Suggestions for {row['name']} ({row['external_id']}), best first:"]
    for rank, s in enumerate(suggestions, start=1):
        organisation = f", {s.organisation}" if s.organisation and s.organisation != s.name else ""
        lines.append(f"{rank:>3}. {s.name}{organisation} [{kinds[s.kind]}, {s.external_id}]  score {s.score:.3f}")
        lines.append(f"     {s.explanation}")
    return "\n".join(lines)


async def suggestions_for(
    conn: asyncpg.Connection, settings: Settings, external_id: str, k: int, language: i18n.Language
) -> tuple[asyncpg.Record, list[service.Suggestion]] | None:
    """The participant and their suggestions, or None if the id is unknown."""
    row = await profiles.by_external_id(conn, external_id)
    if row is None:
        return None
    model = service.model_name(settings)
    found = await service.suggest(conn, row["id"], k, model, service.ranker_config(model),
                                  reader_language=language, by_name=True, record_exposure=False)
    return row, found


async def run(
    external_id: str, k: int = 10, json_output: bool = False, language: i18n.Language | None = None,
    settings: Settings | None = None, out: TextIO | None = None,
) -> int:
    """`koble suggest`: print the ranked list (or one JSON object); the exit code (1: unknown id)."""
    settings = settings or get_settings()
    out = out or sys.stdout
    embedded.quiet_logs(settings)  # stderr is for the one-line reason only
    try:
        async with command_database(settings) as pool, pool.acquire() as conn:
            result = await suggestions_for(conn, settings, external_id, k, language or i18n.DEFAULT_LANGUAGE)
    except DatabaseUnavailable as exc:
        return fail(str(exc))
    if result is None:
        return fail(f"external_id: no participant with id {external_id!r}")
    row, found = result
    text = json.dumps(as_json(row["external_id"], found), ensure_ascii=False) if json_output else as_text(
        row, found, language or i18n.DEFAULT_LANGUAGE)
    print(text, file=out)
    return 0
