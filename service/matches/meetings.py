"""The match page's conversation, pure: checking a message and a meeting proposal (times in Europe/Oslo),
the refusals that name the field, and a chosen meeting as an .ics invitation (`kit.ics`). No I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from service.kit import i18n, ics
from service.kit.errors import FieldRefusal, KobleError
from service.kit.i18n import OSLO

MAX_TIMES = 3
MESSAGE_CHARS = 4000
PLACE_CHARS = 200
DEFAULT_PLACE = "Bright House"
# A meeting's length in the invitation: Bright House's first meetings are an hour.
MEETING_MINUTES = 60
# States in which the parties may write and propose meetings: introduced and still open.
TALKING = ("introduced", "mutual", "meeting_held", "project_agreed")


class ConversationRefused(FieldRefusal):
    """A message or meeting the match page cannot take (HTTP 422), naming the field (`field: reason`)."""

    status = 422


class NotAParty(KobleError):
    """Someone who is not one of the match's two parties (HTTP 404: the match is not theirs to see)."""

    status = 404
    template = "No such match"


class TooManyMessages(KobleError):
    """The sender is over KOBLE_RATE_LIMIT_MESSAGES (HTTP 429)."""

    status = 429
    template = "message: you have sent many messages in a short time; please wait a while and try again"


@dataclass(frozen=True)
class Proposal:
    """A checked meeting proposal: 1-3 distinct future times (aware) and a place."""

    times: tuple[dt.datetime, ...]
    place: str


def check_message(body: str) -> str:
    """The message as stored (trimmed); refuses an empty or too long one."""
    text = body.strip()
    if not text:
        raise ConversationRefused("message", "message: write a message before sending")
    if len(text) > MESSAGE_CHARS:
        raise ConversationRefused("message", "message: at most %(n)s characters", n=MESSAGE_CHARS)
    return text


def parse_time(text: str, field: str) -> dt.datetime:
    """A `datetime-local` value (YYYY-MM-DDTHH:MM) read as Oslo time; refuses anything else."""
    try:
        return i18n.from_local_form(text)
    except ValueError:
        raise ConversationRefused(field, "%(field)s: give a date and time such as 2026-12-10 14:00",
                                  field=field) from None


def check_proposal(texts: Sequence[str], place: str, now: dt.datetime) -> Proposal:
    """Check a proposal: up to three times, none in the past, none twice, and a place."""
    if len(texts) > MAX_TIMES:
        raise ConversationRefused("time", "time: propose at most %(n)s times", n=MAX_TIMES)
    filled = [(f"time{i + 1}", text) for i, text in enumerate(texts) if text.strip()]
    if not filled:
        raise ConversationRefused("time1", "time1: propose at least one time")
    times = tuple(parse_time(text, field) for field, text in filled)
    for (field, _), at in zip(filled, times, strict=True):
        if at <= now:
            raise ConversationRefused(field, "%(field)s: this time has passed; choose a time in the future",
                                      field=field)
    if len(set(times)) < len(times):
        raise ConversationRefused(filled[-1][0], "%(field)s: the same time is proposed twice", field=filled[-1][0])
    return Proposal(tuple(sorted(times)), _check_place(place))


def _check_place(place: str) -> str:
    text = " ".join(place.split())
    if not text:
        raise ConversationRefused("place", "place: say where to meet (for example Bright House)")
    if len(text) > PLACE_CHARS:
        raise ConversationRefused("place", "place: at most %(n)s characters", n=PLACE_CHARS)
    return text


def check_choice(times: Sequence[dt.datetime], choice: str) -> dt.datetime:
    """The proposed time a choice names (an ISO time with its offset, as the page's radio buttons send it)."""
    try:
        wanted = dt.datetime.fromisoformat(choice.strip())
    except ValueError:
        wanted = None
    for at in times:
        if wanted is not None and wanted.tzinfo is not None and at == wanted:
            return at
    raise ConversationRefused("choice", "choice: choose one of the proposed times")


def invitation(meeting_id: int, at: dt.datetime, place: str, names: tuple[str, str], domain: str) -> bytes:
    """The chosen meeting as an iCalendar invitation; one UID per proposal, so a changed time updates it."""
    entry = ics.Entry(
        uid=f"koble-match-meeting-{meeting_id}@{domain}", summary=f"{names[0]} · {names[1]}",
        start=at.astimezone(OSLO), end=(at + dt.timedelta(minutes=MEETING_MINUTES)).astimezone(OSLO),
        location=place, description="Koble · Bright House",
    )
    return ics.calendar([entry], "Koble", method="PUBLISH")


def oslo(at: dt.datetime) -> dt.datetime:
    """A stored time in Oslo time, as the pages and emails show it."""
    return at.astimezone(OSLO)
