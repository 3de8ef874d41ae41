"""The events domain against real Postgres, Redis and SMTP: an event from the staff form to the
follow-up, agenda emails exactly once (and only to those a change affects), the calendar file, and
hand moves refused by name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis
from icalendar import Calendar

from service.events import calendar, scheduling, timeslots
from service.events import service as events
from service.events.schemas import EventRefusal, MoveRefused, parse_event
from service.kit.config import Settings
from service.matches import service as matches
from service.matching import service as matching
from tests.conftest import Mailbox, body_text, run_worker
from tests.factories import MakeParticipant

FORM = {"name": "Robotics day", "place": "Bright House", "sessions": "2030-03-05 09:00-10:00",
        "meeting_minutes": "15", "break_minutes": "5", "request_mode": "accept", "max_meetings": "3",
        "solver_seconds": "2", "table_count": "2", "table_names": "Stand A\n"}


def test_slots_fill_each_session_with_meetings_and_breaks() -> None:
    start = timeslots.local("2030-03-05T09:00")
    found = timeslots.slots([(start, start + dt.timedelta(hours=1))], 15, 5)
    assert [timeslots.clock(s) for s, _ in found] == ["09:00", "09:20", "09:40"]
    assert all(e - s == dt.timedelta(minutes=15) for s, e in found)


def test_the_event_form_names_each_field_at_fault() -> None:
    data, form = parse_event({**FORM, "sessions": "tomorrow morning", "max_meetings": "0", "name": ""})
    assert data is None
    assert set(form.errors) == {"sessions", "max_meetings", "name"}
    assert form.values["sessions"] == "tomorrow morning"  # the input is kept


async def _event(conn: asyncpg.Connection, **changes: str) -> asyncpg.Record:
    data, form = parse_event({**FORM, **changes})
    assert data is not None, form.errors
    return await events.create_event(conn, data)


async def _people(make: MakeParticipant, n: int, embed: bool = False) -> list[asyncpg.Record]:
    """n/2 students and n/2 companies, all in one domain, half reading Norwegian and half English
    (embedded only where a test needs the ranker: without vectors a request has no score)."""
    people = []
    for i in range(n):
        kind = "student" if i % 2 == 0 else "company"
        people.append(await make(kind, domains=["industrial_tech"], embed=embed, language="nb" if i % 2 == 0 else "en",
                                 offers=["Robotics and Python" if kind == "student" else "Summer jobs in robotics"],
                                 seeks=["Summer job in robotics" if kind == "student" else "Students for robot cells"]))
    return people


async def _meet(conn: asyncpg.Connection, settings: Settings, event: Any, a: Any, b: Any) -> int:
    request = await events.request_meeting(conn, settings, event, a["id"], b["external_id"], "Robot cells")
    await events.decide(conn, event, b["id"], request["id"], accept=True)
    return int(request["id"])


async def test_an_event_from_sign_up_to_the_follow_up(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    event = await _event(conn)
    student, company = await _people(make_participant, 2, embed=True)
    for person in (student, company):
        assert await events.sign_up(conn, event, person["id"])
    assert not await events.sign_up(conn, event, student["id"])  # one click, once

    suggestion = await events.next_suggestion(conn, settings, event["id"], student["id"])
    assert suggestion is not None and suggestion.id == company["id"] and suggestion.explanation
    request = await events.request_meeting(conn, settings, event, student["id"], company["external_id"], "Robots")
    assert request["status"] == "requested" and request["score"] is not None
    assert await events.next_suggestion(conn, settings, event["id"], student["id"]) is None  # asked already
    seen = await events.requests_of(conn, event["id"], company["id"])
    assert [(v.incoming, v.status, v.reason) for v in seen] == [(True, "requested", "Robots")]
    await events.decide(conn, event, company["id"], request["id"], accept=True)

    result = await events.schedule(conn, event["id"])
    assert result.objective > 0 and result.upper_bound >= result.objective
    mine = await events.agenda(conn, await events.event_or_404(conn, event["id"]), student)
    assert [i.other_name for i in mine.items] == [company["name"]] and not mine.final

    for person in (student, company):
        await events.check_in(conn, event["id"], person["id"])
    assert await events.close_event(conn, None, settings, event["id"]) == 1
    match = await matches.by_pair(conn, student["id"], company["id"])
    assert match is not None and (match["state"], match["origin"]) == ("meeting_held", "event")
    funnel = (await matches.funnels(conn, "all"))[0]
    assert {s.state: s.reached for s in funnel.stages}["meeting_held"] == 1
    report = dict(await events.report(conn, event["id"]))
    assert {k: report["all"][k] for k in ("signed_up", "requests", "accepted", "scheduled", "held")} == {
        "signed_up": 2, "requests": 1, "accepted": 1, "scheduled": 1, "held": 1}
    assert report["kind:student"]["held"] == 1 and report["domain:industrial_tech"]["signed_up"] == 2
    assert await events.answer_useful(conn, settings, events.useful_token(settings, event["id"], student["id"]), True)
    assert dict(await events.report(conn, event["id"]))["all"]["useful"] == 1


async def test_agendas_are_emailed_once_and_changes_only_to_those_affected(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant, mailbox: Mailbox,
    arq_redis: ArqRedis,
) -> None:
    event = await _event(conn)
    people = await _people(make_participant, 6)
    for person in people:
        await events.sign_up(conn, event, person["id"])
    first = await _meet(conn, settings, event, people[0], people[1])
    await _meet(conn, settings, event, people[2], people[3])
    await events.schedule(conn, event["id"])

    assert await events.publish(conn, arq_redis, settings, event["id"]) == 6  # everyone, meetings or not
    assert await events.publish(conn, arq_redis, settings, event["id"]) == 0  # nothing changed: no email
    await run_worker(settings)
    assert sorted(m["To"] for m in mailbox.messages) == sorted(p["email"] for p in people)
    english = mailbox.to(people[1]["email"])[0]
    assert "Your agenda for Robotics day" in english["Subject"] and people[0]["name"] in body_text(english)
    assert "Din agenda" in mailbox.to(people[0]["email"])[0]["Subject"]  # in their language

    mailbox.messages.clear()
    built = await events.build_problem(conn, await events.event_or_404(conn, event["id"]))
    placed = {a.meeting: a for a in events.current_schedule(built, await events.meetings(conn, event["id"]))}
    free = next(s for s in built.problem.slots if s.id not in {a.slot for a in placed.values()})
    await events.move(conn, event["id"], first, int(free.id), 2)
    assert await events.publish(conn, arq_redis, settings, event["id"]) == 2
    await run_worker(settings)
    assert sorted(m["To"] for m in mailbox.messages) == sorted([people[0]["email"], people[1]["email"]])
    assert "changed" in mailbox.to(people[1]["email"])[0]["Subject"]


async def test_the_calendar_file_parses_back_with_every_meeting(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    event = await _event(conn, max_meetings="3")
    student, *companies = await _people(make_participant, 1) + [
        p for p in await _people(make_participant, 4) if p["kind"] == "company"]
    for person in (student, *companies):
        await events.sign_up(conn, event, person["id"])
    for company in companies:
        await _meet(conn, settings, event, student, company)
    await events.schedule(conn, event["id"])
    agenda = await events.agenda(conn, await events.event_or_404(conn, event["id"]), student)
    parsed = Calendar.from_ical(calendar.agenda_ics(agenda, "koble.example"))
    meetings = parsed.walk("VEVENT")
    assert len(meetings) == len(agenda.items) == 2
    assert {m.decoded("dtstart") for m in meetings} == {i.start for i in agenda.items}
    assert {str(m["summary"]).split(" · ")[0] for m in meetings} == {c["name"] for c in companies}
    assert "<svg" in calendar.qr_svg("https://koble.example/x", "Check-in")


async def test_a_hand_move_that_breaks_a_rule_is_refused_naming_it(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    event = await _event(conn)
    student, company, student2, company2 = await _people(make_participant, 4)
    for person in (student, company, student2, company2):
        await events.sign_up(conn, event, person["id"])
    first = await _meet(conn, settings, event, student, company)
    second = await _meet(conn, settings, event, student2, company2)
    slots = await events.slots(conn, event["id"])
    await events.set_presence(conn, event["id"], student["id"], None, None, [slots[2]["id"]])
    await events.schedule(conn, event["id"])
    rows = {r["request_id"]: r for r in await events.meetings(conn, event["id"])}

    with pytest.raises(MoveRefused) as refused:  # into a slot the student blocked
        await events.move(conn, event["id"], first, slots[2]["id"], 1)
    built = await events.build_problem(conn, await events.event_or_404(conn, event["id"]))
    others = [a for a in events.current_schedule(built, await events.meetings(conn, event["id"]))
              if a.meeting != str(first)]
    trial = (*others, scheduling.Assignment(str(first), str(slots[2]["id"]), 1))
    rules = scheduling.check(built.problem, scheduling.Schedule(trial, (), 0, 0, 0, False))
    assert rules and refused.value.params["rule"] == "; ".join(rules) and refused.value.status == 422

    target = rows[second]
    with pytest.raises(MoveRefused):  # onto the table another meeting has in that slot
        await events.move(conn, event["id"], first, target["slot_id"], target["table_number"])
    assert {r["request_id"]: r["slot_id"] for r in await events.meetings(conn, event["id"])} == {
        k: v["slot_id"] for k, v in rows.items()}  # nothing moved


async def test_rescheduling_keeps_published_meetings_unless_an_attendee_is_gone(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    event = await _event(conn, table_count="1")
    a, b, c, d = await _people(make_participant, 4)
    for person in (a, b, c, d):
        await events.sign_up(conn, event, person["id"])
    first = await _meet(conn, settings, event, a, b)
    await events.schedule(conn, event["id"])
    await events.publish(conn, None, settings, event["id"])
    published = {r["request_id"]: (r["slot_id"], r["table_id"]) for r in await events.meetings(conn, event["id"])}

    second = await _meet(conn, settings, event, c, d)
    await events.schedule(conn, event["id"])
    now = {r["request_id"]: (r["slot_id"], r["table_id"]) for r in await events.meetings(conn, event["id"])}
    assert now[first] == published[first] and now[second][0] not in (None, published[first][0])
    assert await events.publish(conn, None, settings, event["id"]) == 2  # c and d: their new meeting

    assert await events.no_show(conn, event["id"], a["id"]) == 1  # a did not come: the meeting is freed
    await events.schedule(conn, event["id"])
    rows = {r["request_id"]: r for r in await events.meetings(conn, event["id"])}
    assert rows[first]["slot_id"] is None and rows[second]["slot_id"] is not None
    assert await events.publish(conn, None, settings, event["id"]) == 2  # only a and b are told


async def test_on_the_day_a_free_slot_is_offered_for_a_meeting_that_had_none(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    event = await _event(conn, max_meetings="1")  # one meeting each: the second request stays unscheduled
    a, b, c, d = await _people(make_participant, 4)
    for person in (a, b, c, d):
        await events.sign_up(conn, event, person["id"])
    await _meet(conn, settings, event, a, b)
    late = await _meet(conn, settings, event, c, b)
    await events.schedule(conn, event["id"])
    await events.update_event(conn, event["id"], parse_event({**FORM, "max_meetings": "2"})[0])  # type: ignore[arg-type]
    await events.check_in(conn, event["id"], c["id"])
    offers = await events.spot_offers(conn, await events.event_or_404(conn, event["id"]), c["id"])
    assert [(view.id, view.other_id) for view, _slot, _table in offers] == [(late, b["id"])]
    _view, slot, table = offers[0]
    await events.book_spot(conn, event["id"], c["id"], late, slot["id"], table)
    booked = {r["request_id"]: r["slot_id"] for r in await events.meetings(conn, event["id"])}
    assert booked[late] == slot["id"]
    with pytest.raises(EventRefusal):  # not theirs
        await events.book_spot(conn, event["id"], d["id"], late, slot["id"], table)


async def test_hosts_meet_at_their_own_stand_and_deadlines_are_kept(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    student, company = await _people(make_participant, 2)
    event = await _event(conn, table_count="3", table_names=f"\n\nStand @ {company['email']}")
    for person in (student, company):
        await events.sign_up(conn, event, person["id"])
    await _meet(conn, settings, event, student, company)
    await events.schedule(conn, event["id"])
    [meeting] = await events.meetings(conn, event["id"])
    assert (meeting["table_number"], meeting["table_name"]) == (3, "Stand")

    past = (dt.datetime.now(timeslots.OSLO) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    closed = await _event(conn, signup_deadline=past, booking_deadline=past)
    with pytest.raises(EventRefusal) as refused:
        await events.sign_up(conn, closed, student["id"])
    assert refused.value.field == "event" and refused.value.status == 409
    with pytest.raises(EventRefusal):
        await events.request_meeting(conn, settings, closed, student["id"], company["external_id"], "")


async def test_suggestions_among_attendees_are_the_rankers_own_restricted(
    conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
) -> None:
    student = await make_participant("student", domains=["industrial_tech"], offers=["Robotics"],
                                     seeks=["Summer job with robots"])
    companies = [await make_participant("company", domains=["industrial_tech"], offers=[offer], seeks=["Students"])
                 for offer in ("Summer jobs with robot cells", "Welding jobs", "Robot programming internships")]
    model = matching.model_name(settings)
    config = matching.ranker_config(model)
    everyone = await matching.suggest(conn, student["id"], 10, model, config, record_exposure=False)
    among = [companies[0]["id"], companies[2]["id"]]
    restricted = await matching.suggest(conn, student["id"], 10, model, config, record_exposure=False, among=among)
    expected = [(s.id, round(s.score, 6), s.explanation) for s in everyone if s.id in among]
    assert [(s.id, round(s.score, 6), s.explanation) for s in restricted] == expected and len(expected) == 2
