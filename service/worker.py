"""The arq worker: email delivery and scheduled jobs of every domain."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker

from service.kit import database, embedded
from service.kit.config import Settings
from service.kit.jobs import redis_settings
from service.mail import tasks as mail_tasks
from service.mapping import service as mapping
from service.mapping import tasks as mapping_tasks
from service.matches import tasks as matches_tasks
from service.matching import service as matching_service
from service.matching import tasks as matching_tasks
from service.matching.settings import get_ranker_settings
from service.profiles import tasks as profile_tasks
from service.review import tasks as review_tasks

FUNCTIONS: list[Function | WorkerCoroutine] = [
    mail_tasks.deliver_email, *matching_tasks.FUNCTIONS, *mapping_tasks.FUNCTIONS]
CRON_JOBS = [
    *matching_tasks.CRON_JOBS,
    *review_tasks.CRON_JOBS,
    # unique=True (the default) holds a lock per run, so several workers never run a job twice.
    cron(mail_tasks.sweep_outbox, second=30),
    *matches_tasks.CRON_JOBS,
    *mapping_tasks.CRON_JOBS,
    cron(profile_tasks.apply_retention, hour=3, minute=15, second=0),
]


def wire_hooks() -> None:
    """What domains above matching do after an embedding: mapping gives new interests their nearest theme."""
    matching_service.on_embedded(mapping.assign_nearest)


async def startup(ctx: dict[str, Any]) -> None:
    """arq's on_startup: open a database pool unless one was handed over."""
    settings: Settings = ctx["settings"]
    if "pool" not in ctx:
        ctx["pool"] = await database.create_pool(embedded.postgres_url(settings), max_size=4)
        ctx["own_pool"] = True


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq's on_shutdown: close the pool `startup` opened."""
    if ctx.get("own_pool"):
        await ctx["pool"].close()


def create_worker(settings: Settings, redis_url: str, burst: bool = False, **ctx: Any) -> Worker:
    """A worker for this configuration; `ctx` may hand it an existing pool."""
    get_ranker_settings()  # read now: a bad KOBLE_WEIGHTS_FILE stops start-up, not the hourly review job
    wire_hooks()
    return Worker(
        functions=FUNCTIONS,
        cron_jobs=CRON_JOBS,
        redis_settings=redis_settings(redis_url),
        ctx={"settings": settings, **ctx},
        on_startup=startup,
        on_shutdown=shutdown,
        max_tries=mail_tasks.MAX_TRIES,
        burst=burst,
        handle_signals=False,
        poll_delay=0.2,
    )
