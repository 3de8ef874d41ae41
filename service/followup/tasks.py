"""Worker jobs of the follow-up: reminders for matches that sit in a state too long, then staff.

Several workers may run the job at once: each reminder is a row (match, state, kind) inserted with
ON CONFLICT DO NOTHING in the transaction that writes its emails, so every reminder goes once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg
from arq import cron

from service.followup import notifications, repository, service
from service.followup.lifecycle import IllegalTransition
from service.kit.audit import Actor
from service.kit.config import Settings
from service.mail import tasks as mail_tasks

log = logging.getLogger(__name__)


async def send_reminders(conn: asyncpg.Connection, settings: Settings, now: dt.datetime) -> list[int]:
    """Remind parties of matches due at `now`, and tell staff of those reminded long enough ago."""
    outbox: list[int] = []
    for state, rule in notifications.REMINDERS.items():
        interval = dt.timedelta(days=getattr(settings, rule.setting))
        for match in await repository.due(conn, state, now - interval, "reminder"):
            outbox += await _once(conn, settings, match, "reminder", now)
        for match in await repository.due_escalation(conn, state, now - interval):
            outbox += await _once(conn, settings, match, "escalation", now)
    return outbox


async def _once(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, kind: str, now: dt.datetime
) -> list[int]:
    async with conn.transaction():
        if not await repository.claim_reminder(conn, match["id"], match["state"], kind, now):
            return []
        if kind == "reminder":
            return await notifications.remind(conn, settings, match)
        return await notifications.to_staff(conn, settings, match, "stalled")


async def introduce_approved(conn: asyncpg.Connection, settings: Settings) -> list[int]:
    """Introduce matches staff approved without introducing them (a safety net: approve() does both)."""
    outbox: list[int] = []
    for match_id in await repository.ids_in_state(conn, "approved"):
        try:
            outbox += (await service.transition(conn, settings, match_id, "introduced", Actor.system()))[1]
        except IllegalTransition:
            continue  # another worker or a staff member moved it meanwhile
    return outbox


async def remind(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """arq cron job: introduce approved matches, send due reminders and escalations; returns emails written."""
    async with ctx["pool"].acquire() as conn:
        outbox = await introduce_approved(conn, ctx["settings"])
        outbox += await send_reminders(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    await mail_tasks.enqueue(ctx["redis"], outbox)
    if outbox:
        log.info("follow-up reminders: %d emails", len(outbox))
    return len(outbox)


CRON_JOBS = [cron(remind, minute={5, 35}, second=0)]
