"""Participants move their own match: one-click replies from emails and the buttons on their match page.

Idempotent by design: a reply that the match has already passed (the other party clicked first, or the
same link twice) changes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import asyncpg

from service.feed import repository as feed_repository
from service.followup import repository, service
from service.followup.lifecycle import ORDER, IllegalTransition, State
from service.kit.audit import Actor
from service.kit.config import Settings

Action = Literal["interested", "not_now", "met", "agreed", "completed", "stop"]
ACTIONS: tuple[Action, ...] = ("interested", "not_now", "met", "agreed", "completed", "stop")
TARGETS: dict[str, State] = {
    "not_now": "declined", "met": "meeting_held", "agreed": "project_agreed",
    "completed": "project_completed", "stop": "closed",
}
STOP_REASON = "not_going_ahead"


@dataclass
class Outcome:
    """What a reply did: 'done', 'waiting' (for the other party), 'already' (nothing to do) or 'refused'."""

    result: Literal["done", "waiting", "already", "refused"]
    state: str
    outbox: list[int] = field(default_factory=list)


def other_party(match: asyncpg.Record, participant_id: int) -> int:
    """The other participant of a match."""
    return int(match["b_id"] if match["a_id"] == participant_id else match["a_id"])


async def act(
    conn: asyncpg.Connection, settings: Settings, match_id: int, participant_id: int, action: Action,
    comment: str | None = None,
) -> Outcome:
    """Apply one party's reply to their match (in one transaction)."""
    async with conn.transaction():
        match = await repository.lock(conn, match_id)
        if match is None or participant_id not in (match["a_id"], match["b_id"]):
            return Outcome("refused", match["state"] if match else "closed")
        if action == "interested":
            return await _interested(conn, settings, match, participant_id, comment)
        if action == "not_now" and match["state"] == "introduced":
            await feed_repository.upsert_answer(conn, participant_id, other_party(match, participant_id), "not_now")
        return await _move(conn, settings, match, participant_id, TARGETS[action], comment)


async def _interested(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, me: int, comment: str | None
) -> Outcome:
    if match["state"] != "introduced":
        return Outcome("already" if _passed(match["state"], "mutual") else "refused", match["state"])
    other = other_party(match, me)
    await feed_repository.upsert_answer(conn, me, other, "interested")
    if await feed_repository.answer_of(conn, other, me) != "interested":
        return Outcome("waiting", match["state"])
    return await _move(conn, settings, match, me, "mutual", comment)


async def _move(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, me: int, target: State, comment: str | None
) -> Outcome:
    reason = STOP_REASON if target == "closed" else None
    try:
        row, outbox = await service.transition(
            conn, settings, match["id"], target, Actor.participant(me), reason=reason, comment=comment or None
        )
    except IllegalTransition as exc:
        return Outcome("already" if _passed(exc.current, target) else "refused", exc.current)
    return Outcome("done", row["state"], outbox)


def settled(state: str, action: str) -> bool:
    """Whether a match in `state` has already got where `action` would take it (nothing left to do)."""
    return _passed(state, TARGETS.get(action, "mutual"))


def _passed(current: str, target: str) -> bool:
    """Whether a match in `current` has already reached `target` on the way to a project."""
    path = ORDER[: ORDER.index("project_completed") + 1]
    return current == target or (current in path and target in path and path.index(current) > path.index(target))
