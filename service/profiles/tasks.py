"""Scheduled privacy jobs: hide inactive profiles (with a warning), delete long-inactive ones."""

from __future__ import annotations

import logging
from typing import Any

from service.auth import service as auth
from service.kit.config import Settings
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.profiles import repository

log = logging.getLogger(__name__)


async def apply_retention(ctx: dict[str, Any]) -> dict[str, int]:
    """Hide profiles inactive for the hide interval, delete those past the delete interval."""
    settings: Settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn, conn.transaction():
        deleted = await repository.delete_inactive(conn, settings.retention_delete_months)
        unverified = await repository.delete_unverified(conn, settings.unverified_delete_days)
        await auth.forget_sessions(conn, "participant", [*deleted, *unverified])
        await auth.delete_stale(conn)
        outbox_ids = await _hide_and_warn(conn, settings)
    await mail_tasks.enqueue(ctx.get("redis"), outbox_ids)
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
