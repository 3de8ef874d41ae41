"""FastAPI dependencies of sign-in: the session's identity, staff, admins, and the operator's API token."""

from __future__ import annotations

import secrets
from typing import Annotated

import asyncpg
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import service as auth
from service.auth.schemas import Identity
from service.kit.audit import Actor
from service.kit.config import Settings
from service.kit.deps import ConnDep, get_settings
from service.kit.errors import KobleError


async def get_identity(request: Request, conn: ConnDep) -> Identity | None:
    """Who the session belongs to (checked against the server's sessions), or None."""
    # Settings read directly, not as a dependency: FastAPI runs plain `def` dependencies in a thread pool.
    return await auth.identity(conn, request, get_settings(request))


IdentityDep = Annotated[Identity | None, Depends(get_identity)]
_bearer = HTTPBearer(auto_error=False, description="KOBLE_API_TOKEN, set by the operator")


def require_api_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Integration access (docs/contracts.md): the operator's bearer token, compared in constant time."""
    token = settings.koble_api_token
    if credentials is None:
        raise HTTPException(401, "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not token or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(403, "Invalid bearer token")


class StaffSignInRequired(KobleError):
    """No signed-in staff member on a staff page: browsers are sent to the staff sign-in."""

    status = 401
    template = "Sign in as Bright House staff first"
    redirect_to = "/staff/signin"


async def get_staff(conn: ConnDep, who: IdentityDep) -> asyncpg.Record | None:
    """The signed-in Bright House staff member, or None (a disabled account counts as signed out)."""
    if who is None or who.kind != "staff":
        return None
    return await auth.staff_by_id(conn, who.subject_id)


OptionalStaff = Annotated[asyncpg.Record | None, Depends(get_staff)]


async def require_any_staff(staff: OptionalStaff, who: IdentityDep) -> asyncpg.Record:
    """A signed-in staff member of any role, analysts included; a participant gets 403, anyone else sign-in."""
    if staff is not None:
        return staff
    if who is not None and who.kind == "participant":
        raise HTTPException(403, "This page is for Bright House staff only")
    raise StaffSignInRequired


async def require_staff(staff: Annotated[asyncpg.Record, Depends(require_any_staff)]) -> asyncpg.Record:
    """A signed-in reviewer or admin: the staff who see people (analysts get 403)."""
    if not auth.can_see_people(staff):
        raise HTTPException(403, "Analysts see the region's figures, not people")
    return staff


async def require_admin(staff: Annotated[asyncpg.Record, Depends(require_staff)]) -> asyncpg.Record:
    """A signed-in staff member with the admin role (403 for reviewers)."""
    if staff["role"] != "admin":
        raise HTTPException(403, "Only administrators can do this")
    return staff


def require_api_any_staff(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    staff: OptionalStaff,
    who: IdentityDep,
) -> Actor:
    """Figures on the API: the operator's bearer token (docs/contracts.md) or any staff session."""
    if credentials is not None:
        require_api_token(settings, credentials)
        return Actor.staff(None, "api token")
    if staff is not None:
        return auth.staff_actor(staff)
    if who is not None and who.kind == "participant":
        raise HTTPException(403, "Only Bright House staff and integrations may use this")
    raise HTTPException(401, "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})


def require_api_staff(
    actor: Annotated[Actor, Depends(require_api_any_staff)], staff: OptionalStaff
) -> Actor:
    """Reviewer rights on the API: the bearer token or a reviewer's or admin's session (not an analyst's)."""
    if staff is not None and actor.staff_id is not None and not auth.can_see_people(staff):
        raise HTTPException(403, "Analysts see the region's figures, not people")
    return actor


ApiToken = Depends(require_api_token)
AnyStaff = Annotated[asyncpg.Record, Depends(require_any_staff)]
StaffMember = Annotated[asyncpg.Record, Depends(require_staff)]
Admin = Annotated[asyncpg.Record, Depends(require_admin)]
ApiAnyStaff = Annotated[Actor, Depends(require_api_any_staff)]
ApiStaff = Annotated[Actor, Depends(require_api_staff)]
