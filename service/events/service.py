"""Event days (issue 14): events, sign-up, suggestions among attendees, requests, the schedule, agendas,
check-in and the follow-up. The pages call only this module; it asks profiles, matching, matches and
mail through their services (docs/architecture.md) and owns the event tables through its repository.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from itsdangerous import BadSignature, URLSafeSerializer

from service.events import repository, scheduling, timeslots
from service.events.schemas import (
    N_,
    Agenda,
    AgendaItem,
    EventInput,
    EventNotFound,
    EventRefusal,
    MoveRefused,
    NotAttendee,
    RequestView,
)
from service.kit.audit import Actor
from service.kit.config import Settings
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.matches import service as matches
from service.matching import service as matching
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields

# The weight of a meeting in the schedule: every accepted meeting is worth 1, plus the ranker's score
# of the pair (0 to about 1: a better fit counts more), plus MUTUAL_BONUS when both asked for it.
MUTUAL_BONUS = 0.5
_CHECKIN_SALT = "koble.events.checkin"
_USEFUL_SALT = "koble.events.useful"


def now() -> dt.datetime:
    """The current time (UTC)."""
    return dt.datetime.now(dt.UTC)


# --- events: create, edit, read ---


async def create_event(conn: asyncpg.Connection, data: EventInput) -> asyncpg.Record:
    """A new event with its sessions, slots and tables."""
    async with conn.transaction():
        row = await repository.insert_event(conn, data.columns())
        await _store_parts(conn, row["id"], data)
    return row


async def update_event(conn: asyncpg.Connection, event_id: int, data: EventInput) -> None:
    """Change an event; slots and tables that stay keep their meetings."""
    async with conn.transaction():
        await event_or_404(conn, event_id, lock=True)
        await repository.update_event(conn, event_id, data.columns())
        await _store_parts(conn, event_id, data)


async def _store_parts(conn: asyncpg.Connection, event_id: int, data: EventInput) -> None:
    await repository.replace_sessions(conn, event_id, data.sessions)
    await repository.replace_slots(conn, event_id,
                                   timeslots.slots(data.sessions, data.meeting_minutes, data.break_minutes))
    hosts = await _hosts(conn, [t.host_email for t in data.tables if t.host_email])
    await repository.replace_tables(conn, event_id, [
        (t.name, hosts.get((t.host_email or "").lower())) for t in data.tables])


async def _hosts(conn: asyncpg.Connection, emails: Sequence[str]) -> dict[str, int]:
    """Participant ids of hosts' email addresses (lower case); an unknown address names no host."""
    known = await profiles.emails_in_use(conn, [e.lower() for e in emails])
    rows = await profiles.by_external_ids(conn, list(known.values()))
    return {row["email"].lower(): row["id"] for row in rows}


async def event_or_404(conn: asyncpg.Connection, event_id: int, lock: bool = False) -> asyncpg.Record:
    """One event, or EventNotFound."""
    row = await repository.event(conn, event_id, lock)
    if row is None:
        raise EventNotFound(event_id=event_id)
    return row


async def events(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every event, newest first, with its start and attendee count."""
    return await repository.events(conn)


async def sessions(conn: asyncpg.Connection, event_id: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """An event's sessions."""
    return [(row["starts_at"], row["ends_at"]) for row in await repository.sessions(conn, event_id)]


async def slots(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """An event's time slots in order."""
    return await repository.slots(conn, event_id)


async def tables(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """An event's tables by number."""
    return await repository.tables(conn, event_id)


async def table_inputs(conn: asyncpg.Connection, event_id: int) -> list[tuple[str, str | None]]:
    """(name, host email) of every table, for the edit form."""
    rows = await repository.tables(conn, event_id)
    hosts = await profiles.by_ids(conn, [r["host_participant_id"] for r in rows if r["host_participant_id"]])
    return [(r["name"], hosts[r["host_participant_id"]]["email"] if r["host_participant_id"] in hosts else None)
            for r in rows]


def table_label(number: int | None, name: str | None) -> str:
    """A table as people read it: its name, else its number."""
    return name or (str(number) if number is not None else "")


# --- attendees ---


async def sign_up(conn: asyncpg.Connection, event: Mapping[str, Any], participant_id: int) -> bool:
    """Sign a participant up (one click); False if already signed up. Refused after the deadline."""
    if event["closed_at"] is not None or (event["signup_deadline"] and now() > event["signup_deadline"]):
        raise EventRefusal("event", N_("Sign-up for this event has closed."))
    return await repository.sign_up(conn, event["id"], participant_id)


async def register_and_sign_up(
    conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, event: Mapping[str, Any],
    data: ParticipantFields,
) -> None:
    """A new person registers and signs up at once: they count as an attendee once their address is
    confirmed (profiles' verification). A known address only gets its sign-in link (no one signs up
    someone else), and the answer is the same either way."""
    if event["closed_at"] is not None or (event["signup_deadline"] and now() > event["signup_deadline"]):
        raise EventRefusal("event", N_("Sign-up for this event has closed."))
    row = await profiles.register(conn, redis, settings, data)
    if row is not None:
        await repository.sign_up(conn, event["id"], row["id"])


async def attendee(conn: asyncpg.Connection, event_id: int, participant_id: int) -> asyncpg.Record | None:
    """One attendee row, or None."""
    return await repository.attendee(conn, event_id, participant_id)


async def attendee_or_403(conn: asyncpg.Connection, event_id: int, participant_id: int) -> asyncpg.Record:
    """The attendee row of a signed-in participant, or NotAttendee."""
    row = await repository.attendee(conn, event_id, participant_id)
    if row is None:
        raise NotAttendee()
    return row


async def attendees(conn: asyncpg.Connection, event_id: int) -> list[tuple[asyncpg.Record, asyncpg.Record]]:
    """(attendee row, participant row) of every confirmed attendee (address verified), in sign-up order."""
    rows = await repository.attendees(conn, event_id)
    people = await profiles.by_ids(conn, [r["participant_id"] for r in rows])
    return [(r, people[r["participant_id"]]) for r in rows
            if r["participant_id"] in people and people[r["participant_id"]]["verified_at"] is not None]


async def my_events(conn: asyncpg.Connection, participant_id: int) -> set[int]:
    """The events a participant signed up for."""
    return await repository.events_of(conn, participant_id)


async def set_presence(
    conn: asyncpg.Connection, event_id: int, participant_id: int, arrives: dt.datetime | None,
    leaves: dt.datetime | None, blocked: Sequence[int],
) -> None:
    """An attendee's arrival and leaving time and the slots they block."""
    if arrives and leaves and leaves <= arrives:
        raise EventRefusal("leaves_at", N_("Leaving must be after arriving."))
    await repository.set_presence(conn, event_id, participant_id, arrives, leaves, blocked)


async def blocked_slots(conn: asyncpg.Connection, event_id: int, participant_id: int) -> set[int]:
    """The slots an attendee blocked."""
    return {r["slot_id"] for r in await repository.blocks(conn, event_id) if r["participant_id"] == participant_id}


# --- suggestions and requests ---


async def next_suggestion(
    conn: asyncpg.Connection, settings: Settings, event_id: int, participant_id: int,
) -> matching.Suggestion | None:
    """The best attendee this participant has no request with yet (the ranker among attendees), or None."""
    taken = {r["from_id"] if r["to_id"] == participant_id else r["to_id"]
             for r in await repository.requests_of(conn, event_id, participant_id)}
    among = [a["participant_id"] for a, _ in await attendees(conn, event_id)
             if a["participant_id"] != participant_id and a["participant_id"] not in taken and a["no_show_at"] is None]
    if not among:
        return None
    model = matching.model_name(settings)
    found = await matching.suggest(conn, participant_id, 1, model, matching.ranker_config(model), among=among)
    return found[0] if found else None


async def _score(conn: asyncpg.Connection, settings: Settings, from_id: int, to_id: int) -> float | None:
    """The ranker's score of a pair (None when a hard constraint rules it out)."""
    model = matching.model_name(settings)
    found = await matching.suggest(conn, from_id, 1, model, matching.ranker_config(model), among=[to_id],
                                   record_exposure=False)
    return found[0].score if found else None


async def request_meeting(
    conn: asyncpg.Connection, settings: Settings, event: Mapping[str, Any], from_id: int, to_external_id: str,
    reason: str,
) -> asyncpg.Record:
    """Ask another attendee for a meeting, with a short reason. When they asked first, this accepts theirs
    (a mutual meeting); in 'auto' mode a request counts as accepted at once."""
    _booking_open(event)
    if len(reason.strip()) > 300:
        raise EventRefusal("reason", N_("Keep the reason to 300 characters."))
    other = await profiles.by_external_id(conn, to_external_id)
    if other is None or other["id"] == from_id or await repository.attendee(conn, event["id"], other["id"]) is None:
        raise EventRefusal("to", N_("That person is not an attendee of this event."))
    score = await _score(conn, settings, from_id, other["id"])
    async with conn.transaction():
        existing = await repository.request_between(conn, event["id"], from_id, other["id"])
        if existing is not None:
            return await _answer_existing(conn, existing, from_id)
        status = "accepted" if event["request_mode"] == "auto" else "requested"
        row = await repository.insert_request(conn, event["id"], from_id, other["id"], reason.strip(), status, score)
    if row is None:  # the other asked at the same moment
        return await request_meeting(conn, settings, event, from_id, to_external_id, reason)
    return row


async def _answer_existing(conn: asyncpg.Connection, existing: asyncpg.Record, from_id: int) -> asyncpg.Record:
    if existing["to_id"] == from_id and existing["status"] == "requested":
        decided = await repository.decide(conn, existing["id"], "accepted", mutual=True)
        return decided or existing
    raise EventRefusal("to", N_("You already have a request with this person."))


def _booking_open(event: Mapping[str, Any]) -> None:
    if event["closed_at"] is not None or (event["booking_deadline"] and now() > event["booking_deadline"]):
        raise EventRefusal("event", N_("Meeting requests for this event have closed."))


async def decide(
    conn: asyncpg.Connection, event: Mapping[str, Any], participant_id: int, request_id: int, accept: bool,
) -> asyncpg.Record:
    """The asked attendee accepts or declines a request; refused when it is not theirs or already decided."""
    row = await repository.request(conn, request_id)
    if row is None or row["event_id"] != event["id"] or row["to_id"] != participant_id:
        raise EventRefusal("request", N_("This request is not yours to answer."))
    decided = await repository.decide(conn, request_id, "accepted" if accept else "declined")
    if decided is None:
        raise EventRefusal("request", N_("This request was answered already."))
    return decided


async def requests_of(conn: asyncpg.Connection, event_id: int, participant_id: int) -> list[RequestView]:
    """A participant's requests at an event, both ways, with the other's name and the status."""
    rows = await repository.requests_of(conn, event_id, participant_id)
    others = await profiles.by_ids(conn, [r["from_id"] if r["to_id"] == participant_id else r["to_id"] for r in rows])
    views = []
    for r in rows:
        other = r["from_id"] if r["to_id"] == participant_id else r["to_id"]
        name = others[other]["name"] if other in others else "?"
        views.append(RequestView(r["id"], r["to_id"] == participant_id, other, name, r["reason"], r["status"],
                                 r["mutual"]))
    return views


# --- the schedule ---


@dataclass(frozen=True)
class Built:
    """A scheduling problem built from an event, and how its ids map back to rows."""

    problem: scheduling.Problem
    table_ids: dict[int, int]  # table number -> event_tables.id
    numbers: dict[int, int]  # event_tables.id -> number
    hosts: dict[int, int]  # participant id -> the number of the table they host


def _weight(request: Mapping[str, Any]) -> float:
    return 1.0 + max(float(request["score"] or 0.0), 0.0) + (MUTUAL_BONUS if request["mutual"] else 0.0)


async def build_problem(conn: asyncpg.Connection, event: Mapping[str, Any]) -> Built:
    """The event as a scheduling problem: accepted meetings of present attendees; published meetings
    stay where they are (fixed) unless one of their attendees is gone."""
    slot_rows = await repository.slots(conn, event["id"])
    table_rows = await repository.tables(conn, event["id"])
    present = {a["participant_id"]: a for a, _ in await attendees(conn, event["id"]) if a["no_show_at"] is None}
    blocked: dict[int, set[int]] = defaultdict(set)
    for b in await repository.blocks(conn, event["id"]):
        blocked[b["participant_id"]].add(b["slot_id"])
    people = tuple(scheduling.Person(str(pid), frozenset(
        str(s["id"]) for s in slot_rows if s["id"] not in blocked[pid]
        and timeslots.within((s["starts_at"], s["ends_at"]), a["arrives_at"], a["leaves_at"])), event["max_meetings"])
        for pid, a in present.items())
    accepted = [r for r in await repository.requests(conn, event["id"])
                if r["status"] == "accepted" and r["from_id"] in present and r["to_id"] in present]
    meetings = tuple(scheduling.Meeting(str(r["id"]), str(r["from_id"]), str(r["to_id"]), _weight(r)) for r in accepted)
    numbers = {t["id"]: t["number"] for t in table_rows}
    free = {p.id: p.available for p in people}
    # A published meeting stays put while both attendees are still there in its slot (a later block or
    # a changed arrival releases it, rather than giving the solver a fixed meeting it cannot keep).
    fixed = tuple(scheduling.Fixed(str(m["request_id"]), str(m["published_slot_id"]), numbers[m["published_table_id"]])
                  for m in await repository.meetings(conn, event["id"])
                  if m["published_slot_id"] is not None and m["published_table_id"] in numbers
                  and str(m["published_slot_id"]) in free.get(str(m["from_id"]), frozenset())
                  and str(m["published_slot_id"]) in free.get(str(m["to_id"]), frozenset()) and m["held_at"] is None)
    known = {m.id for m in meetings}
    problem = scheduling.Problem(
        tuple(scheduling.Slot(str(s["id"]), s["starts_at"], s["ends_at"]) for s in slot_rows), len(table_rows),
        people, meetings, tuple(f for f in fixed if f.meeting in known))
    hosts = {t["host_participant_id"]: t["number"] for t in table_rows if t["host_participant_id"]}
    return Built(problem, {n: i for i, n in numbers.items()}, numbers, hosts)


def host_tables(built: Built, schedule: scheduling.Schedule) -> list[scheduling.Assignment]:
    """The schedule with hosts meeting at their own stand where it is free in that slot (tables are
    interchangeable within a slot, so this keeps every rule); fixed meetings keep their table."""
    fixed = {f.meeting for f in built.problem.fixed}
    meetings = {m.id: m for m in built.problem.meetings}
    by_slot: dict[str, list[scheduling.Assignment]] = defaultdict(list)
    for a in schedule.assignments:
        by_slot[a.slot].append(a)
    placed: list[scheduling.Assignment] = []
    for slot, group in by_slot.items():
        taken = {a.table for a in group if a.meeting in fixed}
        placed += [a for a in group if a.meeting in fixed]
        placed += _seat(slot, [a for a in group if a.meeting not in fixed], meetings, built, taken)
    return placed


def _seat(slot: str, group: list[scheduling.Assignment], meetings: Mapping[str, scheduling.Meeting], built: Built,
          taken: set[int]) -> list[scheduling.Assignment]:
    wants: dict[str, int] = {}
    for a in group:
        m = meetings[a.meeting]
        own = built.hosts.get(int(m.a)) or built.hosts.get(int(m.b))
        if own is not None and own not in taken and own not in wants.values():
            wants[a.meeting] = own
    taken |= set(wants.values())
    free = iter(sorted(set(range(1, built.problem.tables + 1)) - taken))
    return [scheduling.Assignment(a.meeting, slot, wants[a.meeting] if a.meeting in wants else next(free))
            for a in group]


async def schedule(conn: asyncpg.Connection, event_id: int, seed: int = 0) -> scheduling.Schedule:
    """Run the scheduler for an event (its time limit) and store where every accepted meeting goes."""
    event = await event_or_404(conn, event_id)
    built = await build_problem(conn, event)
    if built.problem.meetings:
        # The solver is CPU-bound for up to its time limit: off the event loop, so the app keeps answering.
        result = await asyncio.to_thread(scheduling.solve, built.problem, float(event["solver_seconds"]), seed)
    else:  # nothing to place (no solver needed for an empty problem)
        result = scheduling.Schedule((), (), 0.0, 0.0, 0.0, True)
    assignments = host_tables(built, result)
    async with conn.transaction():
        await repository.place(conn, event_id, _placements(built, assignments))
        await repository.set_schedule_result(conn, event_id, result.objective, result.upper_bound, result.seconds)
    return result


def _placements(built: Built, assignments: Sequence[scheduling.Assignment]) -> list[tuple[int, int | None, int | None]]:
    where = {a.meeting: a for a in assignments}
    return [(int(m.id), int(where[m.id].slot) if m.id in where else None,
             built.table_ids[where[m.id].table] if m.id in where else None) for m in built.problem.meetings]


def current_schedule(built: Built, rows: Sequence[Mapping[str, Any]]) -> list[scheduling.Assignment]:
    """The placed meetings of an event as assignments of its problem."""
    known = {m.id for m in built.problem.meetings}
    return [scheduling.Assignment(str(r["request_id"]), str(r["slot_id"]), built.numbers[r["table_id"]])
            for r in rows if r["slot_id"] is not None and str(r["request_id"]) in known]


async def move(conn: asyncpg.Connection, event_id: int, request_id: int, slot_id: int, table_number: int) -> None:
    """Staff move one meeting by hand; MoveRefused naming the rule when the result breaks one."""
    async with conn.transaction():
        event = await event_or_404(conn, event_id, lock=True)
        built = await build_problem(conn, event)
        if str(request_id) not in {m.id for m in built.problem.meetings}:
            raise EventRefusal("meeting", N_("No accepted meeting %(id)s at this event."), id=request_id)
        current = [a for a in current_schedule(built, await repository.meetings(conn, event_id))
                   if a.meeting != str(request_id)]
        moved = [*current, scheduling.Assignment(str(request_id), str(slot_id), table_number)]
        # Published meetings are fixed for the solver, not for staff: a hand move may change them.
        problem = scheduling.Problem(built.problem.slots, built.problem.tables, built.problem.people,
                                     built.problem.meetings)
        broken = scheduling.check(problem, scheduling.Schedule(tuple(moved), (), 0.0, 0.0, 0.0, False))
        if broken:
            raise MoveRefused(rule="; ".join(broken))
        await repository.place(conn, event_id, [(request_id, slot_id, built.table_ids[table_number])])


async def meetings(conn: asyncpg.Connection, event_id: int) -> list[asyncpg.Record]:
    """Every meeting row of an event with slot and table (placed or not)."""
    return await repository.meetings(conn, event_id)


async def names(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, asyncpg.Record]:
    """Participant rows by id (the names a staff page shows)."""
    return await profiles.by_ids(conn, ids)


# --- agendas ---


async def agenda(conn: asyncpg.Connection, event: Mapping[str, Any], participant: Mapping[str, Any]) -> Agenda:
    """A participant's meetings at an event, in time order (preliminary until published)."""
    rows = [r for r in await repository.meetings_of(conn, event["id"], participant["id"]) if r["slot_id"]]
    others = await profiles.by_ids(conn, [r["to_id"] if r["from_id"] == participant["id"] else r["from_id"]
                                          for r in rows])
    items = []
    for r in rows:
        other = others.get(r["to_id"] if r["from_id"] == participant["id"] else r["from_id"])
        if other is not None:
            items.append(AgendaItem(r["request_id"], r["starts_at"], r["ends_at"],
                                    table_label(r["table_number"], r["table_name"]), other["id"], other["name"],
                                    other["organisation"], r["reason"]))
    return Agenda(event, participant, items, event["published_at"] is not None)


Sheet = tuple[asyncpg.Record, list[tuple[asyncpg.Record, str, str]]]


async def table_sheets(conn: asyncpg.Connection, event_id: int) -> list[Sheet]:
    """Per table, its meetings in time order: (table, [(meeting row, name a, name b)])."""
    rows = [r for r in await repository.meetings(conn, event_id) if r["slot_id"]]
    people = await profiles.by_ids(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
    by_table: dict[int, list[tuple[asyncpg.Record, str, str]]] = defaultdict(list)
    for r in rows:
        by_table[r["table_id"]].append((r, _name(people, r["from_id"]), _name(people, r["to_id"])))
    return [(t, sorted(by_table[t["id"]], key=lambda x: x[0]["starts_at"]))
            for t in await repository.tables(conn, event_id)]


def _name(people: Mapping[int, Mapping[str, Any]], pid: int) -> str:
    return str(people[pid]["name"]) if pid in people else "?"


async def publish(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, event_id: int) -> int:
    """Make the agendas final and email them: the first time to every attendee, afterwards only to the
    attendees a change affects. Exactly once: the event row is locked, and the published placement is
    stored in the transaction that writes the emails to the outbox. How many emails were written."""
    async with conn.transaction():
        event = await event_or_404(conn, event_id, lock=True)
        first = event["published_at"] is None
        everyone = {p["id"]: p for _, p in await attendees(conn, event_id)}
        affected = set(everyone) if first else _affected(await repository.changed_since_published(conn, event_id))
        await repository.mark_published(conn, event_id)
        await repository.publish_placements(conn, event_id)
        event = await event_or_404(conn, event_id)
        outbox = [await _agenda_email(conn, settings, event, everyone[pid], first)
                  for pid in sorted(affected) if pid in everyone]
    await mail_tasks.enqueue(redis, outbox)
    return len(outbox)


def _affected(rows: Sequence[Mapping[str, Any]]) -> set[int]:
    return {pid for r in rows for pid in (r["from_id"], r["to_id"])}


async def _agenda_email(conn: asyncpg.Connection, settings: Settings, event: Mapping[str, Any],
                        person: Mapping[str, Any], first: bool) -> int:
    mine = await agenda(conn, event, person)
    base, lang = settings.koble_base_url, person["language"]
    rendered = mail.render(
        "event_agenda", person["email"], lang, name=person["name"], event=event, first=first,
        items=[_email_item(item) for item in mine.items],
        link=f"{base}/me/events/{event['id']}/agenda?lang={lang}",
        calendar=f"{base}/me/events/{event['id']}/agenda.ics?lang={lang}",
    )
    return await mail.queue(conn, person["id"], rendered)


def _email_item(item: AgendaItem) -> dict[str, str]:
    return {"time": f"{timeslots.clock(item.start)}-{timeslots.clock(item.end)}", "table": item.table,
            "name": item.other_name, "organisation": item.other_organisation or ""}


# --- on the day: check-in, no-shows, meetings on the spot ---


def checkin_token(settings: Settings, event_id: int, participant_id: int) -> str:
    """The signed token of an attendee's check-in QR code."""
    return str(URLSafeSerializer(settings.secret_key(), salt=_CHECKIN_SALT).dumps([event_id, participant_id]))


def read_checkin(settings: Settings, token: str) -> tuple[int, int] | None:
    """(event id, participant id) of a check-in token, None if forged."""
    try:
        event_id, participant_id = URLSafeSerializer(settings.secret_key(), salt=_CHECKIN_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return int(event_id), int(participant_id)


async def check_in(conn: asyncpg.Connection, event_id: int, participant_id: int) -> None:
    """Mark an attendee arrived."""
    if not await repository.check_in(conn, event_id, participant_id):
        raise EventRefusal("participant", N_("Not an attendee of this event."))


async def no_show(conn: asyncpg.Connection, event_id: int, participant_id: int) -> int:
    """Mark an attendee who did not come; their meetings are freed. How many were freed."""
    async with conn.transaction():
        if not await repository.mark_no_show(conn, event_id, participant_id):
            raise EventRefusal("participant", N_("Only an attendee not checked in can be marked as not come."))
        return await repository.unplace_of(conn, event_id, participant_id)


async def spot_offers(
    conn: asyncpg.Connection, event: Mapping[str, Any], participant_id: int, after: dt.datetime | None = None,
) -> list[tuple[RequestView, asyncpg.Record, int]]:
    """Meetings on the spot: for each accepted but unscheduled request of this attendee, the first later
    slot where both are free and a table is (request, slot, table number)."""
    built = await build_problem(conn, event)
    rows = await repository.meetings(conn, event["id"])
    current = current_schedule(built, rows)
    placed = {a.meeting for a in current}
    schedulable = {m.id for m in built.problem.meetings} - placed
    mine = [v for v in await requests_of(conn, event["id"], participant_id)
            if v.status == "accepted" and str(v.id) in schedulable]
    slot_rows = {str(s["id"]): s for s in await repository.slots(conn, event["id"])}
    offers = []
    for view in mine:
        found = _first_free(built, current, str(view.id), after or now())
        if found is not None:
            offers.append((view, slot_rows[found[0]], found[1]))
    return offers


def _first_free(built: Built, current: list[scheduling.Assignment], meeting: str,
                after: dt.datetime) -> tuple[str, int] | None:
    problem = scheduling.Problem(built.problem.slots, built.problem.tables, built.problem.people,
                                 built.problem.meetings)
    for slot in built.problem.slots:
        if slot.start is not None and slot.start < after:
            continue
        used = {a.table for a in current if a.slot == slot.id}
        for table in range(1, built.problem.tables + 1):
            if table in used:
                continue
            trial = scheduling.Schedule((*current, scheduling.Assignment(meeting, slot.id, table)), (), 0, 0, 0, False)
            if not scheduling.check(problem, trial):
                return slot.id, table
            break
    return None


async def book_spot(conn: asyncpg.Connection, event_id: int, participant_id: int, request_id: int,
                    slot_id: int, table_number: int) -> None:
    """Book a free slot for an accepted meeting on the spot (checked like a hand move)."""
    row = await repository.request(conn, request_id)
    if row is None or row["event_id"] != event_id or participant_id not in (row["from_id"], row["to_id"]):
        raise EventRefusal("request", N_("This request is not yours."))
    await move(conn, event_id, request_id, slot_id, table_number)


# --- after: held meetings become matches, was it useful?, the report ---


async def close_event(conn: asyncpg.Connection, redis: ArqRedis | None, settings: Settings, event_id: int) -> int:
    """After the event: every meeting both attendees were checked in for is held and becomes a match at
    `meeting_held` (the follow-up lifecycle's reminders then ask about a project); each checked-in
    attendee is asked "was it useful?". How many meetings were held. Only once per event."""
    outbox: list[int] = []
    async with conn.transaction():
        await event_or_404(conn, event_id, lock=True)
        if not await repository.mark_closed(conn, event_id):
            raise EventRefusal("event", N_("This event is closed already."))
        present = {a["participant_id"]: p for a, p in await attendees(conn, event_id) if a["checked_in_at"]}
        held = [m for m in await repository.meetings(conn, event_id)
                if m["slot_id"] and m["from_id"] in present and m["to_id"] in present]
        for m in held:
            match_id, emails = await _to_match(conn, settings, m)
            outbox += emails
            await repository.mark_held(conn, m["request_id"], match_id)
        event = await event_or_404(conn, event_id)
        outbox += [await _useful_email(conn, settings, event, person) for person in present.values()]
    await mail_tasks.enqueue(redis, outbox)
    return len(held)


async def _to_match(
    conn: asyncpg.Connection, settings: Settings, meeting: Mapping[str, Any]
) -> tuple[int | None, list[int]]:
    """A held meeting as a match born `meeting_held`; a pair already matched moves on if it was mutual."""
    ids = (int(meeting["from_id"]), int(meeting["to_id"]))
    actor = Actor.system()
    row, outbox = await matches.create(conn, settings, ids, "meeting_held", "event", actor, score=meeting["score"])
    if row is not None:
        return int(row["id"]), outbox
    existing = await matches.by_pair(conn, *ids)
    if existing is not None and existing["state"] == "mutual":
        _, outbox = await matches.transition(conn, settings, existing["id"], "meeting_held", actor)
    return (int(existing["id"]) if existing else None), outbox


def useful_token(settings: Settings, event_id: int, participant_id: int) -> str:
    """The signed token of an attendee's "was it useful?" links."""
    return str(URLSafeSerializer(settings.secret_key(), salt=_USEFUL_SALT).dumps([event_id, participant_id]))


async def _useful_email(conn: asyncpg.Connection, settings: Settings, event: Mapping[str, Any],
                        person: Mapping[str, Any]) -> int:
    token = useful_token(settings, event["id"], person["id"])
    base, lang = settings.koble_base_url, person["language"]
    rendered = mail.render("event_useful", person["email"], person["language"], name=person["name"], event=event,
                           yes=f"{base}/events/useful/{token}?answer=yes&lang={lang}",
                           no=f"{base}/events/useful/{token}?answer=no&lang={lang}")
    return await mail.queue(conn, person["id"], rendered)


async def answer_useful(conn: asyncpg.Connection, settings: Settings, token: str, useful: bool) -> bool:
    """Store a one-click answer to "was it useful?"; False for a forged token or an unknown attendee."""
    try:
        event_id, participant_id = URLSafeSerializer(settings.secret_key(), salt=_USEFUL_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return False
    return await repository.set_useful(conn, int(event_id), int(participant_id), useful)


REPORT_COLUMNS = ("signed_up", "requests", "accepted", "scheduled", "held", "useful", "followed")


async def report(conn: asyncpg.Connection, event_id: int) -> list[tuple[str, dict[str, int]]]:
    """The event's numbers overall, per domain and per kind (of the attendee, or of either party of a
    request or meeting): signed up, requests, accepted, scheduled, held, found it useful, and what
    followed (held meetings whose match went on to a project)."""
    people = {p["id"]: p for _, p in await attendees(conn, event_id)}
    rows = await repository.attendees(conn, event_id)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for a in rows:
        _count(counts, people, [a["participant_id"]], "signed_up")
        if a["useful"]:
            _count(counts, people, [a["participant_id"]], "useful")
    for r in await repository.requests(conn, event_id):
        _count(counts, people, [r["from_id"], r["to_id"]], "requests")
        if r["status"] == "accepted":
            _count(counts, people, [r["from_id"], r["to_id"]], "accepted")
    followed = await _followed(conn, await repository.meetings(conn, event_id))
    for m in await repository.meetings(conn, event_id):
        for column, yes in (("scheduled", m["slot_id"] or m["held_at"]), ("held", m["held_at"]),
                            ("followed", m["match_id"] in followed)):
            if yes:
                _count(counts, people, [m["from_id"], m["to_id"]], column)
    order = sorted(counts, key=lambda key: (key != "all", key))
    return [(key, {c: counts[key][c] for c in REPORT_COLUMNS}) for key in order]


def _count(counts: dict[str, Counter[str]], people: Mapping[int, Mapping[str, Any]], ids: Sequence[int],
           column: str) -> None:
    """Count one thing once overall and once in every domain and kind of the people it concerns."""
    keys = {"all"}
    for pid in ids:
        if pid in people:
            keys |= {f"domain:{d}" for d in people[pid]["domains"]} | {f"kind:{people[pid]['kind']}"}
    for key in keys:
        counts[key][column] += 1


async def _followed(conn: asyncpg.Connection, rows: Sequence[Mapping[str, Any]]) -> set[int]:
    """The matches of held meetings that went on past `meeting_held` (a project agreed or completed)."""
    ids = {int(r["match_id"]) for r in rows if r["match_id"]}
    found = set()
    for match_id in ids:
        row = await matches.by_id(conn, match_id)
        if row is not None and row["state"] in ("project_agreed", "project_completed"):
            found.add(match_id)
    return found


async def export_for(conn: asyncpg.Connection, participant_id: int) -> dict[str, list[asyncpg.Record]]:
    """The data download's event days: where the participant signed up, and their requests and meeting times."""
    return {"attended": await repository.export_of(conn, participant_id),
            "meetings": await repository.requests_export(conn, participant_id)}
