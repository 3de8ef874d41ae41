"""The match page's conversation: messages between the two parties (their "new messages" emails batched,
at most one per recipient per KOBLE_MESSAGE_EMAIL_MINUTES, each message told exactly once) and meeting
proposals (up to three Oslo times and a place; the other party picks one and both get an .ics invitation).
Holding the meeting moves the match through the lifecycle's own reply, `met` (service.act)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.kit import ics
from service.kit.config import Settings
from service.kit.security import RateLimiter
from service.mail import service as mail
from service.matches import repository
from service.matches.lifecycle import TERMINAL
from service.matches.meetings import (
    TALKING,
    ConversationRefused,
    NotAParty,
    TooManyMessages,
    check_choice,
    check_message,
    check_proposal,
    invitation,
    oslo,
)
from service.profiles import service as profiles

# States in which the parties see each other (staff's suggestions stay between staff).
SHOWN = ("introduced", "mutual", "declined", "meeting_held", "project_agreed", "project_completed", "closed")
# Meetings are agreed once both said yes: holding one is the lifecycle's `mutual → meeting_held`.
MEETING_STATES = ("mutual", "meeting_held", "project_agreed")


@dataclass(frozen=True)
class Conversation:
    """What the match page shows below the profile: messages (oldest first) and proposals (newest first)."""

    messages: list[asyncpg.Record]
    meetings: list[asyncpg.Record]

    @property
    def open_meeting(self) -> asyncpg.Record | None:
        """The proposal waiting for the other party's choice, if any."""
        return next((m for m in self.meetings if m["status"] == "proposed"), None)

    @property
    def chosen_meeting(self) -> asyncpg.Record | None:
        """The latest agreed meeting, if any."""
        return next((m for m in self.meetings if m["status"] == "chosen"), None)


async def party_match(conn: asyncpg.Connection, match_id: int, participant_id: int) -> asyncpg.Record:
    """The match, if this participant is one of its parties and it has reached them; else NotAParty (404)."""
    match = await repository.by_id(conn, match_id)
    if match is None or participant_id not in (match["a_id"], match["b_id"]) or match["state"] not in SHOWN:
        raise NotAParty()
    return match


def _other(match: asyncpg.Record, participant_id: int) -> int:
    return int(match["b_id"] if match["a_id"] == participant_id else match["a_id"])


async def of_match(conn: asyncpg.Connection, match_id: int) -> Conversation:
    """A match's messages and meeting proposals."""
    return Conversation(await repository.messages(conn, match_id), await repository.meetings(conn, match_id))


async def message_count(conn: asyncpg.Connection, match_id: int) -> int:
    """How many messages the parties wrote (staff see the number, not the words)."""
    return await repository.message_count(conn, match_id)


# --- messages ---


async def send_message(
    conn: asyncpg.Connection, settings: Settings, limiter: RateLimiter | None, match_id: int, sender_id: int,
    body: str, now: dt.datetime,
) -> tuple[asyncpg.Record, list[int]]:
    """Store a message and, unless the recipient was emailed lately, tell them now; returns (row, outbox ids)."""
    match = await party_match(conn, match_id, sender_id)
    if match["state"] not in TALKING:
        raise ConversationRefused("message", "message: this match is finished, so no more messages can be sent")
    text = check_message(body)
    if limiter is not None and not await limiter.hit(settings.rate_limit_messages, "match-message", str(sender_id)):
        raise TooManyMessages()
    async with conn.transaction():
        row = await repository.insert_message(conn, match_id, sender_id, _other(match, sender_id), text)
        outbox = await notify(conn, settings, row["recipient_id"], now)
    return row, outbox


async def notify(conn: asyncpg.Connection, settings: Settings, recipient_id: int, now: dt.datetime) -> list[int]:
    """One email with every message the recipient has not been told about, unless one went within the
    quiet interval (then the worker's job sends it later); claim, mark and outbox row in one transaction."""
    quiet_since = now - dt.timedelta(minutes=settings.message_email_minutes)
    async with conn.transaction():
        if not await repository.claim_notice(conn, recipient_id, now, quiet_since):
            return []
        told = await repository.take_unnotified(conn, recipient_id, now)
        recipient = await profiles.by_id(conn, recipient_id)
        if recipient is None or not told:
            return []
        return [await _messages_email(conn, settings, recipient, told)]


async def notify_waiting(conn: asyncpg.Connection, settings: Settings, now: dt.datetime) -> list[int]:
    """The worker's sweep: tell every recipient whose quiet interval has passed about their new messages."""
    quiet_since = now - dt.timedelta(minutes=settings.message_email_minutes)
    outbox: list[int] = []
    for recipient_id in await repository.recipients_waiting(conn, quiet_since):
        outbox += await notify(conn, settings, recipient_id, now)
    return outbox


async def _messages_email(
    conn: asyncpg.Connection, settings: Settings, recipient: asyncpg.Record, told: Sequence[asyncpg.Record]
) -> int:
    senders = await profiles.by_ids(conn, sorted({row["sender_id"] for row in told}))
    language = recipient["language"]
    threads: dict[int, dict[str, Any]] = {}
    for row in told:
        sender = senders.get(row["sender_id"])
        thread = threads.setdefault(row["match_id"], {
            "name": sender["name"] if sender else "", "messages": [],
            "link": f"{settings.koble_base_url}/me/matches/{row['match_id']}?lang={language}#messages",
        })
        thread["messages"].append(row["body"])
    rendered = mail.render("match_messages", recipient["email"], language, name=recipient["name"],
                           threads=list(threads.values()), count=len(told))
    return await mail.queue(conn, recipient["id"], rendered, match_id=told[0]["match_id"])


# --- meetings ---


async def propose(
    conn: asyncpg.Connection, settings: Settings, match_id: int, proposer_id: int, times: Sequence[str],
    place: str, now: dt.datetime,
) -> tuple[asyncpg.Record, list[int]]:
    """Store a proposal (replacing an open one) and email the other party; returns (row, outbox ids)."""
    match = await party_match(conn, match_id, proposer_id)
    if match["state"] not in MEETING_STATES:
        raise ConversationRefused("time1", "time1: propose a meeting once you have both said you are interested")
    proposal = check_proposal(times, place, now)
    async with conn.transaction():
        row = await repository.insert_meeting(conn, match_id, proposer_id, proposal.times, proposal.place)
        other = await profiles.by_id(conn, _other(match, proposer_id))
        proposer = await profiles.by_id(conn, proposer_id)
        if other is None or proposer is None:
            return row, []
        outbox = [await _meeting_email(conn, settings, "match_meeting_proposed", other, proposer, row)]
    return row, outbox


async def choose(
    conn: asyncpg.Connection, settings: Settings, match_id: int, meeting_id: int, chooser_id: int, choice: str,
) -> tuple[asyncpg.Record, list[int]]:
    """The other party picks one of the proposed times; both get an email with the .ics invitation."""
    match = await party_match(conn, match_id, chooser_id)
    async with conn.transaction():
        meeting = await repository.lock_meeting(conn, meeting_id)
        closed = match["state"] not in MEETING_STATES
        if closed or meeting is None or meeting["match_id"] != match_id or meeting["status"] != "proposed":
            raise ConversationRefused("choice", "choice: this proposal is no longer open; see the newest one")
        if meeting["proposer_id"] == chooser_id:
            raise ConversationRefused("choice", "choice: the other party chooses the time you proposed")
        row = await repository.choose_time(conn, meeting_id, chooser_id, check_choice(meeting["times"], choice))
        outbox = await _invitations(conn, settings, match, row)
    return row, outbox


async def _invitations(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, meeting: asyncpg.Record
) -> list[int]:
    people = await profiles.by_ids(conn, [match["a_id"], match["b_id"]])
    if len(people) < 2:
        return []
    a, b = people[match["a_id"]], people[match["b_id"]]
    domain = settings.koble_base_url.split("//")[-1].split("/")[0].split(":")[0] or "koble"
    data = invitation(meeting["id"], meeting["chosen_time"], meeting["place"], (a["name"], b["name"]), domain)
    attachment = ("koble-meeting.ics", ics.MIME, data)
    return [await _meeting_email(conn, settings, "match_meeting", me, other, meeting, attachment)
            for me, other in ((a, b), (b, a))]


async def _meeting_email(
    conn: asyncpg.Connection, settings: Settings, template: str, me: asyncpg.Record, other: asyncpg.Record,
    meeting: asyncpg.Record, attachment: tuple[str, str, bytes] | None = None,
) -> int:
    rendered = mail.render(
        template, me["email"], me["language"], name=me["name"], other=other, place=meeting["place"],
        times=[oslo(at) for at in meeting["times"]],
        chosen=oslo(meeting["chosen_time"]) if meeting["chosen_time"] else None,
        link=f"{settings.koble_base_url}/me/matches/{meeting['match_id']}?lang={me['language']}#meeting",
    )
    return await mail.queue(conn, me["id"], rendered, match_id=meeting["match_id"], attachment=attachment)


# --- the data download and retention ---


async def export(conn: asyncpg.Connection, participant_id: int) -> dict[str, list[dict[str, Any]]]:
    """The messages a participant sent or received and their matches' meetings (times in ISO, UTC offset)."""
    sent, met = await repository.conversation_of(conn, participant_id)
    return {
        "messages": [{**dict(row), "created_at": row["created_at"].isoformat()} for row in sent],
        "meetings": [_meeting_out(row) for row in met],
    }


def _meeting_out(row: asyncpg.Record) -> dict[str, Any]:
    chosen = row["chosen_time"]
    return {
        "match_id": row["match_id"], "proposed_by_me": row["proposed_by_me"], "place": row["place"],
        "status": row["status"], "times": [oslo(at).isoformat() for at in row["times"]],
        "chosen_time": oslo(chosen).isoformat() if chosen else None, "created_at": row["created_at"].isoformat(),
    }


async def purge(conn: asyncpg.Connection, settings: Settings, now: dt.datetime) -> tuple[int, int]:
    """Delete the conversations of matches finished more than KOBLE_RETENTION_DELETE_MONTHS ago."""
    before = now - dt.timedelta(days=round(settings.retention_delete_months * 30.44))
    return await repository.purge_conversations(conn, sorted(TERMINAL), before)
