"""An attendee's agenda as one iCalendar file (the `icalendar` package) and the check-in QR code as
SVG (`segno`, drawn here, no external service). Pure: no I/O."""

from __future__ import annotations

import functools
import io

import segno
from icalendar import Calendar, Event

from service.events.schemas import Agenda


def agenda_ics(agenda: Agenda, domain: str) -> bytes:
    """Every meeting of an agenda as a VEVENT; UIDs stay the same when a meeting moves, so a calendar
    that imports the file again updates the meeting rather than adding a second one."""
    calendar = Calendar()
    calendar.add("prodid", "-//Bright House//Koble//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", agenda.event["name"])
    for item in agenda.items:
        event = Event()
        event.add("uid", f"koble-event-{agenda.event['id']}-meeting-{item.request_id}@{domain}")
        event.add("summary", f"{item.other_name} · {agenda.event['name']}")
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
        event.add("dtstamp", item.start)
        event.add("location", f"{agenda.event['place']}, {item.table}".strip(", "))
        if item.reason:
            event.add("description", item.reason)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


@functools.lru_cache(maxsize=4096)
def qr_svg(text: str, title: str) -> str:
    """A QR code of `text` as inline SVG (scales to its box; `title` is its accessible name).

    One fixed mask pattern and no Micro QR: segno otherwise scores all eight masks, 21 ms a code of a
    check-in link against 3 ms (bench/events.py, load 12 on 2 cores), most of an agenda page's time;
    any mask is valid for readers. Cached: an attendee's code never changes.
    """
    buffer = io.BytesIO()
    code = segno.make(text, error="m", mask=0, micro=False)
    code.save(buffer, kind="svg", xmldecl=False, svgns=True, scale=4, border=2, title=title, svgclass="qr",
              omitsize=True)
    return buffer.getvalue().decode()
