"""FastAPI dependencies as Annotated aliases: settings, database, Redis, the signed-in participant."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from arq.connections import ArqRedis
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.kit.audit import Actor
from service.kit.config import Settings
from service.kit.security import RateLimiter
from service.matching.cache import SuggestionCache


@dataclass
class Resources:
    """What the app creates in its lifespan and every request may use."""

    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis
    limiter: RateLimiter
    suggestion_cache: SuggestionCache | None = None  # None when KOBLE_SUGGESTION_CACHE_ENTRIES is 0


def get_resources(request: Request) -> Resources:
    """The app's resources, created in lifespan."""
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return get_resources(request).settings


async def get_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for the length of the request."""
    async with get_resources(request).pool.acquire() as conn:
        yield conn


def get_redis(request: Request) -> ArqRedis:
    """The shared Redis connection (job queue)."""
    return get_resources(request).redis


async def get_participant(
    request: Request, conn: Annotated[asyncpg.Connection, Depends(get_conn)]
) -> asyncpg.Record | None:
    """The signed-in participant, or None (a deleted account ends its sessions)."""
    from service.profiles import repository as profiles_repository

    participant_id = request.session.get("participant_id")
    if not isinstance(participant_id, int):
        return None
    row = await profiles_repository.by_id(conn, participant_id)
    if row is None:
        request.session.clear()
    return row


async def participant_or_404(conn: asyncpg.Connection, external_id: str) -> asyncpg.Record:
    """The participant with this external id; 404 naming the field otherwise."""
    from service.profiles import repository as profiles_repository

    row = await profiles_repository.by_external_id(conn, external_id)
    if row is None:
        raise HTTPException(404, f"external_id: no participant with id {external_id!r}")
    return row


class SignInRequired(Exception):
    """Raised by pages that need a signed-in participant; answered with a redirect to sign-in."""


async def require_participant(participant: Annotated[Any, Depends(get_participant)]) -> asyncpg.Record:
    """The signed-in participant; pages redirect to sign-in otherwise."""
    if participant is None:
        raise SignInRequired
    return participant


async def require_api_participant(participant: Annotated[Any, Depends(get_participant)]) -> asyncpg.Record:
    """The signed-in participant for the JSON API (401 otherwise)."""
    if participant is None:
        raise HTTPException(status_code=401, detail="Sign in first: no valid session cookie")
    return participant


_bearer = HTTPBearer(auto_error=False, description="KOBLE_API_TOKEN, set by the operator")


def require_api_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Integration access (docs/contracts.md §3): the operator's bearer token, compared in constant time."""
    token = settings.koble_api_token
    if credentials is None:
        raise HTTPException(401, "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not token or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(403, "Invalid bearer token")


class StaffSignInRequired(Exception):
    """Raised by staff pages for a visitor who is not signed in; answered with the staff sign-in page."""


async def get_staff(
    request: Request, conn: Annotated[asyncpg.Connection, Depends(get_conn)]
) -> asyncpg.Record | None:
    """The signed-in Bright House staff member, or None (a disabled account ends its sessions)."""
    from service.review import repository as review_repository

    staff_id = request.session.get("staff_id")
    if not isinstance(staff_id, int):
        return None
    row = await review_repository.staff_by_id(conn, staff_id)
    if row is None:
        request.session.pop("staff_id", None)
    return row


async def require_staff(request: Request, staff: Annotated[Any, Depends(get_staff)]) -> asyncpg.Record:
    """A signed-in staff member; a signed-in participant gets 403, anyone else the staff sign-in."""
    if staff is not None:
        return staff
    if request.session.get("participant_id") is not None:
        raise HTTPException(403, "This page is for Bright House staff only")
    raise StaffSignInRequired


async def require_admin(staff: Annotated[asyncpg.Record, Depends(require_staff)]) -> asyncpg.Record:
    """A signed-in staff member with the admin role (403 for reviewers)."""
    if staff["role"] != "admin":
        raise HTTPException(403, "Only administrators can do this")
    return staff


def require_api_staff(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    staff: Annotated[Any, Depends(get_staff)],
) -> Actor:
    """Reviewer rights on the API: the operator's bearer token (docs/contracts.md §3) or a staff session."""
    if credentials is not None:
        require_api_token(settings, credentials)
        return Actor.staff(None, "api token")
    if staff is not None:
        return Actor.staff(staff["id"], staff["email"])
    if request.session.get("participant_id") is not None:
        raise HTTPException(403, "Only Bright House staff and integrations may use this")
    raise HTTPException(401, "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})


SettingsDep = Annotated[Settings, Depends(get_settings)]
ConnDep = Annotated[asyncpg.Connection, Depends(get_conn)]
RedisDep = Annotated[ArqRedis, Depends(get_redis)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]
OptionalParticipant = Annotated[asyncpg.Record | None, Depends(get_participant)]
Participant = Annotated[asyncpg.Record, Depends(require_participant)]
ApiParticipant = Annotated[asyncpg.Record, Depends(require_api_participant)]
ApiToken = Depends(require_api_token)
StaffMember = Annotated[asyncpg.Record, Depends(require_staff)]
Admin = Annotated[asyncpg.Record, Depends(require_admin)]
ApiStaff = Annotated[Actor, Depends(require_api_staff)]
