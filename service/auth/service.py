"""Sign-in for participants and staff: single-use emailed links, the step pipeline, server-side sessions,
and staff accounts.

A link's token and a session's token are random, and only their SHA-256 is stored (`token_hash`). The
signed cookie carries the session's token; every request checks it against the `sessions` table, so
signing out, disabling a staff account or deleting a participant ends the session on the server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from starlette.requests import Request

from service.auth import repository
from service.auth.schemas import PEOPLE_ROLES, ROLES, Identity, Purpose, Role, SignInStep, SubjectKind
from service.kit import audit
from service.kit.audit import Actor
from service.kit.config import Settings
from service.kit.errors import Conflict
from service.kit.i18n import _
from service.mail import service as mail
from service.mail import tasks as mail_tasks

__all__ = ["ROLES", "Identity", "Purpose", "Role", "SignInStep", "SubjectKind"]

# The steps a person passes before the session counts as signed in. Today the emailed link is the only
# one; a TOTP step for staff would be SignInStep("totp", "/staff/signin/totp", ("staff",)), whose page
# checks the code and calls `passed(conn, request, settings, "totp")`. The session's auth_level names
# the steps passed.
PIPELINE: tuple[SignInStep, ...] = (SignInStep("email_link"),)
HOME: dict[SubjectKind, str] = {"participant": "/me?welcome=1", "staff": "/staff"}
LINK_PATHS: dict[SubjectKind, str] = {"participant": "/auth", "staff": "/staff/auth"}
SESSION_KEY = "session"  # in the signed cookie: the session's token
PENDING_KEY = "signin_pending"  # in the signed cookie: who is part-way through the pipeline
# Seen-at and the sliding expiry are written at most this often, not on every request.
TOUCH_AFTER = dt.timedelta(minutes=5)


def token_hash(token: str) -> bytes:
    """The SHA-256 of a link's or session's token: a database leak must not yield working links or sessions."""
    return hashlib.sha256(token.encode()).digest()


# --- links: issue, check, redeem ---


def link_lifetime(settings: Settings, purpose: Purpose) -> dt.timedelta:
    """How long a link stays usable: hours to confirm an address, minutes to sign in."""
    if purpose == "verify":
        return dt.timedelta(hours=settings.verify_token_hours)
    return dt.timedelta(minutes=settings.login_token_minutes)


async def issue(
    conn: asyncpg.Connection, subject_id: int, purpose: Purpose, lifetime: dt.timedelta,
    kind: SubjectKind = "participant",
) -> str:
    """Create a single-use token; returns the raw token to put in a link (staff tokens are for sign-in)."""
    token = secrets.token_urlsafe(32)
    expires_at = dt.datetime.now(dt.UTC) + lifetime
    if kind == "staff":
        await repository.insert_staff_token(conn, token_hash(token), subject_id, expires_at)
    else:
        await repository.insert_token(conn, token_hash(token), subject_id, purpose, expires_at)
    return token


async def link(
    conn: asyncpg.Connection, settings: Settings, kind: SubjectKind, subject_id: int, purpose: Purpose
) -> str:
    """A new link (full URL) for a participant or staff member to open."""
    token = await issue(conn, subject_id, purpose, link_lifetime(settings, purpose), kind)
    return f"{settings.koble_base_url}{LINK_PATHS[kind]}/{token}"


async def is_usable(conn: asyncpg.Connection, token: str, kind: SubjectKind = "participant") -> bool:
    """Whether a link's token can still be used (shown before the person confirms)."""
    find = repository.usable_staff_token if kind == "staff" else repository.usable_token
    return await find(conn, token_hash(token)) is not None


async def redeem(
    conn: asyncpg.Connection, token: str, kind: SubjectKind = "participant"
) -> tuple[int, Purpose] | None:
    """Use a token once; returns (subject id, purpose) or None if unknown, used, expired (or staff disabled)."""
    use = repository.use_staff_token if kind == "staff" else repository.use_token
    row = await use(conn, token_hash(token))
    return None if row is None else (row["subject_id"], row["purpose"])


# --- staff sign-in by link ---


async def request_staff_sign_in(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, email: str
) -> None:
    """Email a sign-in link to an active staff member; silent for any other address (no enumeration)."""
    async with conn.transaction():
        staff = await repository.staff_by_email(conn, email)
        if staff is None or staff["disabled_at"] is not None:
            return
        rendered = mail.render(
            "sign_in", staff["email"], staff["language"], name=staff["name"] or staff["email"],
            link=await link(conn, settings, "staff", staff["id"], "login"), minutes=settings.login_token_minutes,
        )
        outbox_id = await mail.queue(conn, None, rendered, staff_id=staff["id"])
    await mail_tasks.enqueue(redis, [outbox_id])


async def redeem_staff_link(conn: asyncpg.Connection, request: Request, settings: Settings, token: str) -> str | None:
    """Use a staff link once; returns where to go next (a further step or the queue), None if unusable."""
    async with conn.transaction():
        redeemed = await redeem(conn, token, "staff")
        if redeemed is None:
            return None
        staff = await repository.staff_by_id(conn, redeemed[0])
        assert staff is not None  # a staff token is only used for an active account
        await audit.record(conn, staff_actor(staff), "sign_in")
        return await begin(conn, request, settings, "staff", staff["id"])


# --- the step pipeline ---


async def begin(
    conn: asyncpg.Connection, request: Request, settings: Settings, kind: SubjectKind, subject_id: int
) -> str:
    """After a redeemed link: the first step is passed; returns the URL of the next step, or home."""
    await sign_out(conn, request)  # a fresh session: nothing of an earlier one carries over
    request.session[PENDING_KEY] = {"kind": kind, "id": subject_id, "passed": []}
    return await passed(conn, request, settings, "email_link")


def remaining_steps(kind: SubjectKind, done: Sequence[str]) -> list[SignInStep]:
    """The pipeline's steps this kind of person has still to pass, in order."""
    return [step for step in PIPELINE if kind in step.kinds and step.name not in done]


async def passed(conn: asyncpg.Connection, request: Request, settings: Settings, step: str) -> str:
    """Record a passed step; the URL of the next step, or (all passed) start the session and go home."""
    pending = request.session[PENDING_KEY]
    pending["passed"] = [*pending["passed"], step]
    kind: SubjectKind = pending["kind"]
    remaining = remaining_steps(kind, pending["passed"])
    if remaining:
        request.session[PENDING_KEY] = pending
        return remaining[0].url or HOME[kind]
    request.session.pop(PENDING_KEY)
    level = "+".join(pending["passed"])
    request.session[SESSION_KEY] = await start_session(conn, settings, kind, pending["id"], level)
    return HOME[kind]


# --- sessions ---


async def start_session(
    conn: asyncpg.Connection, settings: Settings, kind: SubjectKind, subject_id: int, auth_level: str = "email_link"
) -> str:
    """Store a new session; returns the token the signed cookie carries."""
    token = secrets.token_urlsafe(32)
    lifetime = dt.timedelta(days=settings.session_days)
    await repository.insert_session(conn, token_hash(token), kind, subject_id, auth_level, lifetime)
    return token


async def identity(conn: asyncpg.Connection, request: Request, settings: Settings) -> Identity | None:
    """Who the request's session belongs to; None (and the cookie's token dropped) if ended or expired."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    row = await repository.live_session(conn, token_hash(token), dt.timedelta(days=settings.session_days),
                                        TOUCH_AFTER)
    if row is None:
        request.session.pop(SESSION_KEY, None)
        return None
    return Identity(row["subject_kind"], row["subject_id"], row["id"], row["auth_level"])


async def sign_out(conn: asyncpg.Connection, request: Request) -> None:
    """End the request's session on the server (a copy of the cookie stops working) and clear the cookie."""
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str):
        await repository.end_session(conn, token_hash(token))
    request.session.clear()


async def sign_out_everywhere(
    conn: asyncpg.Connection, request: Request, who: Identity | None, kind: SubjectKind
) -> int:
    """End every session of the request's subject if of this kind (other browsers too); how many were live."""
    ended = 0 if who is None or who.kind != kind else await end_sessions(conn, kind, [who.subject_id])
    await sign_out(conn, request)
    return ended


async def end_sessions(conn: asyncpg.Connection, kind: SubjectKind, subject_ids: Sequence[int]) -> int:
    """End every live session of these participants or staff members; returns how many."""
    return await repository.end_sessions_of(conn, kind, subject_ids) if subject_ids else 0


async def forget_sessions(conn: asyncpg.Connection, kind: SubjectKind, subject_ids: Sequence[int]) -> None:
    """Delete every session of these subjects (their accounts are deleted: nothing about them is kept)."""
    if subject_ids:
        await repository.delete_sessions_of(conn, kind, subject_ids)


async def delete_stale(conn: asyncpg.Connection) -> int:
    """Forget used or expired links and ended or expired sessions (the daily clean-up); returns how many."""
    return await repository.delete_stale_tokens(conn) + await repository.delete_stale_sessions(conn)


# --- staff accounts ---


class StaffRefused(Conflict):
    """A staff change that is not allowed (unknown account, or it would leave no admin)."""


def staff_actor(staff: Mapping[str, Any]) -> Actor:
    """The actor a signed-in staff member acts as."""
    return Actor.staff(staff["id"], staff["email"])


async def staff_by_id(conn: asyncpg.Connection, staff_id: int) -> asyncpg.Record | None:
    """An active (not disabled) staff member."""
    return await repository.staff_by_id(conn, staff_id)


async def staff_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """A staff member by address (any case), disabled or not."""
    return await repository.staff_by_email(conn, email)


def can_see_people(staff: asyncpg.Record) -> bool:
    """Whether this staff member may see participants' names and contact details (not analysts)."""
    return bool(staff["role"] in PEOPLE_ROLES)


async def active_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Staff members who act on matches and get staff emails (not disabled, not analysts)."""
    return await repository.active_staff(conn)


async def all_staff(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every staff member, active first, then by address."""
    return await repository.all_staff(conn)


async def add_staff(conn: asyncpg.Connection, actor: Actor, email: str, role: Role, name: str) -> asyncpg.Record:
    """Add a staff member (or re-enable one, with this role)."""
    async with conn.transaction():
        existing = await repository.staff_by_email(conn, email)
        if existing is not None and existing["role"] == "admin" and role != "admin":
            await _keep_an_admin(conn, existing["id"])
        row = await repository.upsert_staff(conn, email, role, name)
        await audit.record(conn, actor, "staff_add", details={"staff_id": row["id"], "role": role})
    return row


async def change_role(conn: asyncpg.Connection, actor: Actor, staff_id: int, role: Role) -> asyncpg.Record:
    """Give an active staff member another role (the last admin stays admin)."""
    async with conn.transaction():
        if role != "admin":
            await _keep_an_admin(conn, staff_id)
        row = await repository.set_role(conn, staff_id, role)
        if row is None:
            raise StaffRefused(_("No active staff member has this id."))
        await audit.record(conn, actor, "staff_role", details={"staff_id": staff_id, "role": role})
    return row


async def disable_staff(conn: asyncpg.Connection, actor: Actor, staff_id: int) -> asyncpg.Record:
    """Disable a staff member: their sessions and links stop working at once."""
    async with conn.transaction():
        await _keep_an_admin(conn, staff_id)
        row = await repository.disable_staff(conn, staff_id)
        if row is None:
            raise StaffRefused(_("No active staff member has this id."))
        await repository.end_sessions_of(conn, "staff", [staff_id])
        await audit.record(conn, actor, "staff_disable", details={"staff_id": staff_id})
    return row


async def _keep_an_admin(conn: asyncpg.Connection, staff_id: int) -> None:
    row = await repository.staff_by_id(conn, staff_id)
    if row is not None and row["role"] == "admin" and await repository.other_admins(conn, staff_id) == 0:
        raise StaffRefused(_("Koble needs at least one administrator; make someone else admin first."))


async def audit_page(conn: asyncpg.Connection, before_id: int | None, limit: int) -> list[asyncpg.Record]:
    """The audit log, newest first, before an id (keyset paging), with each staff member's address."""
    return await repository.audit_page(conn, before_id, limit)
