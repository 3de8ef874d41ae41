"""The match lifecycle in use: create matches and move them, each move stored with its actor and
the emails it causes written in the same transaction (the outbox)."""

from __future__ import annotations

import asyncpg
from arq.connections import ArqRedis

from service.followup import notifications, repository
from service.followup.lifecycle import IllegalTransition, MatchNotFound, Origin, State, can_move
from service.followup.schemas import TimelineEntry
from service.kit.audit import SYSTEM_LABEL, Actor
from service.kit.config import Settings
from service.mail import tasks as mail_tasks


def pair(x: int, y: int) -> tuple[int, int]:
    """A pair's ids in the order matches store them."""
    return (x, y) if x < y else (y, x)


async def create(
    conn: asyncpg.Connection, settings: Settings, ids: tuple[int, int], state: State, origin: Origin,
    actor: Actor, score: float | None = None,
) -> tuple[asyncpg.Record | None, list[int]]:
    """A new match born in `state`; (None, []) if the pair already has one. Returns its outbox ids."""
    async with conn.transaction():
        row = await repository.insert_match(conn, *pair(*ids), state, origin, score)
        if row is None:
            return None, []
        event = await repository.insert_event(conn, row["id"], None, state, actor, None, None)
        outbox = await notifications.on_transition(conn, settings, row, event)
    return row, outbox


async def transition(
    conn: asyncpg.Connection, settings: Settings, match_id: int, target: State, actor: Actor,
    reason: str | None = None, comment: str | None = None,
) -> tuple[asyncpg.Record, list[int]]:
    """Move a match to `target`; raises IllegalTransition (naming the current state) or MatchNotFound.

    The row is locked first, so of two people deciding at once one wins and the other is refused.
    """
    async with conn.transaction():
        current = await repository.lock(conn, match_id)
        if current is None:
            raise MatchNotFound(match_id)
        if not can_move(current["state"], target):
            raise IllegalTransition(match_id, current["state"], target)
        row = await repository.set_state(conn, match_id, target, reason if target == "closed" else None)
        event = await repository.insert_event(conn, match_id, current["state"], target, actor, reason, comment)
        outbox = await notifications.on_transition(conn, settings, row, event)
    return row, outbox


async def deliver(redis: ArqRedis | None, outbox_ids: list[int]) -> None:
    """Hand emails written by a committed transition to the worker (the outbox sweep covers Redis outages)."""
    await mail_tasks.enqueue(redis, outbox_ids)


async def timeline(conn: asyncpg.Connection, match_id: int) -> list[TimelineEntry]:
    """A match's transitions, emails and follow-up reminders, oldest first."""
    entries = [_event_entry(row) for row in await repository.events(conn, match_id)]
    entries += [_email_entry(row) for row in await repository.emails(conn, match_id)]
    entries += [_reminder_entry(row) for row in await repository.reminders(conn, match_id)]
    return sorted(entries, key=lambda entry: entry.at)


def _event_entry(row: asyncpg.Record) -> TimelineEntry:
    actor = row["staff_email"] or row["actor_kind"]
    detail = " · ".join(part for part in (row["reason"], row["comment"]) if part) or None
    return TimelineEntry(row["created_at"], "transition", row["to_state"], detail, actor)


def _email_entry(row: asyncpg.Record) -> TimelineEntry:
    # The detail says how delivery went: status, tries, and the last SMTP error if it failed.
    detail = " · ".join(str(part) for part in (row["status"], row["to_address"], row["last_error"]) if part)
    return TimelineEntry(row["created_at"], "email", row["subject"], detail, "staff" if row["staff_id"] else None)


def _reminder_entry(row: asyncpg.Record) -> TimelineEntry:
    # A reminder of the parties or an escalation to staff, for the state the match sat in.
    return TimelineEntry(row["created_at"], row["kind"], row["state"], None, SYSTEM_LABEL)


async def approve(
    conn: asyncpg.Connection, settings: Settings, match_id: int, actor: Actor, comment: str | None = None
) -> list[int]:
    """Staff approve a suggested match; Koble then introduces the parties (emails both). Returns outbox ids."""
    async with conn.transaction():
        _, first = await transition(conn, settings, match_id, "approved", actor, comment=comment)
        _, second = await transition(conn, settings, match_id, "introduced", Actor.system())
    return first + second
