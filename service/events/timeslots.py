"""Time slots of an event from its sessions, meeting length and breaks, in Europe/Oslo (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from service.kit.i18n import OSLO, from_local_form

Span = tuple[dt.datetime, dt.datetime]


def slots(sessions: Sequence[Span], meeting_minutes: int, break_minutes: int) -> list[Span]:
    """Back-to-back meetings with a break between, as many as fit in each session, in time order."""
    length, step = dt.timedelta(minutes=meeting_minutes), dt.timedelta(minutes=meeting_minutes + break_minutes)
    found: list[Span] = []
    for start, end in sorted(sessions):
        at = start
        while at + length <= end:
            found.append((at, at + length))
            at += step
    return found


def local(text: str) -> dt.datetime:
    """A `datetime-local` form value (YYYY-MM-DDTHH:MM) read as Oslo time; ValueError if malformed."""
    return from_local_form(text)


def form_value(value: dt.datetime | None) -> str:
    """A time as a `datetime-local` form value in Oslo time ('' for none)."""
    return value.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M") if value else ""


def clock(value: dt.datetime) -> str:
    """HH:MM in Oslo time."""
    return value.astimezone(OSLO).strftime("%H:%M")


def day(value: dt.datetime) -> str:
    """YYYY-MM-DD in Oslo time."""
    return value.astimezone(OSLO).strftime("%Y-%m-%d")


def within(slot: Span, arrives: dt.datetime | None, leaves: dt.datetime | None) -> bool:
    """Whether someone arriving and leaving at these times (None: open) is there for the whole slot."""
    return (arrives is None or arrives <= slot[0]) and (leaves is None or slot[1] <= leaves)
