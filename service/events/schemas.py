"""The events domain's shapes: the staff's event form (parsed, each error naming its field), what a
page shows, and the domain's refusals (kit.errors.KobleError)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.events import timeslots
from service.kit.errors import Conflict, FieldRefusal, Forbidden, KobleError, NotFound
from service.kit.i18n import _

Span = tuple[dt.datetime, dt.datetime]
# One session per line: "2026-12-10 09:00-12:00" (Europe/Oslo), a hyphen or an en dash between the times.
SESSION_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})\s*[-\u2013]\s*(\d{1,2}:\d{2})$")


def N_(text: str) -> str:
    """Mark a refusal's message for the catalog; KobleError translates it when the answer is rendered."""
    return text


class EventNotFound(NotFound):
    """No event with that id (404)."""

    template = "No event with id %(event_id)s"


class NotAttendee(Forbidden):
    """Only the event's attendees may do this (403)."""

    template = N_("Sign up for the event first.")


class EventRefusal(FieldRefusal, Conflict):
    """A request the event's rules or state refuse (409), with the field at fault."""


class MoveRefused(KobleError):
    """A hand move that breaks a scheduling rule; the message names the rule (422)."""

    status = 422
    template = N_("This move breaks a rule: %(rule)s")


@dataclass(frozen=True)
class TableInput:
    """One table: its name ('' for just the number) and the host's email (their own stand)."""

    name: str
    host_email: str | None


@dataclass(frozen=True)
class EventInput:
    """A valid event form."""

    name: str
    place: str
    sessions: list[Span]
    meeting_minutes: int
    break_minutes: int
    signup_deadline: dt.datetime | None
    booking_deadline: dt.datetime | None
    request_mode: str
    max_meetings: int
    solver_seconds: float
    tables: list[TableInput]

    def columns(self) -> dict[str, Any]:
        """The events row's columns."""
        return {name: getattr(self, name) for name in (
            "name", "place", "meeting_minutes", "break_minutes", "signup_deadline", "booking_deadline",
            "request_mode", "max_meetings", "solver_seconds")}


@dataclass
class EventForm:
    """The form as typed (kept when shown again) and the message for each field at fault."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


BLANK = {"name": "", "place": "Bright House", "sessions": "", "meeting_minutes": "20", "break_minutes": "5",
         "signup_deadline": "", "booking_deadline": "", "request_mode": "accept", "max_meetings": "6",
         "solver_seconds": "10", "table_count": "10", "table_names": ""}


def parse_event(values: Mapping[str, str]) -> tuple[EventInput | None, EventForm]:
    """Validate the event form; (None, form with errors) when any field is at fault."""
    # Blank lines in the table names keep their place (table 1 unnamed, table 2 named ...).
    form = EventForm({k: str(values.get(k, "")).rstrip() if k == "table_names" else str(values.get(k, "")).strip()
                      for k in BLANK})
    v, errors = form.values, form.errors
    if not 1 <= len(v["name"]) <= 200:
        errors["name"] = _("Give the event a name (at most 200 characters).")
    if len(v["place"]) > 200:
        errors["place"] = _("At most 200 characters.")
    sessions = _sessions(v["sessions"], errors)
    numbers = {name: _number(v[name], low, high, name, errors) for name, low, high in (
        ("meeting_minutes", 5, 240), ("break_minutes", 0, 240), ("max_meetings", 1, 100),
        ("solver_seconds", 1, 600), ("table_count", 1, 500))}
    deadlines = {name: _optional_time(v[name], name, errors) for name in ("signup_deadline", "booking_deadline")}
    if v["request_mode"] not in ("accept", "auto"):
        errors["request_mode"] = _("Choose how requests are accepted.")
    tables = _tables(v["table_names"], numbers["table_count"] or 0, errors)
    if errors:
        return None, form
    return EventInput(v["name"], v["place"], sessions, numbers["meeting_minutes"] or 0, numbers["break_minutes"] or 0,
                      deadlines["signup_deadline"], deadlines["booking_deadline"], v["request_mode"],
                      numbers["max_meetings"] or 0, float(numbers["solver_seconds"] or 10), tables), form


def _sessions(text: str, errors: dict[str, str]) -> list[Span]:
    found: list[Span] = []
    for number, line in enumerate((ln.strip() for ln in text.splitlines()), start=1):
        if not line:
            continue
        parsed = SESSION_LINE.match(line)
        try:
            assert parsed is not None
            start = timeslots.local(f"{parsed.group(1)}T{parsed.group(2).zfill(5)}")
            end = timeslots.local(f"{parsed.group(1)}T{parsed.group(3).zfill(5)}")
            assert end > start
        except (AssertionError, ValueError):
            errors["sessions"] = _("Line %(line)s: write a session as 2026-12-10 09:00-12:00.") % {"line": number}
            return []
        found.append((start, end))
    if not found:
        errors["sessions"] = _("Give at least one session, as 2026-12-10 09:00-12:00.")
    return found


def _number(text: str, low: int, high: int, name: str, errors: dict[str, str]) -> int | None:
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    errors[name] = _("Give a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return None


def _optional_time(text: str, name: str, errors: dict[str, str]) -> dt.datetime | None:
    if not text:
        return None
    try:
        return timeslots.local(text)
    except ValueError:
        errors[name] = _("Give a date and time, as 2026-12-01T12:00.")
        return None


def _tables(text: str, count: int, errors: dict[str, str]) -> list[TableInput]:
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > count:
        errors["table_names"] = _("More names than tables: give at most one name per table.")
    tables = []
    for number in range(count):
        name, _sep, host = (lines[number] if number < len(lines) else "").partition("@")
        host = host.strip()
        if host and "@" not in host and host.count(".") == 0:
            errors["table_names"] = _("Line %(line)s: write a host's stand as Name @ email.") % {"line": number + 1}
        tables.append(TableInput(name.strip()[:100], host or None))
    return tables


def form_from_event(event: Mapping[str, Any], sessions: list[Span], tables: list[tuple[str, str | None]]) -> EventForm:
    """The form filled in with a stored event."""
    lines = [f"{timeslots.day(s)} {timeslots.clock(s)}-{timeslots.clock(e)}" for s, e in sessions]
    names = [f"{name} @ {host}" if host else name for name, host in tables]
    values = {"name": event["name"], "place": event["place"], "sessions": "\n".join(lines),
              "meeting_minutes": str(event["meeting_minutes"]), "break_minutes": str(event["break_minutes"]),
              "signup_deadline": timeslots.form_value(event["signup_deadline"]),
              "booking_deadline": timeslots.form_value(event["booking_deadline"]),
              "request_mode": event["request_mode"], "max_meetings": str(event["max_meetings"]),
              "solver_seconds": f"{event['solver_seconds']:g}", "table_count": str(len(tables)),
              "table_names": "\n".join(names).rstrip()}
    return EventForm(values)


@dataclass(frozen=True)
class AgendaItem:
    """One meeting on an attendee's agenda."""

    request_id: int
    start: dt.datetime
    end: dt.datetime
    table: str
    other_id: int
    other_name: str
    other_organisation: str | None
    reason: str


@dataclass(frozen=True)
class Agenda:
    """An attendee's agenda: their meetings in time order; final once published."""

    event: Mapping[str, Any]
    participant: Mapping[str, Any]
    items: list[AgendaItem]
    final: bool


@dataclass(frozen=True)
class RequestView:
    """A request as one of its two attendees sees it."""

    id: int
    incoming: bool
    other_id: int
    other_name: str
    reason: str
    status: str
    mutual: bool
