"""Worker jobs of the feed: the weekly digest "new people who fit you" (service.feed.digest says how)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from arq import cron

from service.feed import digest
from service.mail import tasks as mail_tasks

log = logging.getLogger(__name__)


async def send_digests(ctx: dict[str, Any], now: dt.datetime | None = None) -> int:
    """arq cron job: write the due digests to the outbox and hand them to delivery; returns emails written."""
    async with ctx["pool"].acquire() as conn:
        outbox = await digest.send_due(conn, ctx["settings"], now or dt.datetime.now(dt.UTC))
    await mail_tasks.enqueue(ctx["redis"], outbox)
    if outbox:
        log.info("feed digests: %d emails", len(outbox))
    return len(outbox)


# Hourly: a participant's digest goes within an hour of being due (a week after the last one).
CRON_JOBS = [cron(send_digests, minute=50, second=0)]
