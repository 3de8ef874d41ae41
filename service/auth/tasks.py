"""Worker jobs of sign-in: the decision behind a staff sign-in request, made off the request's clock."""

from __future__ import annotations

from typing import Any

from arq import func
from arq.typing import WorkerCoroutine
from arq.worker import Function

from service.auth import service as auth


async def send_staff_sign_in_link(ctx: dict[str, Any], email: str) -> None:
    """A staff sign-in request the web answered at once: a link if the address is an active staff member's."""
    async with ctx["pool"].acquire() as conn:
        await auth.request_staff_sign_in(conn, ctx.get("redis"), ctx["settings"], email)


# The argument is an address: no result is kept in Redis afterwards.
FUNCTIONS: list[Function | WorkerCoroutine] = [func(send_staff_sign_in_link, keep_result=0)]
