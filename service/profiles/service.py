"""Participants' lifecycle: register, verify, sign in by link, edit, hide, export and delete."""

from __future__ import annotations

import base64
import datetime as dt
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from arq.connections import ArqRedis
from starlette.requests import Request
from tqdm import tqdm

from service.auth import service as auth
from service.kit import i18n, jobs
from service.kit.config import Settings, get_settings
from service.kit.errors import Conflict
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.matching import embedding as matching_embedding
from service.profiles import photos, repository
from service.profiles.schemas import ParticipantFields, ParticipantImport, ParticipantOut

# Rows per batched statement of an import: large enough to be fast, small enough for a progress bar that moves.
BATCH = 1000
T = TypeVar("T")


class EmailTaken(Conflict):
    """Another participant already uses this email address (HTTP 409; the address is never echoed)."""

    template = "email: already used by another participant"

    def __init__(self, email: str) -> None:
        super().__init__()
        self.email = email


def to_columns(data: ParticipantFields) -> dict[str, Any]:
    """The validated fields as repository columns (defaults applied)."""
    values = data.model_dump(include=set(repository.FIELDS))
    values["capacity"] = data.effective_capacity()
    values["email"] = str(data.email)
    return values


def to_out(row: asyncpg.Record) -> ParticipantOut:
    """A participant row as the participant sees it."""
    return ParticipantOut(
        **{name: row[name] for name in repository.FIELDS},
        external_id=row["external_id"],
        pending_email=row["pending_email"],
        verified=row["verified_at"] is not None,
        hidden=row["hidden_at"] is not None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_fields(row: asyncpg.Record) -> dict[str, Any]:
    """A participant row as the fields of the form and the API."""
    return {name: row[name] for name in repository.FIELDS}


async def _link_email(
    conn: asyncpg.Connection,
    settings: Settings,
    row: asyncpg.Record,
    template: str,
    purpose: auth.Purpose,
    to_address: str | None = None,
) -> int:
    rendered = mail.render(
        template, to_address or row["email"], row["language"],
        name=row["name"], link=await auth.link(conn, settings, "participant", row["id"], purpose),
        minutes=settings.login_token_minutes, hours=settings.verify_token_hours,
    )
    return await mail.queue(conn, row["id"], rendered)


async def register(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, data: ParticipantFields
) -> asyncpg.Record | None:
    """Store a new registration and email a verification link; the new (unverified) row, None if known.

    An address already registered gets a sign-in link instead, and the caller answers the same
    either way, so the form never reveals who is registered (an event's sign-up uses the row).
    """
    try:
        return await _register_once(conn, redis, settings, data)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != repository.EMAIL_CONSTRAINT:
            raise
        # Two registrations of one address at once (two workers, or a double submit): the second one's
        # insert waited for the first's and failed; now it finds the row and takes the known-address path.
        # Seen with `koble serve --workers 2` under load: one job failed and its email never went.
        return await _register_once(conn, redis, settings, data)


async def _register_once(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, data: ParticipantFields
) -> asyncpg.Record | None:
    async with conn.transaction():
        existing = await repository.by_email(conn, str(data.email))
        if existing is not None:
            outbox_id = await _link_email(conn, settings, existing, "already_registered", "login")
        else:
            row = await repository.insert(
                conn, f"web-{uuid.uuid4().hex[:16]}", to_columns(data), "web", verified=False, consent=True
            )
            outbox_id = await _link_email(conn, settings, row, "verify", "verify")
    await mail_tasks.enqueue(redis, [outbox_id])
    if existing is not None:
        return None
    # Embedded now, so that suggestions are ready the moment the address is confirmed.
    await _embed(conn, redis, settings, row)
    return row


async def ask_to_register(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, data: ParticipantFields
) -> None:
    """A registration as the form and the API answer it: one job for the worker (`register`), the same
    whether or not the address is known, so the answer takes as long either way (issue 15, finding 8:
    7.6 ms for a known address against 16.6 ms for a new one when the request did the work itself).
    With Redis down the work is done here."""
    fields = data.model_dump(mode="json", include=set(ParticipantFields.model_fields))
    if not await jobs.defer(redis, "register_participant", fields):
        await register(conn, redis, settings, data)


async def ask_for_sign_in(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, email: str) -> None:
    """A sign-in request as the form answers it: one job for the worker (`request_sign_in`) whether or not
    the address belongs to anyone (issue 15, finding 8). With Redis down the work is done here."""
    if not await jobs.defer(redis, "send_sign_in_link", email):
        await request_sign_in(conn, redis, settings, email)


async def create_verified(
    conn: asyncpg.Connection, data: ParticipantFields, external_id: str | None, source: str
) -> asyncpg.Record:
    """A participant an operator or integration vouches for; raises EmailTaken (or the violation)."""
    try:
        return await repository.insert(
            conn, external_id or f"api-{uuid.uuid4().hex[:16]}", to_columns(data), source, verified=True, consent=False
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == repository.EMAIL_CONSTRAINT:
            raise EmailTaken(str(data.email)) from exc
        raise


async def save_for_integration(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, external_id: str, data: ParticipantFields
) -> tuple[asyncpg.Record, bool]:
    """Create (verified, like an import) or replace a participant by external id; True if created.

    Raises EmailTaken.
    """
    try:
        row = await repository.upsert_by_external_id(conn, external_id, to_columns(data), "api")
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == repository.EMAIL_CONSTRAINT:
            raise EmailTaken(str(data.email)) from exc
        raise
    await _embed(conn, redis, settings, row)
    return row, bool(row["created"])


async def register_confirmed(conn: asyncpg.Connection, data: ParticipantFields) -> asyncpg.Record:
    """A registration whose address is already proven (an invitation's emailed link, service.rounds):
    verified and consented at once; raises EmailTaken. The caller embeds it after commit (`embed`)."""
    try:
        return await repository.insert(
            conn, f"web-{uuid.uuid4().hex[:16]}", to_columns(data), "web", verified=True, consent=True
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == repository.EMAIL_CONSTRAINT:
            raise EmailTaken(str(data.email)) from exc
        raise


async def embed(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, row: asyncpg.Record) -> None:
    """Embed a participant's interests after their row was committed (inline when small, else on the worker)."""
    await _embed(conn, redis, settings, row)


async def by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """One participant by address (any case)."""
    return await repository.by_email(conn, email)


async def by_id(conn: asyncpg.Connection, participant_id: int) -> asyncpg.Record | None:
    """One participant by internal id."""
    return await repository.by_id(conn, participant_id)


async def by_external_id(conn: asyncpg.Connection, external_id: str) -> asyncpg.Record | None:
    """One participant by external id."""
    return await repository.by_external_id(conn, external_id)


async def sign_in(conn: asyncpg.Connection, request: Request, settings: Settings, token: str) -> str | None:
    """Use a link from an email and start signing in; where to go next (a further step or home), or None."""
    async with conn.transaction():
        participant_id = await redeem_link(conn, token)
        if participant_id is None:
            return None
        next_url = await auth.begin(conn, request, settings, "participant", participant_id)
        row = await repository.by_id(conn, participant_id)
        if row is not None:
            remember_language(request, row["language"])
        return next_url


def remember_language(request: Request, language: str) -> None:
    """Signed-in pages follow the profile's language (after an explicit switch in this browser, i18n)."""
    request.session[i18n.SESSION_LANGUAGE_KEY] = language


async def link_addresses(conn: asyncpg.Connection, token: str) -> tuple[str, ...] | None:
    """The addresses a usable link is for (a confirmation may be for the new, pending one), or None."""
    subject = await auth.link_subject(conn, token)
    row = None if subject is None else await repository.by_id(conn, subject[0])
    if row is None:
        return None
    return (row["email"], row["pending_email"]) if row["pending_email"] else (row["email"],)


async def request_sign_in(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, email: str) -> None:
    """Email a sign-in link if the address belongs to a participant; silent otherwise."""
    async with conn.transaction():
        row = await repository.by_email(conn, email)
        if row is None:
            return
        outbox_id = await _link_email(conn, settings, row, "sign_in", "login")
    await mail_tasks.enqueue(redis, [outbox_id])


async def redeem_link(conn: asyncpg.Connection, token: str) -> int | None:
    """Use a verification or sign-in link (confirming the address if asked); the participant id, or None."""
    async with conn.transaction():
        redeemed = await auth.redeem(conn, token)
        if redeemed is None:
            return None
        participant_id, purpose = redeemed
        if purpose == "verify":
            await _confirm_address(conn, participant_id)
        await repository.touch(conn, participant_id)
    return participant_id


async def _confirm_address(conn: asyncpg.Connection, participant_id: int) -> None:
    try:
        async with conn.transaction():  # a savepoint: the sign-in goes on if this fails
            await repository.mark_verified(conn, participant_id)
    except asyncpg.UniqueViolationError:
        # Someone registered the pending address since; keep the old, verified one.
        await repository.drop_pending_email(conn, participant_id)
        await repository.mark_verified(conn, participant_id)


async def update(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, row: asyncpg.Record, data: ParticipantFields
) -> asyncpg.Record:
    """Save an edited profile. A new email address waits, unused, until confirmed by a link sent to it.

    The answer is the same whether or not another participant uses the new address (issue 15,
    finding 2: Koble never reveals who is registered): the address waits as pending either way, but
    a taken one gets no confirmation link; its owner is told by email instead, in their language, and
    the pending address can never be confirmed.
    """
    columns = to_columns(data)
    new_email = columns["email"] if columns["email"].lower() != row["email"].lower() else None
    columns["email"] = row["email"]
    outbox_ids: list[int] = []
    async with conn.transaction():
        updated = await repository.update(conn, row["id"], columns, pending_email=new_email)
        assert updated is not None
        if new_email:
            outbox_ids.append(await _email_change_notice(conn, settings, updated, new_email))
    await mail_tasks.enqueue(redis, outbox_ids)
    await _embed(conn, redis, settings, updated)
    return updated


async def _email_change_notice(
    conn: asyncpg.Connection, settings: Settings, row: asyncpg.Record, new_email: str
) -> int:
    """The one email a change of address sends: a confirmation link to a free address, or a notice to
    the participant who already uses it."""
    owner = await repository.by_email(conn, new_email)
    if owner is None:
        return await _link_email(conn, settings, row, "verify", "verify", to_address=new_email)
    rendered = mail.render("email_in_use", owner["email"], owner["language"], name=owner["name"])
    return await mail.queue(conn, owner["id"], rendered)


def email_change_keys(row: asyncpg.Record, data: ParticipantFields) -> tuple[str, str] | None:
    """The rate limit's keys of a profile edit that changes the email address (the participant, the new
    address), or None when the address stays."""
    new_email = str(data.email).lower()
    return None if new_email == row["email"].lower() else (f"participant-{row['id']}", new_email)


async def resend_confirmation(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, row: asyncpg.Record
) -> bool:
    """Send a new confirmation link to the unconfirmed (or pending) address; False if none is waiting."""
    address = row["pending_email"] or (row["email"] if row["verified_at"] is None else None)
    if address is None:
        return False
    async with conn.transaction():
        if address == row["pending_email"]:  # a changed address: its owner may be someone else
            outbox_id = await _email_change_notice(conn, settings, row, address)
        else:
            outbox_id = await _link_email(conn, settings, row, "verify", "verify", to_address=address)
    await mail_tasks.enqueue(redis, [outbox_id])
    return True


async def _embed(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, row: asyncpg.Record) -> None:
    """Embed a written profile's interests (inline when small, else on the worker); after commit."""
    await matching_embedding.embed_on_write(conn, redis, settings, row["id"], [*row["offers"], *row["seeks"]])


async def set_hidden(conn: asyncpg.Connection, participant_id: int, hidden: bool) -> None:
    """Hide one's profile from matching, or show it again."""
    await repository.set_hidden(conn, participant_id, hidden)


async def set_email_reminders(conn: asyncpg.Connection, participant_id: int, enabled: bool) -> bool:
    """Turn a participant's reminder emails on or off (introductions always go); False if there is none."""
    return await repository.set_email_reminders(conn, participant_id, enabled)


# What domains above profiles keep about a participant. They cannot be imported from here (the layers run
# the other way), so each adds its part when the app and the worker start (service/flows/account.py):
# a section of the data download, and a step run in the deleting transaction before the row goes.
ExportSection = Callable[[asyncpg.Connection, int], Awaitable[Any]]
DepartureStep = Callable[[asyncpg.Connection, Settings, int], Awaitable[list[int]]]  # returns outbox ids to send
EXPORT_SECTIONS: dict[str, ExportSection] = {}
DEPARTURE_STEPS: dict[str, DepartureStep] = {}


async def delete_account(
    conn: asyncpg.Connection, participant_id: int, settings: Settings | None = None, redis: ArqRedis | None = None
) -> bool:
    """Delete everything about a participant in one transaction (others told by email); False if already gone."""
    async with conn.transaction():
        if await repository.lock(conn, participant_id) is None:
            return False
        outbox_ids = await depart(conn, settings or get_settings(), participant_id)
        # Tokens, emails and the photo cascade; later domains anonymise what they keep in this transaction.
        await auth.forget_sessions(conn, "participant", [participant_id])
        deleted = await repository.delete(conn, participant_id)
    await mail_tasks.enqueue(redis, outbox_ids)
    return deleted


async def depart(conn: asyncpg.Connection, settings: Settings, participant_id: int) -> list[int]:
    """Run every domain's departure step (e.g. matches closes open matches, telling the other party)."""
    outbox_ids: list[int] = []
    for step in DEPARTURE_STEPS.values():
        outbox_ids += await step(conn, settings, participant_id)
    return outbox_ids


async def export_data(conn: asyncpg.Connection, row: asyncpg.Record) -> dict[str, Any]:
    """Everything Koble stores about a participant, as JSON-ready data: one key per section."""
    emails = await mail.for_participant(conn, row["id"])
    data = {
        "profile": to_out(row).model_dump(mode="json"),
        "consent_at": _iso(row["consent_at"]),
        "verified_at": _iso(row["verified_at"]),
        "hidden_at": _iso(row["hidden_at"]),
        "last_active_at": _iso(row["last_active_at"]),
        "source": row["source"],
        "emails": [{key: _iso(value) for key, value in dict(email).items()} for email in emails],
        "photo": await _photo_export(conn, row["id"]),
    }
    for name, section in EXPORT_SECTIONS.items():
        data[name] = json_ready(await section(conn, row["id"]))
    return data


async def _photo_export(conn: asyncpg.Connection, participant_id: int) -> dict[str, Any] | None:
    stored = await repository.photo_of(conn, participant_id)
    if stored is None:
        return None
    return {"content_type": stored["content_type"], "width": stored["width"], "height": stored["height"],
            "uploaded_at": _iso(stored["uploaded_at"]),
            "base64": base64.b64encode(stored["content"]).decode("ascii")}


def json_ready(value: Any) -> Any:
    """Rows, lists and dates as JSON values (records become objects, dates ISO 8601 strings)."""
    if isinstance(value, asyncpg.Record | dict):
        return {key: json_ready(item) for key, item in dict(value).items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return _iso(value)


# --- photos and logos ---


async def set_photo(conn: asyncpg.Connection, participant_id: int, upload: bytes) -> photos.Photo:
    """Clean an uploaded picture (photos.clean raises PhotoProblem) and make it the participant's."""
    picture = photos.clean(upload)
    await repository.save_photo(conn, participant_id, picture.key, picture.content_type, picture.content,
                                (picture.width, picture.height))
    return picture


async def remove_photo(conn: asyncpg.Connection, participant_id: int) -> bool:
    """Go back to the generated avatar."""
    return await repository.remove_photo(conn, participant_id)


async def photo(conn: asyncpg.Connection, external_id: str, key: str) -> asyncpg.Record | None:
    """The stored picture of this version (content, content_type), or None."""
    return await repository.photo(conn, external_id, key)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


async def welcome(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, external_ids: list[str]) -> int:
    """Email imported participants a welcome with a sign-in link; returns how many were queued."""
    outbox_ids = []
    async with conn.transaction():
        for external_id in external_ids:
            row = await repository.by_external_id(conn, external_id)
            if row is not None:
                outbox_ids.append(await _link_email(conn, settings, row, "welcome", "verify"))
    await mail_tasks.enqueue(redis, outbox_ids)
    return len(outbox_ids)


# --- Bulk import (`koble import`, `koble demo`: service/flows/importer.py) ----------------------


@dataclass
class ImportPlan:
    """What an import will do: rows to create and update, and how many stay as they are."""

    creates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> str:
        """The counts line printed after a successful import."""
        total = len(self.creates) + len(self.updates) + self.unchanged
        noun = "participant" if total == 1 else "participants"
        return (
            f"imported {total} {noun}: {len(self.creates)} created, "
            f"{len(self.updates)} updated, {self.unchanged} unchanged"
        )


def plan_import(participants: Sequence[ParticipantImport], existing: Mapping[str, Mapping[str, Any]]) -> ImportPlan:
    """Sort participants into creates, updates and unchanged by comparing with their stored rows."""
    plan = ImportPlan()
    for participant in participants:
        columns = to_columns(participant)
        row = existing.get(participant.external_id)
        if row is None:
            plan.creates.append((participant.external_id, columns))
        elif any(row[name] != columns[name] for name in repository.FIELDS):
            plan.updates.append((row["id"], columns))
        else:
            plan.unchanged += 1
    return plan


async def write_import(conn: asyncpg.Connection, plan: ImportPlan, progress: bool) -> None:
    """Apply the plan in one transaction, in batches; nothing at all happens when nothing changed."""
    total = len(plan.creates) + len(plan.updates)
    if not total:
        return
    with tqdm(total=total, desc="importing", unit=" participants", file=sys.stderr, disable=not progress) as bar:
        async with conn.transaction():
            for creates in _chunks(plan.creates):
                await repository.insert_imported_many(conn, creates)
                bar.update(len(creates))
            for updates in _chunks(plan.updates):
                await repository.update_imported_many(conn, updates)
                bar.update(len(updates))


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


async def by_external_ids(conn: asyncpg.Connection, external_ids: list[str]) -> list[asyncpg.Record]:
    """The id, external id and fields of the participants with these external ids (one query)."""
    return await repository.by_external_ids(conn, external_ids)


async def emails_in_use(conn: asyncpg.Connection, emails: list[str]) -> dict[str, str]:
    """Lower-cased email -> external id, for the given addresses that participants already use."""
    return await repository.emails_in_use(conn, emails)


async def by_ids(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    """Participants by id (those that still exist)."""
    return await repository.by_ids(conn, ids)


async def search(conn: asyncpg.Connection, text: str, limit: int) -> list[asyncpg.Record]:
    """Participants whose name, organisation, email or external id contains the text (staff's hand-pick)."""
    return await repository.search(conn, text, limit)


async def visible_ids(conn: asyncpg.Connection) -> list[int]:
    """Visible, verified participants, oldest first (those the ranker proposes pairs for)."""
    return await repository.visible_ids(conn)


async def map_rows(conn: asyncpg.Connection, ids: Sequence[int] | None = None) -> list[asyncpg.Record]:
    """Visible participants' id, external_id, kind, language, domains, location, offers, seeks and
    created_at (the map's facts, service.mapping), by id (these ids only, if given)."""
    return await repository.map_rows(conn, ids)


# --- the opt-in digest "new people who fit you" (issue 12; sent by service.feed.tasks) ---


async def digest_subscribe(conn: asyncpg.Connection, participant_id: int, known_ids: Sequence[int]) -> None:
    """Turn the weekly digest on; `known_ids` (people already shown) are never announced as new."""
    await repository.digest_subscribe(conn, participant_id, known_ids)


async def digest_unsubscribe(conn: asyncpg.Connection, participant_id: int) -> bool:
    """Turn the digest off; False if it was off."""
    return await repository.digest_unsubscribe(conn, participant_id)


async def digest_of(conn: asyncpg.Connection, participant_id: int, lock: bool = False) -> asyncpg.Record | None:
    """A participant's digest (`last_sent_at`, `sent_ids`), locked when `lock`; None when off."""
    return await repository.digest_of(conn, participant_id, lock)


async def digests_due(conn: asyncpg.Connection, sent_before: dt.datetime, limit: int) -> list[int]:
    """Participants whose digest has not gone since `sent_before` (visible and confirmed ones)."""
    return await repository.digests_due(conn, sent_before, limit)


async def digest_sent(conn: asyncpg.Connection, participant_id: int, sent_ids: Sequence[int], at: dt.datetime) -> None:
    """Record a digest sent now naming `sent_ids`."""
    await repository.digest_sent(conn, participant_id, sent_ids, at)


async def digest_export(conn: asyncpg.Connection, participant_id: int) -> dict[str, Any] | None:
    """The digest preference for the data download: when it was asked for and when the last one went."""
    row = await repository.digest_of(conn, participant_id)
    if row is None:
        return None
    return {"subscribed_at": _iso(row["subscribed_at"]), "last_sent_at": _iso(row["last_sent_at"])}


EXPORT_SECTIONS["digest"] = digest_export  # profiles' own table: registered here, not by the entry points
