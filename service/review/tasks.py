"""Worker jobs of the review domain: proposing the ranker's best pairs to staff (staff-first mode).

The worker's ctx has `settings` and `pool` (service.worker). Register `CRON_JOBS`.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron

from service.kit.config import Settings
from service.review import service

log = logging.getLogger(__name__)
# Ranking everyone takes minutes on large data sets; arq's default timeout is 300 s.
JOB_TIMEOUT = 3600


async def propose_matches(ctx: dict[str, Any]) -> int:
    """arq cron: store new suggested pairs for staff to review (only in staff-first mode); returns how many."""
    settings: Settings = ctx["settings"]
    if settings.match_mode != "staff_first":
        return 0
    async with ctx["pool"].acquire() as conn:
        created = await service.propose_matches(conn, settings, settings.review_propose_k)
    log.info("proposed %d new pairs for review", created)
    return created


# unique=True (arq's default for cron) holds a lock per run, so several workers never propose twice.
CRON_JOBS = [cron(propose_matches, minute={20}, second=0, timeout=JOB_TIMEOUT, unique=True)]
