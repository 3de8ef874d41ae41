"""Worker jobs of the match lifecycle: reminders for matches that sit in a state too long, then staff.

Each reminder goes once however many workers run the job (service.send_reminders says how).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from arq import cron

from service.mail import tasks as mail_tasks
from service.matches import conversation, service

log = logging.getLogger(__name__)


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


async def purge_conversations(ctx: dict[str, Any], now: dt.datetime | None = None) -> tuple[int, int]:
    """arq cron job: delete messages and meetings of matches finished longer ago than the retention period."""
    async with ctx["pool"].acquire() as conn:
        gone = await conversation.purge(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    log.info("retention: %d messages and %d meetings of finished matches deleted", *gone)
    return gone


# The message sweep runs every minute: with KOBLE_MESSAGE_EMAIL_MINUTES (15) a batched email waits at most
# that interval plus a minute. The purge runs after profiles' retention (03:15).
CRON_JOBS = [
    cron(remind, minute={5, 35}, second=0),
    cron(notify_messages, second=30),
    cron(purge_conversations, hour=3, minute=25, second=0),
]
