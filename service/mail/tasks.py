"""Worker jobs that deliver the outbox: one job per email, plus a sweep for lost jobs and dead workers.

The outbox row is the record, the job queue only a fast path (docs/architecture.md, "Email delivery"):
1. claim: the row becomes `sending` with a claim time, committed before SMTP is touched;
2. send over SMTP; as soon as the server accepts (its 250 after DATA), record `sent`, then QUIT;
3. on a refusal: back to `pending`, due again after a capped exponential delay, or `failed` after
   `KOBLE_EMAIL_MAX_TRIES` tries.
A worker killed during 2 leaves the row `sending`; the SMTP server never said 250, so nothing was
delivered, and once the lease passes the sweep hands it to another worker under a new job id. Only a
kill between the server's 250 and the commit of `sent` (one UPDATE; bench/fault_drills.py measures it)
makes one duplicate, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiosmtplib
import asyncpg
from arq import Retry
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from redis.exceptions import RedisError

from service.kit.config import Settings
from service.kit.mailer import SmtpConfig, send
from service.mail import repository
from service.mail.service import to_message

log = logging.getLogger(__name__)

SWEEP_LIMIT = 500
LINK = re.compile(r"https?://\S+")
# arq's time limit of one email job. Short on purpose: arq keeps a started job's in-progress marker for
# the longest time limit of the worker's functions + 10 s; the outbox does not wait for it (the sweep
# hands an email over under a new job id), but a short limit frees a hung send. SMTP's own timeout is 30 s.
JOB_TIMEOUT = 60
# arq's own try counter never stops an email: the outbox's attempts (KOBLE_EMAIL_MAX_TRIES) do.
ARQ_MAX_TRIES = 1000
REDIS_ERRORS = (OSError, ConnectionError, RedisError)


def job_id(outbox_id: int, handoff: int | str = 0) -> str:
    """arq job id of an email: one queued job per email and hand-off, however often it is enqueued.

    Each hand-off by the sweep (or a staff retry) needs a new id, as the old job may still sit in arq's
    queue, results or in-progress markers; the outbox claim keeps it to one send at a time.
    """
    return f"email:{outbox_id}" if not handoff else f"email:{outbox_id}:{handoff}"


async def enqueue(redis: ArqRedis | None, outbox_ids: list[int], again: int | str = 0) -> int:
    """Ask the worker to deliver; how many jobs the queue accepted (an id it still holds is refused).

    If Redis is unreachable the error is logged and the sweep delivers them later (the outbox is the record).
    """
    if redis is None:
        return 0
    accepted = 0
    for outbox_id in outbox_ids:
        try:
            job = await redis.enqueue_job("deliver_email", outbox_id, _job_id=job_id(outbox_id, again))
        except REDIS_ERRORS as exc:
            log.warning("could not enqueue email %s (%s); the sweep will", outbox_id, type(exc).__name__)
            break
        accepted += job is not None
    return accepted


def retry_delay(settings: Settings, attempts: int) -> float:
    """Seconds before try `attempts + 1`: base, 2x, 4x, ... capped (5 s ... 600 s by default)."""
    return float(min(settings.email_retry_seconds * 2 ** (attempts - 1), settings.email_retry_max_seconds))


async def deliver_email(ctx: dict[str, Any], outbox_id: int) -> str:
    """Send one outbox email, or log it when no SMTP server is configured."""
    settings: Settings = ctx["settings"]
    pool: asyncpg.Pool = ctx["pool"]
    async with pool.acquire() as conn:
        row = await repository.claim(conn, outbox_id, settings.outbox_lease_seconds)
    if row is None:
        return "skipped"
    if not settings.smtp_url:
        _log_unsent(row)
        return await _finish(pool, outbox_id, "logged", None)
    try:
        error = await _try_send(settings, row, pool)
    except asyncio.CancelledError:
        # The worker is stopping: give the claim back so that the next worker sends it now, not after the lease.
        await asyncio.shield(_release(pool, outbox_id))
        raise
    if error is None:
        return "sent"
    return await _refused(settings, pool, row, error)


async def _refused(settings: Settings, pool: asyncpg.Pool, row: Any, error: str) -> str:
    if row["attempts"] >= settings.email_max_tries:
        return await _finish(pool, row["id"], "failed", error)
    delay = retry_delay(settings, row["attempts"])
    await _finish(pool, row["id"], "pending", error, delay)
    raise Retry(defer=delay)


async def _finish(pool: asyncpg.Pool, outbox_id: int, status: str, error: str | None, retry_after: float = 0) -> str:
    async with pool.acquire() as conn:
        await repository.finish(conn, outbox_id, status, error, retry_after)
    return status


async def _release(pool: asyncpg.Pool, outbox_id: int) -> None:
    async with pool.acquire() as conn:
        await repository.release(conn, outbox_id)


async def _try_send(settings: Settings, row: Any, pool: asyncpg.Pool) -> str | None:
    """None once the server accepted the email (recorded `sent` before QUIT), else the error."""
    # Whoever wrote the email decided whether it can be unsubscribed from (outbox.unsubscribe_url).
    message = to_message(settings.email_from, row, row["unsubscribe_url"])

    async def accepted() -> None:
        await _finish(pool, row["id"], "sent", None)

    try:
        await send(SmtpConfig.from_url(settings.smtp_url or ""), message, accepted)
    except (aiosmtplib.SMTPException, OSError, ValueError, UnicodeError) as exc:
        # ValueError/UnicodeError: a header the SMTP library refuses (e.g. a line break in a name) fails
        # the try like a refusal, so it ends `failed` with a reason, never stuck in `sending`.
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def _log_unsent(row: Any) -> None:
    # The operator needs the links to try the demo; the address and the body stay out of the log.
    links = " ".join(LINK.findall(row["body_text"]))
    log.warning("email %s not sent (SMTP_URL unset): %r %s", row["id"], row["subject"], links)


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Hand to the queue again, each under a new job id, the emails whose job is lost: pending emails
    overdue whose job is not waiting in the queue (lost enqueue, or a worker that died before claiming),
    and claims of dead workers. Returns how many jobs the queue accepted."""
    settings: Settings = ctx["settings"]
    pool: asyncpg.Pool = ctx["pool"]
    async with pool.acquire() as conn:
        overdue = await repository.overdue(conn, settings.outbox_sweep_after_seconds, SWEEP_LIMIT)
        stale = await repository.stale_claims(conn, settings.outbox_lease_seconds, SWEEP_LIMIT)
    waiting = await waiting_in_queue(ctx["redis"], [job_id(i, _handoff(n)) for i, n in overdue])
    lost = [outbox_id for (outbox_id, _), queued in zip(overdue, waiting, strict=True) if not queued]
    for outbox_id, _ in stale:
        log.warning("email %s was claimed by a worker that stopped; sending it again", outbox_id)
    handed = await _hand_off(pool, ctx["redis"], lost + [outbox_id for outbox_id, _ in stale])
    if lost or stale:
        log.warning("outbox sweep: %d lost and %d stale emails, %d handed to the queue", len(lost), len(stale), handed)
    return handed


def _handoff(count: int) -> str:
    return f"h{count}" if count else ""


async def waiting_in_queue(redis: ArqRedis, job_ids: list[str]) -> list[bool]:
    """Whether each job waits in arq's queue (queued or deferred, not started): it will run by itself.

    A started job whose email is still pending long after it was due belongs to a worker that died
    before claiming it; arq would hold its id for the in-progress marker's life (up to an hour).
    """
    if not job_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job in job_ids:
            pipe.exists(job_key_prefix + job)
            pipe.exists(in_progress_key_prefix + job)
        found = await pipe.execute()
    return [bool(exists) and not started for exists, started in zip(found[0::2], found[1::2], strict=True)]


async def _hand_off(pool: asyncpg.Pool, redis: ArqRedis, outbox_ids: list[int]) -> int:
    if not outbox_ids:
        return 0
    async with pool.acquire() as conn:
        handoffs = await repository.hand_off(conn, outbox_ids)
    handed = 0
    for outbox_id, count in handoffs:
        accepted = await enqueue(redis, [outbox_id], again=_handoff(count))
        if not accepted:
            break  # Redis is gone again: the next sweep tries (the row stays overdue)
        handed += accepted
    return handed
