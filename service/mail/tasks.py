"""Worker jobs that deliver the outbox: one job per email, plus a sweep for lost enqueues."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiosmtplib
from arq import Retry
from arq.connections import ArqRedis

from service.config import Settings
from service.mail import repository
from service.mail.service import SmtpConfig, send, to_message

log = logging.getLogger(__name__)

MAX_TRIES = 8
LINK = re.compile(r"https?://\S+")


def job_id(outbox_id: int) -> str:
    """arq job id of an email: one queued job per email however often it is enqueued."""
    return f"email:{outbox_id}"


async def enqueue(redis: ArqRedis | None, outbox_ids: list[int]) -> None:
    """Ask the worker to deliver; if Redis is unreachable the sweep delivers them later."""
    if redis is None:
        return
    for outbox_id in outbox_ids:
        try:
            await redis.enqueue_job("deliver_email", outbox_id, _job_id=job_id(outbox_id))
        except (OSError, ConnectionError) as exc:
            log.warning("could not enqueue email %s (%s); the sweep will", outbox_id, type(exc).__name__)


async def deliver_email(ctx: dict[str, Any], outbox_id: int) -> str:
    """Send one outbox email, or log it when no SMTP server is configured."""
    settings: Settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn, conn.transaction():
        row = await repository.claim(conn, outbox_id)
        if row is None:
            return "skipped"
        if not settings.smtp_url:
            _log_unsent(row)
            await repository.mark(conn, outbox_id, "logged", None)
            return "logged"
        error = await _try_send(settings, row)
        final = ctx.get("job_try", 1) >= MAX_TRIES
        status = "sent" if error is None else ("failed" if final else "pending")
        await repository.mark(conn, outbox_id, status, error)
    if status == "pending":
        # Back off 5 s, 20 s, 45 s ... so a restarting mail server is not hammered.
        raise Retry(defer=5 * ctx.get("job_try", 1) ** 2)
    return status


async def _try_send(settings: Settings, row: Any) -> str | None:
    try:
        await send(SmtpConfig.from_url(settings.smtp_url or ""), to_message(settings.email_from, row))
    except (aiosmtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None


def _log_unsent(row: Any) -> None:
    # The operator needs the links to try the demo; the address and the body stay out of the log.
    links = " ".join(LINK.findall(row["body_text"]))
    log.warning("email %s not sent (SMTP_URL unset): %r %s", row["id"], row["subject"], links)


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Re-enqueue pending emails older than a minute (enqueue lost while Redis was down)."""
    async with ctx["pool"].acquire() as conn:
        ids = await repository.pending_ids(conn, older_than_seconds=60, limit=500)
    await enqueue(ctx["redis"], ids)
    return len(ids)
