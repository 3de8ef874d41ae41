"""The event pages over HTTP (the app in-process): staff create and run an event, attendees sign up
(one click, or register and sign up), request and accept; the move refusal names the rule; the
register-and-sign-up flow counts the attendee once the address is confirmed."""

from __future__ import annotations

import re

import asyncpg
import httpx
from icalendar import Calendar

from service.events import service as events
from service.events.schemas import parse_event
from service.kit.config import Settings
from tests.conftest import API_TOKEN, post_form, run_worker
from tests.factories import MakeParticipant, MakeStaff
from tests.support import path_of, sign_in_as

FORM = {"name": "Cyber day", "place": "Bright House", "sessions": "2030-03-05 09:00-10:00",
        "meeting_minutes": "20", "break_minutes": "0", "request_mode": "accept", "max_meetings": "2",
        "solver_seconds": "2", "table_count": "1", "table_names": ""}


async def _as(client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings,
              participant_id: int | None = None, staff_id: int | None = None) -> None:
    """Switch the client to another person (a fresh cookie jar, as another browser would have)."""
    client.cookies.clear()
    await sign_in_as(client, conn, settings, participant_id=participant_id, staff_id=staff_id)
    await client.get("/signin")  # a page with a form: the CSRF cookie


async def test_staff_and_attendees_run_an_event_through_the_pages(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff,
) -> None:
    staff = await make_staff("admin")
    await _as(client, conn, settings, staff_id=staff["id"])
    refused = await post_form(client, "/staff/events/new", {**FORM, "sessions": "soon"})
    assert refused.status_code == 422 and "2026-12-10 09:00-12:00" in refused.text and "Cyber day" in refused.text
    created = await post_form(client, "/staff/events/new", FORM)
    assert created.status_code == 303
    event_id = int(created.headers["location"].rsplit("/", 1)[1])

    student = await make_participant("student", offers=["Security audits"], seeks=["Internship in cyber security"])
    company = await make_participant("company", language="en", offers=["Internships in security"],
                                     seeks=["Students who audit code"])
    for person in (student, company):
        await _as(client, conn, settings, participant_id=person["id"])
        assert (await post_form(client, f"/events/{event_id}/signup", {})).status_code == 303
    page = await client.get(f"/me/events/{event_id}")  # the company's page: the student is suggested
    assert page.status_code == 200 and student["name"] in page.text
    await post_form(client, f"/me/events/{event_id}/requests", {"to": student["external_id"], "reason": "Audits"})
    await _as(client, conn, settings, participant_id=student["id"])
    request_id = (await events.requests_of(conn, event_id, student["id"]))[0].id
    answered = await post_form(client, f"/me/events/{event_id}/requests/{request_id}", {"answer": "accept"})
    assert answered.status_code == 303

    await _as(client, conn, settings, staff_id=staff["id"])
    await post_form(client, f"/staff/events/{event_id}/schedule", {})
    overview = await client.get(f"/staff/events/{event_id}?lang=en")
    assert "Upper bound" in overview.text and "Gap" in overview.text
    slots = await events.slots(conn, event_id)
    await events.set_presence(conn, event_id, student["id"], None, None, [slots[2]["id"]])
    moved = await post_form(client, f"/staff/events/{event_id}/move",
                            {"meeting": request_id, "slot": slots[2]["id"], "table": 1})
    assert moved.status_code == 422 and "not available in slot" in moved.text
    assert (await post_form(client, f"/staff/events/{event_id}/publish", {})).status_code == 303
    sheets = await client.get(f"/staff/events/{event_id}/tables")
    assert student["name"] in sheets.text and company["name"] in sheets.text

    await _as(client, conn, settings, participant_id=student["id"])
    agenda = await client.get(f"/me/events/{event_id}/agenda")
    assert agenda.status_code == 200 and company["name"] in agenda.text and "<svg" in agenda.text
    ics = await client.get(f"/me/events/{event_id}/agenda.ics")
    assert len(Calendar.from_ical(ics.content).walk("VEVENT")) == 1

    await _as(client, conn, settings, staff_id=staff["id"])
    code = re.search(r"/staff/events/checkin/[\w.-]+", agenda.text)
    assert code is None  # the QR code is an image, not a link: its URL is in the SVG only
    token = events.checkin_token(settings, event_id, student["id"])
    assert student["name"] in (await client.get(f"/staff/events/checkin/{token}")).text
    for person in (student, company):
        await post_form(client, f"/staff/events/{event_id}/attendees/{person['id']}", {"action": "check_in"})
    assert (await post_form(client, f"/staff/events/{event_id}/close", {})).status_code == 303
    report = await client.get(f"/staff/events/{event_id}/report?lang=en")
    assert report.status_code == 200 and "Held" in report.text


async def test_a_new_person_registers_and_is_signed_up_once_confirmed(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_staff: MakeStaff,
) -> None:
    data, _form = parse_event(FORM)
    assert data is not None
    event = await events.create_event(conn, data)
    form = {"kind": "student", "name": "Nora Ny", "email": "nora@example.no", "language": "en",
            "domains": ["cyber_ict"], "offers": ["Pen testing"], "seeks": ["A thesis"], "consent": "yes"}
    sent = await post_form(client, f"/events/{event['id']}/register", form)
    assert sent.status_code == 303 and sent.headers["location"] == "/register/sent"
    assert await events.attendees(conn, event["id"]) == []  # not before the address is confirmed
    body = await conn.fetchval("SELECT body_text FROM outbox WHERE to_address = 'nora@example.no'")
    link = path_of(re.search(r"https?://\S+/auth/\S+", body).group(0))  # type: ignore[union-attr]
    await post_form(client, link, {})
    assert [p["name"] for _, p in await events.attendees(conn, event["id"])] == ["Nora Ny"]


async def test_a_long_scheduler_run_goes_to_the_worker_and_the_api_reports_it(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings, make_participant: MakeParticipant,
    make_staff: MakeStaff,
) -> None:
    data, _form = parse_event({**FORM, "solver_seconds": "30"})
    assert data is not None
    event = await events.create_event(conn, data)
    student = await make_participant("student", embed=False)
    company = await make_participant("company", embed=False)
    for person in (student, company):
        await events.sign_up(conn, event, person["id"])
    request = await events.request_meeting(conn, settings, event, student["id"], company["external_id"], "")
    await events.decide(conn, event, company["id"], request["id"], accept=True)
    await _as(client, conn, settings, staff_id=(await make_staff("admin"))["id"])
    answer = await post_form(client, f"/staff/events/{event['id']}/schedule?lang=en", {})
    assert answer.status_code == 303
    assert (await events.meetings(conn, event["id"])) == []  # not yet: the worker runs it
    await run_worker(settings)
    assert [m["slot_id"] is not None for m in await events.meetings(conn, event["id"])] == [True]

    found = await client.get(f"/api/v1/events/{event['id']}", headers={"Authorization": f"Bearer {API_TOKEN}"})
    body = found.json()
    assert found.status_code == 200 and body["objective"] > 0 and body["gap"] is not None
    assert {row["group"]: row["scheduled"] for row in body["report"]}["all"] == 1
    missing = await client.get("/api/v1/events/999999", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert missing.status_code == 404
