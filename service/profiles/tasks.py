"""Scheduled privacy jobs: hide inactive profiles (with a warning), delete long-inactive ones."""

from __future__ import annotations

import logging
from typing import Any

from arq import func
from arq.typing import WorkerCoroutine
from arq.worker import Function

from service.auth import service as auth
from service.kit.config import Settings
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.profiles import repository
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields

log = logging.getLogger(__name__)


async def register_participant(ctx: dict[str, Any], fields: dict[str, Any]) -> None:
    """A registration the web answered at once: stored, or its known address told (profiles.register)."""
    async with ctx["pool"].acquire() as conn:
        await profiles.register(conn, ctx.get("redis"), ctx["settings"], ParticipantFields.model_validate(fields))


async def send_sign_in_link(ctx: dict[str, Any], email: str) -> None:
    """A sign-in request the web answered at once: a link if the address is a participant's."""
    async with ctx["pool"].acquire() as conn:
        await profiles.request_sign_in(conn, ctx.get("redis"), ctx["settings"], email)


# Their arguments hold a registration's fields or an address: no result is kept in Redis afterwards.
FUNCTIONS: list[Function | WorkerCoroutine] = [
    func(register_participant, keep_result=0), func(send_sign_in_link, keep_result=0)]


async def apply_retention(ctx: dict[str, Any]) -> dict[str, int]:
    """Hide profiles inactive for the hide interval, delete those past the delete interval."""
    settings: Settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn, conn.transaction():
        departures = []  # the other party of each open match is told (issue 12, wall 11)
        for participant_id in await repository.inactive_to_delete(conn, settings.retention_delete_months):
            departures += await profiles.depart(conn, settings, participant_id)
        deleted = await repository.delete_inactive(conn, settings.retention_delete_months)
        unverified = await repository.delete_unverified(conn, settings.unverified_delete_days)
        await auth.forget_sessions(conn, "participant", [*deleted, *unverified])
        await auth.delete_stale(conn)
        outbox_ids = await _hide_and_warn(conn, settings)
    await mail_tasks.enqueue(ctx.get("redis"), outbox_ids + departures)
    counts = {"hidden": len(outbox_ids), "deleted": len(deleted), "unverified_deleted": len(unverified)}
    log.info("retention: %s", counts)
    return counts


async def _hide_and_warn(conn: Any, settings: Settings) -> list[int]:
    outbox_ids = []
    for row in await repository.inactive_to_hide(conn, settings.retention_hide_months):
        await repository.hide_inactive(conn, row["id"])
        rendered = mail.render(
            "retention_warning", row["email"], row["language"], name=row["name"],
            link=f"{settings.koble_base_url}/signin",
            delete_months=settings.retention_delete_months - settings.retention_hide_months,
        )
        outbox_ids.append(await mail.queue(conn, row["id"], rendered))
    return outbox_ids
