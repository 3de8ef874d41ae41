"""The arq worker: email delivery and scheduled jobs of every domain, kept alive through Redis outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from arq import cron
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function, Worker, func

from service.auth import tasks as auth_tasks
from service.events import tasks as event_tasks
from service.feed import tasks as feed_tasks
from service.flows import account
from service.kit import database, embedded, logs
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
from service.rounds import tasks as round_tasks

log = logging.getLogger(__name__)
logging.getLogger("arq.worker").addFilter(logs.JobDetailsHidden())
ROUTINE_JOBS = logs.RoutineJobsQuiet()  # named in create_worker: the cron jobs that run every minute or more
logging.getLogger("arq.worker").addFilter(ROUTINE_JOBS)

FUNCTIONS: list[Function | WorkerCoroutine] = [
    func(mail_tasks.deliver_email, timeout=mail_tasks.JOB_TIMEOUT, max_tries=mail_tasks.ARQ_MAX_TRIES),
    *matching_tasks.FUNCTIONS,
    *event_tasks.FUNCTIONS,
    *profile_tasks.FUNCTIONS,
    *auth_tasks.FUNCTIONS,
    *mapping_tasks.FUNCTIONS,
    *matches_tasks.FUNCTIONS,
]
# arq's try limit for the other jobs (embedding has its own).
MAX_TRIES = 8
# Jobs at once per worker, and database connections: two more than jobs, so that an email the SMTP server
# has accepted never waits for a connection to record `sent` (with 4 connections for 10 jobs that wait
# was the duplicate window: p95 23 ms, max 161 ms while emptying a backlog, issue 15).
MAX_JOBS = 10
POOL_SIZE = MAX_JOBS + 2
# Reconnecting after a Redis outage: waits of 0.5 s doubling to 5 s (each try also lets arq retry its
# connection 5 times a second apart, so tries are at most ~10 s apart); a worker that ran this long
# before losing Redis starts again from the shortest wait.
BACKOFF_FIRST, BACKOFF_MAX, BACKOFF_RESET_AFTER = 0.5, 5.0, 60.0


def cron_jobs(settings: Settings) -> list[CronJob]:
    """The scheduled jobs; the outbox sweep every `KOBLE_OUTBOX_SWEEP_INTERVAL_SECONDS`."""
    # unique=True (the default) holds a lock per run, so several workers never run a job twice.
    sweep_seconds = set(range(0, 60, settings.outbox_sweep_interval_seconds))
    return [
        *matching_tasks.CRON_JOBS,
        *review_tasks.CRON_JOBS,
        cron(mail_tasks.sweep_outbox, second=sweep_seconds),
        *matches_tasks.CRON_JOBS,
        *mapping_tasks.CRON_JOBS,
        cron(profile_tasks.apply_retention, hour=3, minute=15, second=0),
        *round_tasks.CRON_JOBS,
        *feed_tasks.CRON_JOBS,
    ]


def wire_hooks() -> None:
    """What domains above matching and profiles add: mapping gives new interests their nearest theme; the
    data download's sections and what deleting an account does to matches (flows.account)."""
    matching_service.on_embedded(mapping.assign_nearest)
    account.install()


async def startup(ctx: dict[str, Any]) -> None:
    """arq's on_startup: open a database pool unless one was handed over."""
    settings: Settings = ctx["settings"]
    if "pool" not in ctx:
        ctx["pool"] = await database.create_pool(embedded.postgres_url(settings), max_size=POOL_SIZE)
        ctx["own_pool"] = True


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq's on_shutdown: close the pool `startup` opened."""
    if ctx.get("own_pool"):
        await ctx["pool"].close()


def create_worker(settings: Settings, redis_url: str, burst: bool = False, **ctx: Any) -> Worker:
    """A worker for this configuration; `ctx` may hand it an existing pool."""
    get_ranker_settings()  # read now: a bad KOBLE_WEIGHTS_FILE stops start-up, not the hourly review job
    wire_hooks()
    jobs = cron_jobs(settings)
    ROUTINE_JOBS.names = frozenset(job.name for job in jobs if job.minute is None)
    return Worker(
        functions=FUNCTIONS,
        cron_jobs=jobs,
        redis_settings=redis_settings(redis_url),
        ctx={"settings": settings, **ctx},
        on_startup=startup,
        on_shutdown=shutdown,
        max_tries=MAX_TRIES,
        max_jobs=MAX_JOBS,
        burst=burst,
        handle_signals=False,  # the Supervisor drains on SIGTERM (arq's own handler would cancel jobs)
        poll_delay=0.2,
    )


class Supervisor:
    """Runs a worker until stopped: through Redis outages (reconnects with backoff, logging each try),
    draining running jobs on stop. `state` is what /healthz reports: starting, running, reconnecting,
    stopping, stopped or dead (an unexpected error: `on_death` is called, the process should exit)."""

    def __init__(
        self, settings: Settings, redis_url: str, on_death: Callable[[], None] | None = None, **ctx: Any
    ) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.on_death = on_death
        self.ctx = ctx
        self.state = "starting"
        self.worker: Worker | None = None
        self.stopping = False
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        """Run workers one after the other until `stop`; raises what killed the last one if it died."""
        try:
            await self._with_pool()
        except Exception:
            self.state = "dead"
            log.exception("the worker stopped for good")
            if self.on_death is not None:
                self.on_death()
            raise
        self.state = "stopped"

    async def _with_pool(self) -> None:
        own_pool = "pool" not in self.ctx
        if own_pool:
            self.ctx["pool"] = await database.create_pool(embedded.postgres_url(self.settings), max_size=POOL_SIZE)
        try:
            await self._loop()
        finally:
            if own_pool:
                await self.ctx.pop("pool").close()

    async def _loop(self) -> None:
        attempt, wait = 0, BACKOFF_FIRST
        while not self.stopping:
            started = time.monotonic()
            try:
                await self._run_once()
            except mail_tasks.REDIS_ERRORS as exc:
                if self.stopping:
                    break
                if time.monotonic() - started > BACKOFF_RESET_AFTER:
                    attempt, wait = 0, BACKOFF_FIRST
                attempt += 1
                self.state = "reconnecting"
                log.warning("worker lost Redis (%s: %s); reconnecting in %.1f s (attempt %d)",
                            type(exc).__name__, exc, wait, attempt)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopped.wait(), wait)
                wait = min(wait * 2, BACKOFF_MAX)

    async def _run_once(self) -> None:
        """One worker's life: until stop (returns) or a lost connection (raises)."""
        self.worker = worker = create_worker(self.settings, self.redis_url, **self.ctx)
        worker.on_startup = self._connected  # arq calls it once Redis answered
        running = asyncio.create_task(worker.async_run())
        try:
            while not running.done():
                await asyncio.wait({running}, timeout=0.2)
                if self.stopping:
                    await self._drain(worker, self.settings.worker_drain_seconds)
                    running.cancel()
                    await asyncio.wait({running})
            with contextlib.suppress(asyncio.CancelledError):
                running.result()
        finally:
            await self._discard(worker, 0 if self.stopping else self.settings.worker_drain_seconds)

    async def _connected(self, ctx: dict[str, Any]) -> None:
        await startup(ctx)
        if self.state != "stopping":
            self.state = "running"
        log.info("worker connected to Redis")

    async def _discard(self, worker: Worker, drain_seconds: float) -> None:
        """Let the worker's running jobs finish (up to `drain_seconds`), cancel the rest, drop its connections."""
        await self._drain(worker, drain_seconds)
        worker.handle_sig(signal.SIGTERM)  # cancels what is left: a cancelled email is given back (pending) at once
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        redis = worker.ctx.get("redis")
        if redis is not None:
            with contextlib.suppress(*mail_tasks.REDIS_ERRORS):
                await redis.aclose(close_connection_pool=True)

    @staticmethod
    async def _drain(worker: Worker, seconds: float) -> None:
        worker.allow_pick_jobs = False
        deadline = time.monotonic() + seconds
        while any(not task.done() for task in worker.tasks.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        """Ask the worker to stop: it takes no new job, lets running ones finish for up to
        KOBLE_WORKER_DRAIN_SECONDS, then cancels the rest; the task running `run` ends."""
        self.stopping = True
        self.stopped.set()
        if self.state != "dead":
            self.state = "stopping"
