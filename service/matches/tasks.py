"""Worker jobs of the match lifecycle: introductions after staff's grace period, reminders for matches
that sit in a state too long, then staff.

Each reminder goes once however many workers run the job (service.send_reminders says how); each
introduction once, because the job locks the match and introduces only an `approved` one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from arq import cron
from arq.worker import func

from service.mail import tasks as mail_tasks
from service.matches import conversation, service

log = logging.getLogger(__name__)
# arq tries a job again after a lost worker; the match row decides, so extra tries are harmless.
INTRODUCE_TRIES = 5


async def remind(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """arq cron job: introduce approved matches, send due reminders and escalations; returns emails written."""
    async with ctx["pool"].acquire() as conn:
        outbox = await service.introduce_approved(conn, ctx["settings"])
        outbox += await service.send_reminders(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    await mail_tasks.enqueue(ctx["redis"], outbox)
    if outbox:
        log.info("follow-up reminders: %d emails", len(outbox))
    return len(outbox)


async def notify_messages(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """arq cron job: the batched "new messages" emails whose recipients' quiet interval has passed."""
    async with ctx["pool"].acquire() as conn:
        outbox = await conversation.notify_waiting(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    await mail_tasks.enqueue(ctx["redis"], outbox)
    return len(outbox)


async def introduce_match(ctx: dict[str, Any], match_id: int) -> int:
    """arq job, deferred by the grace period: introduce an approved match unless staff undid it."""
    async with ctx["pool"].acquire() as conn:
        outbox = await service.introduce_due(conn, ctx["settings"], match_id, dt.datetime.now(dt.UTC))
    await mail_tasks.enqueue(ctx["redis"], outbox)
    return len(outbox)


async def purge_conversations(ctx: dict[str, Any], now: dt.datetime | None = None) -> tuple[int, int]:
    """arq cron job: delete messages and meetings of matches finished longer ago than the retention period."""
    async with ctx["pool"].acquire() as conn:
        gone = await conversation.purge(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    log.info("retention: %d messages and %d meetings of finished matches deleted", *gone)
    return gone


async def sweep_approved(ctx: dict[str, Any]) -> int:
    """arq cron job: introduce approved matches whose delayed job was lost (Redis down at approval)."""
    async with ctx["pool"].acquire() as conn:
        outbox = await service.introduce_approved(conn, ctx["settings"])
    await mail_tasks.enqueue(ctx["redis"], outbox)
    return len(outbox)


FUNCTIONS = [func(introduce_match, name=service.INTRODUCE_JOB, max_tries=INTRODUCE_TRIES)]
# The message sweep runs every minute: with KOBLE_MESSAGE_EMAIL_MINUTES (15) a batched email waits at most
# that interval plus a minute. The purge runs after profiles' retention (03:15). The approval sweep runs
# every minute: an approval whose job was lost goes out at most ~60 s after its grace period.
CRON_JOBS = [
    cron(remind, minute={5, 35}, second=0),
    cron(notify_messages, second=30),
    cron(sweep_approved, second=45),
    cron(purge_conversations, hour=3, minute=25, second=0),
]
