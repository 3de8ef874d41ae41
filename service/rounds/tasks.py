"""Worker jobs of mapping rounds: one reminder per invitation after the round's `reminder_days`.

Each reminder goes once however many workers run the job (service.send_reminders claims it in the
transaction that writes the email).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from arq import cron

from service.mail import tasks as mail_tasks
from service.rounds import service

log = logging.getLogger(__name__)


async def remind_rounds(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """arq cron job: write and deliver the reminders that are due; returns how many."""
    async with ctx["pool"].acquire() as conn:
        outbox = await service.send_reminders(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    await mail_tasks.enqueue(ctx["redis"], outbox)
    if outbox:
        log.info("mapping round reminders: %d emails", len(outbox))
    return len(outbox)


# Hourly, in working hours' worth of granularity: a reminder a few minutes late changes nothing.
CRON_JOBS = [cron(remind_rounds, minute=50, second=0)]
