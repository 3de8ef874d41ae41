"""Mapping rounds' JSON route: the one-click unsubscribe of invitation emails (RFC 8058)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

from service.kit.deps import ConnDep, SettingsDep
from service.rounds import service

router = APIRouter(prefix="/api/v1/rounds", tags=["rounds"])


@router.get("/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe_page(token: str) -> Response:
    """A List-Unsubscribe link opened in a browser: the page with a button (a GET changes nothing)."""
    return RedirectResponse(f"/rounds/unsubscribe/{token}", status_code=303)


@router.post("/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe_one_click(token: str, conn: ConnDep, settings: SettingsDep) -> dict[str, str]:
    """The mail client's one-click POST: no reminder for this round (no sign-in)."""
    if not await service.unsubscribe(conn, settings, token):
        raise HTTPException(404, "token: unknown or no longer valid")
    return {"detail": "No more emails about this mapping round"}
