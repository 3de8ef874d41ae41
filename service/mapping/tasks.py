"""Worker jobs of mapping: the nightly recomputation of the themes, and one on demand (staff's button).

The worker's ctx has `settings` and `pool` (service.worker). Register `FUNCTIONS` and `CRON_JOBS`.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron, func
from arq.connections import ArqRedis

from service.kit.config import Settings
from service.mapping import service
from service.matching import service as matching

log = logging.getLogger(__name__)
JOB = "recompute_themes"
# 10,000 participants (~25,000 interests) take well under a minute (bench/themes.py); room for more.
JOB_TIMEOUT = 1800


async def recompute_themes(ctx: dict[str, Any]) -> dict[str, float]:
    """arq job: recompute the themes and the map's figures with the configured encoder's vectors."""
    settings: Settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        result = await service.recompute(conn, matching.model_name(settings))
    return result.as_dict()


async def nightly(ctx: dict[str, Any]) -> dict[str, float]:
    """arq cron: the nightly recomputation."""
    return await recompute_themes(ctx)


async def enqueue_recompute(redis: ArqRedis | None) -> bool:
    """Queue a recomputation now (staff's button); False without Redis. One job id: a second click
    while one is queued adds nothing (arq drops a job whose id is already queued)."""
    if redis is None:
        return False
    try:
        await redis.enqueue_job(JOB, _job_id=JOB)
        return True
    except (OSError, ConnectionError) as exc:
        log.warning("could not queue the themes' recomputation (%s)", type(exc).__name__)
        return False


FUNCTIONS = [func(recompute_themes, name=JOB, timeout=JOB_TIMEOUT, max_tries=1)]
# unique=True (arq's default for cron) holds a lock per run, so several workers never run it twice.
CRON_JOBS = [cron(nightly, hour={2}, minute={40}, second=0, timeout=JOB_TIMEOUT, unique=True)]
