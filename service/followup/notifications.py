"""The emails a transition causes, written to the outbox inside the transition's transaction."""

from __future__ import annotations

import asyncpg

from service.config import Settings
from service.mail import service as mail
from service.profiles import repository as profiles_repository

# Entering these states introduces the two parties to each other, with contact details.
INTRODUCING = ("introduced", "mutual")


async def on_transition(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, event: asyncpg.Record
) -> list[int]:
    """Write the emails `event` causes for `match`; returns their outbox ids."""
    if event["to_state"] not in INTRODUCING or event["from_state"] in INTRODUCING:
        return []
    a = await profiles_repository.by_id(conn, match["a_id"])
    b = await profiles_repository.by_id(conn, match["b_id"])
    if a is None or b is None:
        return []
    mutual = event["to_state"] == "mutual"
    return [await _introduce(conn, settings, match, me, other, mutual) for me, other in ((a, b), (b, a))]


async def _introduce(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record,
    me: asyncpg.Record, other: asyncpg.Record, mutual: bool,
) -> int:
    rendered = mail.render(
        "match_introduction", me["email"], me["language"], name=me["name"], other=other,
        mutual=mutual, link=f"{settings.koble_base_url}/me/matches",
    )
    return await mail.queue(conn, me["id"], rendered, match_id=match["id"])
