"""Worker jobs that deliver the outbox: one job per email, plus a sweep for lost enqueues and dead workers.

Delivery is at-least-once with one narrow duplicate window, recognisable by the fixed Message-ID:
1. claim: the row becomes `sending` with a claim time, committed before SMTP is touched;
2. send over SMTP;
3. record `sent` (or back to `pending` with a retry, or `failed` after MAX_TRIES).
A worker killed during 2 leaves the row `sending`; the SMTP server never said 250, so nothing was
delivered, and once the lease passes the sweep hands it to another worker. Only a kill between the
server's 250 and step 3 (milliseconds) makes one duplicate, with the same Message-ID.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import aiosmtplib
import asyncpg
from arq import Retry
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from service.kit import metrics
from service.kit.config import Settings
from service.kit.mailer import SmtpConfig, send
from service.mail import repository
from service.mail.service import to_message

log = logging.getLogger(__name__)

MAX_TRIES = 8
SWEEP_LIMIT = 500
LINK = re.compile(r"https?://\S+")


def job_id(outbox_id: int, again: str | None = None) -> str:
    """arq job id of an email: one queued job per email however often it is enqueued.

    Sending again (`again`: after a dead worker, or a staff retry) needs a new id, as the old job may
    still sit in arq's queue or results; the outbox claim keeps it to one send at a time.
    """
    return f"email:{outbox_id}" if again is None else f"email:{outbox_id}:{again}"


async def enqueue(redis: ArqRedis | None, outbox_ids: list[int], again: str | None = None) -> int:
    """Ask the worker to deliver; if Redis is unreachable the sweep delivers them later. How many were
    handed over."""
    if redis is None:
        return 0
    for done, outbox_id in enumerate(outbox_ids):
        try:
            await redis.enqueue_job("deliver_email", outbox_id, _job_id=job_id(outbox_id, again))
        except (OSError, ConnectionError, RedisError) as exc:
            log.warning("could not enqueue email %s (%s); the sweep will", outbox_id, type(exc).__name__)
            return done
    return len(outbox_ids)


async def deliver_email(ctx: dict[str, Any], outbox_id: int) -> str:
    """Send one outbox email, or log it when no SMTP server is configured."""
    settings: Settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        row = await repository.claim(conn, outbox_id, settings.outbox_lease_seconds)
    if row is None:
        return "skipped"
    if not settings.smtp_url:
        _log_unsent(row)
        return await _finish(ctx["pool"], outbox_id, "logged", None)
    error = await _try_send(settings, row)
    status = "sent" if error is None else ("failed" if row["attempts"] >= MAX_TRIES else "pending")
    await _finish(ctx["pool"], outbox_id, status, error)
    metrics.count_email(status)
    if status == "pending":
        # Back off 5 s, 20 s, 45 s ... so a restarting mail server is not hammered.
        raise Retry(defer=settings.email_retry_seconds * row["attempts"] ** 2)
    return status


async def _finish(pool: asyncpg.Pool, outbox_id: int, status: str, error: str | None) -> str:
    async with pool.acquire() as conn:
        await repository.finish(conn, outbox_id, status, error)
    return status


async def _try_send(settings: Settings, row: Any) -> str | None:
    # Whoever wrote the email decided whether it can be unsubscribed from (outbox.unsubscribe_url).
    message = to_message(settings.email_from, row, row["unsubscribe_url"])
    try:
        await send(SmtpConfig.from_url(settings.smtp_url or ""), message)
    except (aiosmtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def _log_unsent(row: Any) -> None:
    # The operator needs the links to try the demo; the address and the body stay out of the log.
    links = " ".join(LINK.findall(row["body_text"]))
    log.warning("email %s not sent (SMTP_URL unset): %r %s", row["id"], row["subject"], links)


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Re-enqueue pending emails whose enqueue was lost (Redis down) and emails of dead workers; how
    many were handed over (the rest wait for the next sweep)."""
    settings: Settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        ids = await repository.pending_ids(conn, settings.outbox_sweep_after_seconds, SWEEP_LIMIT)
        stale = await repository.stale_claims(conn, settings.outbox_lease_seconds, SWEEP_LIMIT)
    handed = await enqueue(ctx["redis"], ids)
    for outbox_id, attempts in stale:
        log.warning("email %s was claimed by a worker that stopped; sending it again", outbox_id)
        handed += await enqueue(ctx["redis"], [outbox_id], again=f"take-over-{attempts}")
    return handed
