"""An attendee's agenda as one iCalendar file (`kit.ics`, the `icalendar` package) and the check-in QR code as
SVG (`segno`, drawn here, no external service). Pure: no I/O."""

from __future__ import annotations

import functools
import io

import segno

from service.events.schemas import Agenda
from service.kit import ics


def agenda_ics(agenda: Agenda, domain: str) -> bytes:
    """Every meeting of an agenda as a VEVENT; UIDs stay the same when a meeting moves, so a calendar
    that imports the file again updates the meeting rather than adding a second one."""
    entries = (
        ics.Entry(
            uid=f"koble-event-{agenda.event['id']}-meeting-{item.request_id}@{domain}",
            summary=f"{item.other_name} · {agenda.event['name']}", start=item.start, end=item.end,
            location=f"{agenda.event['place']}, {item.table}".strip(", "), description=item.reason or "",
        )
        for item in agenda.items
    )
    return ics.calendar(entries, agenda.event["name"])


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
