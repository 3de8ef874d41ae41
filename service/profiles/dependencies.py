"""FastAPI dependencies of the participant: the signed-in participant's record, for pages and the API."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import Depends, HTTPException, Path, Request

from service.auth import service as auth
from service.auth.dependencies import IdentityDep
from service.kit.deps import ConnDep
from service.kit.errors import KobleError
from service.profiles import service as profiles


async def get_participant(request: Request, conn: ConnDep, who: IdentityDep) -> asyncpg.Record | None:
    """The signed-in participant, or None (a deleted account ends its session)."""
    if who is None or who.kind != "participant":
        return None
    row = await profiles.by_id(conn, who.subject_id)
    if row is None:
        await auth.sign_out(conn, request)
    return row


async def participant_or_404(conn: asyncpg.Connection, external_id: str) -> asyncpg.Record:
    """The participant with this external id; 404 naming the field otherwise."""
    row = await profiles.by_external_id(conn, external_id)
    if row is None:
        raise HTTPException(404, f"external_id: no participant with id {external_id!r}")
    return row


class SignInRequired(KobleError):
    """No signed-in participant: browsers are sent to sign in, the API answers 401."""

    status = 401
    template = "Sign in first: no valid session cookie"
    redirect_to = "/signin"


async def require_participant(participant: Annotated[Any, Depends(get_participant)]) -> asyncpg.Record:
    """The signed-in participant; pages redirect to sign-in otherwise."""
    if participant is None:
        raise SignInRequired
    return participant


async def require_api_participant(participant: Annotated[Any, Depends(get_participant)]) -> asyncpg.Record:
    """The signed-in participant for the JSON API (401 otherwise)."""
    if participant is None:
        raise SignInRequired
    return participant


OptionalParticipant = Annotated[asyncpg.Record | None, Depends(get_participant)]
Participant = Annotated[asyncpg.Record, Depends(require_participant)]
ApiParticipant = Annotated[asyncpg.Record, Depends(require_api_participant)]


# A participant named by an integration's stable id, in a path (the participants and suggestions APIs).
# No blank ends and no control characters (those are refused before routing, kit.security.InputGuard).
EXTERNAL_ID_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
ExternalId = Annotated[
    str,
    Path(
        min_length=1, max_length=100, pattern=EXTERNAL_ID_PATTERN,
        description="The integration's stable id of the participant (as `external_id` in imports).",
        examples=["ntnu-stud-48213"],
    ),
]
