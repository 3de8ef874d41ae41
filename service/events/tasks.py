"""Worker jobs of event days: a scheduler run longer than a page should wait for."""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis

from service.events import service

log = logging.getLogger(__name__)
# Staff wait on the page for runs up to this long; longer runs (the 60 s for 500 attendees)
# go to the worker, and the event page shows the result when it is stored.
INLINE_SECONDS = 10.0


def job_id(event_id: int) -> str:
    """One queued scheduler run per event, however often staff press the button."""
    return f"event-schedule:{event_id}"


async def enqueue_schedule(redis: ArqRedis, event_id: int) -> bool:
    """Ask the worker to run the scheduler; False if a run of this event is already queued."""
    return await redis.enqueue_job("schedule_event", event_id, _job_id=job_id(event_id)) is not None


async def schedule_event(ctx: dict[str, Any], event_id: int) -> int:
    """arq job: run the scheduler for an event and store the result; returns the meetings placed."""
    async with ctx["pool"].acquire() as conn:
        result = await service.schedule(conn, event_id)
    log.info("event %s scheduled: %d meetings, objective %.2f of at most %.2f in %.1f s", event_id,
             len(result.assignments), result.objective, result.upper_bound, result.seconds)
    return len(result.assignments)


FUNCTIONS = [schedule_event]
