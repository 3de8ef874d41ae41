"""Worker jobs of the match lifecycle: reminders for matches that sit in a state too long, then staff.

Each reminder goes once however many workers run the job (service.send_reminders says how).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from arq import cron

from service.mail import tasks as mail_tasks
from service.matches import service

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


CRON_JOBS = [cron(remind, minute={5, 35}, second=0)]
