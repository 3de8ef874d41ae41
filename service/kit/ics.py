"""iCalendar files (the `icalendar` package) for any domain: an event day's agenda, a match's meeting. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Event

MIME = "text/calendar"


@dataclass(frozen=True)
class Entry:
    """One VEVENT: a stable `uid` (a calendar importing the file again updates rather than duplicates)."""

    uid: str
    summary: str
    start: dt.datetime
    end: dt.datetime
    location: str = ""
    description: str = ""


def calendar(entries: Iterable[Entry], name: str, method: str | None = None) -> bytes:
    """Entries as one iCalendar file; `method` "REQUEST" makes mail clients offer to add it (RFC 5546)."""
    cal = Calendar()
    cal.add("prodid", "-//Bright House//Koble//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    if method:
        cal.add("method", method)
    for entry in entries:
        cal.add_component(_event(entry))
    return bytes(cal.to_ical())


def _event(entry: Entry) -> Event:
    event = Event()
    event.add("uid", entry.uid)
    event.add("summary", entry.summary)
    event.add("dtstart", entry.start)
    event.add("dtend", entry.end)
    event.add("dtstamp", entry.start)
    if entry.location:
        event.add("location", entry.location)
    if entry.description:
        event.add("description", entry.description)
    return event
