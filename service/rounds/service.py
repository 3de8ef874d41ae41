"""Mapping rounds (kartleggingsrunder): a list of organisations invited to register or update their needs.

A round is created from a checked list (organisations.read) in one transaction, or not at all. Each
organisation gets one invitation email with a personal link, and one reminder after the round's
`reminder_days` unless it answered or unsubscribed. Both emails go through the outbox and are claimed
in the same transaction that writes them (`invited_at`, `reminded_at`), so each goes exactly once
however often staff press Send or however many workers run the reminder job.

The personal link carries the invitation id signed with itsdangerous (like matches' unsubscribe links):
nothing secret is stored, and the reminder repeats the invitation's link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from starlette.requests import Request

from service.auth import service as auth
from service.kit import audit, tokens
from service.kit.audit import Actor
from service.kit.config import Settings
from service.kit.errors import NotFound
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from service.rounds import repository
from service.rounds.organisations import Organisation

_INVITATION_SALT = "koble.rounds.invitation"
_UNSUBSCRIBE_SALT = "koble.rounds.unsubscribe"
REMINDER_BATCH = 500  # invitations claimed per reminder transaction; the next run takes the rest


class RoundNotFound(NotFound):
    """No round has this id (404)."""

    template = "round: no mapping round with this id"


class InvitationNotFound(NotFound):
    """An invitation link that is forged, garbled or names a deleted round (404)."""

    template = "token: unknown or no longer valid"


# --- tokens ---


def sign(settings: Settings, invitation_id: int, salt: str = _INVITATION_SALT) -> str:
    """The token of an invitation's personal link (or, with the unsubscribe salt, of its unsubscribe link)."""
    return tokens.sign_id(settings, salt, invitation_id)


def read_token(settings: Settings, token: str, salt: str = _INVITATION_SALT) -> int | None:
    """The invitation a token names; None if forged or garbled."""
    return tokens.read_id(settings, salt, token)


def invitation_url(settings: Settings, invitation_id: int, language: str) -> str:
    """The personal link in an invitation and its reminder."""
    return f"{settings.koble_base_url}/rounds/i/{sign(settings, invitation_id)}?lang={language}"


def unsubscribe_token(settings: Settings, invitation_id: int) -> str:
    """The token of an invitation's unsubscribe link."""
    return sign(settings, invitation_id, _UNSUBSCRIBE_SALT)


def unsubscribe_url(settings: Settings, invitation_id: int) -> str:
    """The one-click List-Unsubscribe address (RFC 8058: a POST; a GET shows the page with the button)."""
    return f"{settings.koble_base_url}/api/v1/rounds/unsubscribe/{unsubscribe_token(settings, invitation_id)}"


def unsubscribe_page_url(settings: Settings, invitation_id: int, language: str) -> str:
    """The unsubscribe page linked from the email's footer."""
    token = unsubscribe_token(settings, invitation_id)
    return f"{settings.koble_base_url}/rounds/unsubscribe/{token}?lang={language}"


# --- staff: create, send, read ---


async def create(
    conn: asyncpg.Connection, actor: Actor, name: str, reminder_days: int, source_name: str,
    organisations: Sequence[Organisation],
) -> int:
    """Store a round and its checked list in one transaction; its id."""
    async with conn.transaction():
        round_id = await repository.insert_round(conn, name, reminder_days, source_name, actor.staff_id)
        await repository.insert_invitations(conn, round_id, organisations)
        details = {"round_id": round_id, "organisations": len(organisations)}
        await audit.record(conn, actor, "round_create", details=details)
    return round_id


async def send(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, actor: Actor, round_id: int
) -> int:
    """Email every organisation of the round not yet invited (each once); how many were written."""
    async with conn.transaction():
        if await repository.round_by_id(conn, round_id) is None:
            raise RoundNotFound
        claimed = await repository.claim_unsent(conn, round_id)
        outbox = [await _queue(conn, settings, row, "round_invitation") for row in claimed]
        await repository.add_events(conn, [row["id"] for row in claimed], "invited")
        await audit.record(conn, actor, "round_send", details={"round_id": round_id, "emails": len(outbox)})
    await mail_tasks.enqueue(redis, outbox)
    return len(outbox)


async def send_reminders(conn: asyncpg.Connection, settings: Settings, now: dt.datetime) -> list[int]:
    """Write the due reminders (claimed and written in one transaction each batch); their outbox ids."""
    outbox: list[int] = []
    while True:
        async with conn.transaction():
            claimed = await repository.claim_due_reminders(conn, now, REMINDER_BATCH)
            outbox += [await _queue(conn, settings, row, "round_reminder") for row in claimed]
            await repository.add_events(conn, [row["id"] for row in claimed], "reminded")
        if len(claimed) < REMINDER_BATCH:
            return outbox


async def _queue(conn: asyncpg.Connection, settings: Settings, row: asyncpg.Record, template: str) -> int:
    rendered = mail.render(
        template, row["email"], row["language"], name=row["contact_name"] or row["name"],
        organisation=row["name"], round=row["round_name"],
        link=invitation_url(settings, row["id"], row["language"]),
        unsubscribe=unsubscribe_page_url(settings, row["id"], row["language"]),
    )
    return await mail.queue(conn, None, rendered, unsubscribe_url=unsubscribe_url(settings, row["id"]))


async def all_rounds(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every round with its totals, newest first."""
    return await repository.rounds(conn)


@dataclass(frozen=True)
class Figures:
    """A round's totals and its figures per municipality and per kind (no names)."""

    round: asyncpg.Record
    by_municipality: list[asyncpg.Record]
    by_kind: list[asyncpg.Record]


async def figures(conn: asyncpg.Connection, round_id: int) -> Figures:
    """A round's figures; raises RoundNotFound."""
    row = await repository.round_by_id(conn, round_id)
    if row is None:
        raise RoundNotFound
    return Figures(row, await repository.figures_by(conn, round_id, "municipality"),
                   await repository.figures_by(conn, round_id, "kind"))


async def people(conn: asyncpg.Connection, actor: Actor, round_id: int) -> list[asyncpg.Record]:
    """The round's organisations with their contact details (audited: staff saw personal data)."""
    rows = await repository.invitations(conn, round_id)
    await audit.record(conn, actor, "round_view_people", details={"round_id": round_id, "rows": len(rows)})
    return rows


async def delete(conn: asyncpg.Connection, actor: Actor, round_id: int) -> None:
    """Forget a round: its list of organisations (names, addresses) and their steps; raises RoundNotFound.

    The emails already sent stay in the outbox, which has its own life (service.mail).
    """
    async with conn.transaction():
        if not await repository.delete_round(conn, round_id):
            raise RoundNotFound
        await audit.record(conn, actor, "round_delete", details={"round_id": round_id})


# --- the organisation's side: open, register, update, unsubscribe ---


@dataclass(frozen=True)
class Opened:
    """An opened invitation and, if the organisation's address is already a participant, that participant."""

    invitation: asyncpg.Record
    participant: asyncpg.Record | None


async def open_link(conn: asyncpg.Connection, settings: Settings, token: str) -> Opened:
    """The invitation behind a personal link, its first opening recorded; raises InvitationNotFound."""
    invitation = await _invitation(conn, settings, token)
    participant = await _participant_of(conn, invitation)
    async with conn.transaction():
        if await repository.mark(conn, invitation["id"], "opened"):
            await repository.add_events(conn, [invitation["id"]], "opened")
        if participant is not None and invitation["participant_id"] is None:
            await repository.link_participant(conn, invitation["id"], participant["id"])
    return Opened(invitation, participant)


async def _invitation(conn: asyncpg.Connection, settings: Settings, token: str, salt: str = _INVITATION_SALT) -> Any:
    invitation_id = read_token(settings, token, salt)
    row = None if invitation_id is None else await repository.invitation(conn, invitation_id)
    if row is None:
        raise InvitationNotFound
    return row


async def _participant_of(conn: asyncpg.Connection, invitation: asyncpg.Record) -> asyncpg.Record | None:
    if invitation["participant_id"] is not None:
        found = await profiles.by_id(conn, invitation["participant_id"])
        if found is not None:
            return found
    return await profiles.by_email(conn, invitation["email"])


def prefilled(invitation: asyncpg.Record) -> dict[str, str]:
    """The registration form's fields the list already knows."""
    return {"kind": invitation["kind"], "name": invitation["name"], "email": invitation["email"],
            "organisation": invitation["name"], "language": invitation["language"],
            "location": invitation["municipality"]}


async def register(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, request: Request,
    invitation: asyncpg.Record, data: ParticipantFields,
) -> str:
    """Register the invited organisation; where to send the browser next.

    The invitation's address has proven itself by opening the emailed link, so a registration with it
    is confirmed at once and signed in; another address gets profiles' usual confirmation email.
    Raises profiles.EmailTaken when the address was registered meanwhile.
    """
    if str(data.email).lower() != invitation["email"].lower():
        await profiles.register(conn, redis, settings, data)
        await _step(conn, invitation["id"], "registered")
        return "/register/sent"
    async with conn.transaction():
        row = await profiles.register_confirmed(conn, data)
        await _step(conn, invitation["id"], "registered", row["id"])
        home = await auth.begin(conn, request, settings, "participant", row["id"])
    await profiles.embed(conn, redis, settings, row)
    return home


async def update_needs(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings,
    invitation: asyncpg.Record, participant: asyncpg.Record, data: ParticipantFields,
) -> None:
    """Save an existing participant's updated needs through profiles, and record the update."""
    await profiles.update(conn, redis, settings, participant, data)
    await _step(conn, invitation["id"], "updated", participant["id"])


async def _step(conn: asyncpg.Connection, invitation_id: int, step: str, participant_id: int | None = None) -> None:
    async with conn.transaction():
        if await repository.mark(conn, invitation_id, step, participant_id):
            await repository.add_events(conn, [invitation_id], step)


async def invitation_for(conn: asyncpg.Connection, settings: Settings, token: str) -> asyncpg.Record:
    """The invitation behind a personal link, without recording anything; raises InvitationNotFound."""
    return await _invitation(conn, settings, token)


def unsubscribe_valid(settings: Settings, token: str) -> bool:
    """Whether an unsubscribe token is genuine (checked before the button is shown)."""
    return read_token(settings, token, _UNSUBSCRIBE_SALT) is not None


async def unsubscribe(conn: asyncpg.Connection, settings: Settings, token: str) -> bool:
    """Stop the round's emails to this organisation (no reminder); False for an unknown token."""
    invitation_id = read_token(settings, token, _UNSUBSCRIBE_SALT)
    if invitation_id is None or await repository.invitation(conn, invitation_id) is None:
        return False
    await _step(conn, invitation_id, "unsubscribed")
    return True
