"""Follow-up JSON API under /api/v1: move a match, read it with its timeline, one-click unsubscribe."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import RedirectResponse, Response

from service.auth.dependencies import ApiStaff
from service.followup.schemas import MatchOut, TimelineOut, TransitionIn
from service.kit import audit
from service.kit.api import INVALID, FieldNamingRoute, Message, error_doc
from service.kit.deps import ConnDep, RedisDep, SettingsDep
from service.kit.inputs import MAX_ID
from service.matches import service
from service.matches.lifecycle import MatchNotFound, next_states

# JSON-only routes that name the field at fault (a body that is not JSON: 415; not UTF-8: 422 on `body`).
router = APIRouter(prefix="/api/v1", tags=["matches"], route_class=FieldNamingRoute)
MatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="The match's id")]


ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_doc(Message, "Neither a bearer token nor a staff session"),
    403: error_doc(Message, "Wrong bearer token, or a participant's session"),
    404: error_doc(Message, "No match with this id"),
    422: INVALID,
}


@router.get("/matches/{match_id}", response_model=MatchOut, responses=ERRORS)
async def get_match(match_id: MatchId, actor: ApiStaff, conn: ConnDep) -> MatchOut:
    """A match with its timeline (transitions and emails)."""
    return await _match_out(conn, match_id)


@router.post(
    "/matches/{match_id}/transitions", response_model=MatchOut,
    responses={**ERRORS, 409: {"description": "Not allowed from the current state (named in the answer)"}},
)
async def move_match(
    match_id: MatchId, body: TransitionIn, actor: ApiStaff, conn: ConnDep, redis: RedisDep, settings: SettingsDep
) -> MatchOut:
    """Move a match (staff rights); 409 names the current state when the move is not allowed."""
    async with conn.transaction():
        if body.to == "approved":
            outbox = await service.approve(conn, settings, match_id, actor, body.comment)
        else:
            _, outbox = await service.transition(conn, settings, match_id, body.to, actor, body.reason, body.comment)
        await audit.record(conn, actor, "match.transition", match_id=match_id, details={"to": body.to})
    await service.deliver(redis, outbox)
    return await _match_out(conn, match_id)


async def _match_out(conn: ConnDep, match_id: int) -> MatchOut:
    row = await service.by_id(conn, match_id)
    if row is None:
        raise MatchNotFound(match_id)
    timeline = [TimelineOut(**vars(entry)) for entry in await service.timeline(conn, match_id)]
    fields = {key: row[key] for key in MatchOut.model_fields if key not in ("next_states", "timeline")}
    return MatchOut(**fields, next_states=list(next_states(row["state"])), timeline=timeline)


@router.get("/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe_page(token: str) -> Response:
    """A List-Unsubscribe link opened in a browser: the page with a button (a GET changes nothing)."""
    return RedirectResponse(f"/unsubscribe/{token}", status_code=303)


@router.post("/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe_one_click(token: str, conn: ConnDep, settings: SettingsDep) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe from reminder emails (the mail client POSTs, no sign-in)."""
    if not await service.unsubscribe(conn, settings, token):
        raise HTTPException(404, "token: unknown or no longer valid")
    return {"detail": "Reminder emails are off"}
