"""Event pages: the public event list and sign-up (one click, or register and sign up at once), the
attendee's event page (presence, one suggestion at a time, requests), the agenda (page, .ics, QR code,
meetings on the spot, "was it useful?"), and staff's pages (create and edit, schedule and move,
publish, table sheets, check-in, close, report). Plain forms, no JavaScript needed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.auth import service as auth
from service.auth.dependencies import StaffMember
from service.events import calendar, tasks, timeslots
from service.events import service as events
from service.events.schemas import BLANK, N_, EventForm, EventRefusal, MoveRefused, form_from_event, parse_event
from service.kit import audit, i18n
from service.kit.config import Settings
from service.kit.deps import ConnDep, ResourcesDep
from service.kit.i18n import _
from service.kit.inputs import FormId, IdPath
from service.kit.templating import templates
from service.profiles import forms
from service.profiles.dependencies import OptionalParticipant, Participant
from service.profiles.views import retention_context

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store"}  # pages about one person or staff's view: never cached
NOTICE = "events_notice"


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {"participant": None, "staff": None, "notice": request.session.pop(NOTICE, None),
            "clock": timeslots.clock, "day": timeslots.day, "table_label": events.table_label}
    return templates().TemplateResponse(request, name, base | context, status_code=status_code, headers=PRIVATE)


def _back(request: Request, to: str, notice: str | None = None) -> Response:
    if notice:
        request.session[NOTICE] = notice
    return RedirectResponse(to, status_code=303)


async def _audit(conn: asyncpg.Connection, staff: asyncpg.Record, action: str, event_id: int,
                 participant_id: int | None = None) -> None:
    """Record what staff did to an event (the audit log holds no personal data beyond the ids)."""
    await audit.record(conn, auth.staff_actor(staff), action, participant_id=participant_id,
                       details={"event_id": event_id})


async def _audit_view(conn: asyncpg.Connection, staff: asyncpg.Record, action: str, people: Iterable[int]) -> None:
    """Record a staff page that names attendees: one row per person shown (issue 15, finding 4)."""
    await audit.record_many(conn, auth.staff_actor(staff), action, participant_ids=sorted(set(people)))


def _open(event: asyncpg.Record) -> bool:
    deadline = event["signup_deadline"]
    return event["closed_at"] is None and (deadline is None or events.now() <= deadline)


# --- public: the events and sign-up ---


@router.get("/events", response_class=HTMLResponse)
async def event_list(request: Request, conn: ConnDep, participant: OptionalParticipant) -> Response:
    """Events open for sign-up, and the ones this participant signed up for."""
    rows = [e for e in await events.events(conn) if e["closed_at"] is None]
    mine = await events.my_events(conn, participant["id"]) if participant else set()
    return _page(request, "events/list.html", {"participant": participant, "events": rows, "mine": mine})


@router.get("/events/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: IdPath, conn: ConnDep, participant: OptionalParticipant) -> Response:
    """What the event is, when, where; sign up in one click (signed in) or register and sign up."""
    event = await events.event_or_404(conn, event_id)
    signed_up = participant is not None and await events.attendee(conn, event_id, participant["id"]) is not None
    context = {"participant": participant, "event": event, "signed_up": signed_up, "open": _open(event),
               "sessions": await events.sessions(conn, event_id)}
    return _page(request, "events/event.html", context)


@router.post("/events/{event_id}/signup")
async def signup(request: Request, event_id: IdPath, conn: ConnDep, participant: Participant) -> Response:
    """One click: the signed-in participant is an attendee."""
    event = await events.event_or_404(conn, event_id)
    await events.sign_up(conn, event, participant["id"])
    return _back(request, f"/me/events/{event_id}", _("You are signed up."))


def _register_page(request: Request, event: asyncpg.Record, settings: Settings, state: forms.FormState,
                   status: int) -> Response:
    context = {"event": event, **forms.form_context(state), **retention_context(settings)}
    return _page(request, "events/register.html", context, status)


@router.get("/events/{event_id}/register", response_class=HTMLResponse)
async def register_form(request: Request, event_id: IdPath, conn: ConnDep, resources: ResourcesDep,
                        participant: OptionalParticipant) -> Response:
    """Register with Koble and sign up for the event in one form (signed in: straight to sign-up)."""
    event = await events.event_or_404(conn, event_id)
    if participant is not None:
        return RedirectResponse(f"/events/{event_id}", status_code=303)
    state = forms.FormState(forms.blank_values(i18n.current_language.get()))
    return _register_page(request, event, resources.settings, state, 200)


@router.post("/events/{event_id}/register", response_class=HTMLResponse)
async def register_submit(request: Request, event_id: IdPath, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Validate and store the registration; the attendee counts once the address is confirmed."""
    event = await events.event_or_404(conn, event_id)
    data, state = forms.validate(forms.values_from_form(await request.form()), require_consent=True)
    if data is None:
        return _register_page(request, event, resources.settings, state, 422)
    settings = resources.settings
    asks, may_email = await resources.admit(request, "register", str(data.email))
    if not asks:
        detail = _("Too many registrations from here. Wait a while and try again.")
        return _page(request, "error.html", {"status": 429, "detail": detail}, 429)
    if may_email:  # past the address's budget the answer is the same, and nothing is stored or sent
        await events.register_and_sign_up(conn, resources.redis, settings, event, data)
    auth.remember_asked(request, settings, str(data.email))  # the link signs in this browser without asking
    return RedirectResponse("/register/sent", status_code=303)


# --- the attendee's event page ---


async def _attendee_context(conn: asyncpg.Connection, settings: Settings, event: asyncpg.Record,
                            participant: asyncpg.Record) -> dict[str, Any]:
    me = await events.attendee_or_403(conn, event["id"], participant["id"])
    suggestion = await events.next_suggestion(conn, settings, event["id"], participant["id"])
    return {"participant": participant, "event": event, "me": me, "suggestion": suggestion,
            "requests": await events.requests_of(conn, event["id"], participant["id"]),
            "slots": await events.slots(conn, event["id"]),
            "blocked": await events.blocked_slots(conn, event["id"], participant["id"]),
            "arrives": timeslots.form_value(me["arrives_at"]), "leaves": timeslots.form_value(me["leaves_at"]),
            "error": None, "error_field": None}


@router.get("/me/events/{event_id}", response_class=HTMLResponse)
async def attendee_page(request: Request, event_id: IdPath, conn: ConnDep, participant: Participant,
                        resources: ResourcesDep) -> Response:
    """My event: when I am there, the next suggested attendee, my requests both ways."""
    event = await events.event_or_404(conn, event_id)
    return _page(request, "events/attendee.html",
                 await _attendee_context(conn, resources.settings, event, participant))


async def _refused(request: Request, conn: ConnDep, settings: Settings, event: asyncpg.Record,
                   participant: asyncpg.Record, exc: EventRefusal) -> Response:
    context = await _attendee_context(conn, settings, event, participant)
    context |= {"error": exc.message(), "error_field": exc.field}
    return _page(request, "events/attendee.html", context, 409)


@router.post("/me/events/{event_id}/presence")
async def presence(request: Request, event_id: IdPath, conn: ConnDep, participant: Participant,
                   resources: ResourcesDep) -> Response:
    """Save when I arrive and leave and which slots I block."""
    event = await events.event_or_404(conn, event_id)
    await events.attendee_or_403(conn, event_id, participant["id"])
    form = await request.form()
    try:
        arrives = timeslots.local(str(form.get("arrives_at"))) if form.get("arrives_at") else None
        leaves = timeslots.local(str(form.get("leaves_at"))) if form.get("leaves_at") else None
        blocked = [int(str(v)) for v in form.getlist("blocked")]
        await events.set_presence(conn, event_id, participant["id"], arrives, leaves, blocked)
    except ValueError:
        exc = EventRefusal("arrives_at", N_("Give a date and time, as 2026-12-01T12:00."))
        return await _refused(request, conn, resources.settings, event, participant, exc)
    except EventRefusal as exc:
        return await _refused(request, conn, resources.settings, event, participant, exc)
    return _back(request, f"/me/events/{event_id}", _("Saved."))


@router.post("/me/events/{event_id}/requests")
async def ask(request: Request, event_id: IdPath, conn: ConnDep, participant: Participant, resources: ResourcesDep,
              to: Annotated[str, Form()], reason: Annotated[str, Form()] = "") -> Response:
    """Ask the suggested attendee for a meeting, with a short reason."""
    event = await events.event_or_404(conn, event_id)
    await events.attendee_or_403(conn, event_id, participant["id"])
    try:
        row = await events.request_meeting(conn, resources.settings, event, participant["id"], to, reason)
    except EventRefusal as exc:
        return await _refused(request, conn, resources.settings, event, participant, exc)
    done = _("Accepted.") if row["status"] == "accepted" else _("Request sent.")
    return _back(request, f"/me/events/{event_id}", done)


@router.post("/me/events/{event_id}/requests/{request_id}")
async def answer(request: Request, event_id: IdPath, request_id: IdPath, conn: ConnDep, participant: Participant,
                 resources: ResourcesDep, answer: Annotated[str, Form()]) -> Response:
    """Accept or decline a request for a meeting."""
    event = await events.event_or_404(conn, event_id)
    try:
        await events.decide(conn, event, participant["id"], request_id, answer == "accept")
    except EventRefusal as exc:
        return await _refused(request, conn, resources.settings, event, participant, exc)
    return _back(request, f"/me/events/{event_id}", _("Accepted.") if answer == "accept" else _("Declined."))


# --- the agenda ---


@router.get("/me/events/{event_id}/agenda", response_class=HTMLResponse)
async def agenda_page(request: Request, event_id: IdPath, conn: ConnDep, participant: Participant,
                      resources: ResourcesDep) -> Response:
    """My meetings in time order (printable on A4), my check-in QR code and free slots for meetings now."""
    event = await events.event_or_404(conn, event_id)
    me = await events.attendee_or_403(conn, event_id, participant["id"])
    settings = resources.settings
    token = events.checkin_token(settings, event_id, participant["id"])
    qr = calendar.qr_svg(f"{settings.koble_base_url}/staff/events/checkin/{token}", _("Check-in code"))
    offers = await events.spot_offers(conn, event, participant["id"]) if me["checked_in_at"] else []
    context = {"participant": participant, "event": event, "me": me, "qr": qr, "offers": offers,
               "agenda": await events.agenda(conn, event, participant),
               "useful_token": events.useful_token(settings, event_id, participant["id"])}
    return _page(request, "events/agenda.html", context)


@router.get("/me/events/{event_id}/agenda.ics")
async def agenda_ics(event_id: IdPath, conn: ConnDep, participant: Participant, resources: ResourcesDep) -> Response:
    """Every meeting of my agenda as one calendar file."""
    event = await events.event_or_404(conn, event_id)
    await events.attendee_or_403(conn, event_id, participant["id"])
    domain = urlsplit(resources.settings.koble_base_url).hostname or "koble"
    body = calendar.agenda_ics(await events.agenda(conn, event, participant), domain)
    headers = {"Content-Disposition": f'attachment; filename="koble-event-{event_id}.ics"', **PRIVATE}
    return Response(body, media_type="text/calendar", headers=headers)


@router.post("/me/events/{event_id}/spot")
async def spot(request: Request, event_id: IdPath, conn: ConnDep, participant: Participant, resources: ResourcesDep,
               request_id: Annotated[FormId, Form()], slot_id: Annotated[FormId, Form()],
               table: Annotated[FormId, Form()]) -> Response:
    """Book a free slot now for an accepted meeting that had none."""
    try:
        await events.book_spot(conn, event_id, participant["id"], request_id, slot_id, table)
    except (EventRefusal, MoveRefused) as exc:
        return _back(request, f"/me/events/{event_id}/agenda", exc.message())
    return _back(request, f"/me/events/{event_id}/agenda", _("Booked."))


@router.get("/events/useful/{token}", response_class=HTMLResponse)
async def useful_form(request: Request, token: str) -> Response:
    """The emailed "was it useful?" link: a button, so that mail scanners opening links answer nothing."""
    return _page(request, "events/useful.html", {"token": token, "answer": request.query_params.get("answer"),
                                                 "done": False})


@router.post("/events/useful/{token}", response_class=HTMLResponse)
async def useful_answer(request: Request, token: str, conn: ConnDep, resources: ResourcesDep,
                        answer: Annotated[str, Form()]) -> Response:
    """Store the answer (yes or no; answering again changes it)."""
    if not await events.answer_useful(conn, resources.settings, token, answer == "yes"):
        return _page(request, "error.html", {"status": 404, "detail": _("This link is not valid.")}, 404)
    return _page(request, "events/useful.html", {"token": token, "answer": answer, "done": True})


# --- staff: create, edit, schedule, publish ---


def _event_form_page(request: Request, staff: asyncpg.Record, form: EventForm, event: asyncpg.Record | None,
                     status: int = 200) -> Response:
    return _page(request, "events/staff_form.html", {"staff": staff, "form": form, "event": event}, status)


@router.get("/staff/events", response_class=HTMLResponse)
async def staff_events(request: Request, conn: ConnDep, staff: StaffMember) -> Response:
    """Every event, newest first."""
    return _page(request, "events/staff_list.html", {"staff": staff, "events": await events.events(conn)})


@router.get("/staff/events/new", response_class=HTMLResponse)
async def new_form(request: Request, staff: StaffMember) -> Response:
    """The form for a new event."""
    return _event_form_page(request, staff, EventForm(dict(BLANK)), None)


@router.post("/staff/events/new", response_class=HTMLResponse)
async def new_submit(request: Request, conn: ConnDep, staff: StaffMember) -> Response:
    """Create the event, or show the form again with each field at fault named."""
    data, form = parse_event({k: str(v) for k, v in (await request.form()).items()})
    if data is None:
        return _event_form_page(request, staff, form, None, 422)
    row = await events.create_event(conn, data)
    await _audit(conn, staff, "event_create", row["id"])
    return _back(request, f"/staff/events/{row['id']}", _("Event created."))


@router.get("/staff/events/{event_id}/edit", response_class=HTMLResponse)
async def edit_form(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember) -> Response:
    """The event's form, filled in."""
    event = await events.event_or_404(conn, event_id)
    form = form_from_event(event, await events.sessions(conn, event_id), await events.table_inputs(conn, event_id))
    return _event_form_page(request, staff, form, event)


@router.post("/staff/events/{event_id}/edit", response_class=HTMLResponse)
async def edit_submit(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember) -> Response:
    """Save the event; slots and tables that stay keep their meetings."""
    event = await events.event_or_404(conn, event_id)
    data, form = parse_event({k: str(v) for k, v in (await request.form()).items()})
    if data is None:
        return _event_form_page(request, staff, form, event, 422)
    await events.update_event(conn, event_id, data)
    await _audit(conn, staff, "event_edit", event_id)
    return _back(request, f"/staff/events/{event_id}", _("Saved."))


async def _overview(conn: asyncpg.Connection, event_id: int) -> dict[str, Any]:
    event = await events.event_or_404(conn, event_id)
    rows = await events.meetings(conn, event_id)
    people = await events.names(conn, [i for r in rows for i in (r["from_id"], r["to_id"])])
    gap = None
    if event["upper_bound"]:
        gap = max(0.0, (event["upper_bound"] - event["objective"]) / event["upper_bound"])
    return {"event": event, "meetings": rows, "people": people, "gap": gap,
            "slots": await events.slots(conn, event_id), "tables": await events.tables(conn, event_id),
            "attendees": await events.attendees(conn, event_id), "error": None, "move": None}


@router.get("/staff/events/{event_id}", response_class=HTMLResponse)
async def staff_event(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember) -> Response:
    """The event for staff: numbers, the schedule (objective, bound, gap), every meeting and how to move it."""
    overview = await _overview(conn, event_id)
    shown = [*overview["people"], *(p["id"] for _, p in overview["attendees"])]
    await _audit_view(conn, staff, "view_event", shown)
    return _page(request, "events/staff_event.html", {"staff": staff, **overview})


@router.post("/staff/events/{event_id}/schedule")
async def run_schedule(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember,
                       resources: ResourcesDep) -> Response:
    """Run the scheduler (published meetings stay where they are); a long run goes to the worker."""
    event = await events.event_or_404(conn, event_id)
    await _audit(conn, staff, "event_schedule", event_id)
    if event["solver_seconds"] > tasks.INLINE_SECONDS:
        await tasks.enqueue_schedule(resources.redis, event_id)
        text = _("The scheduler is running for up to %(s)s seconds; reload this page then.") % {
            "s": f"{event['solver_seconds']:g}"}
        return _back(request, f"/staff/events/{event_id}", text)
    result = await events.schedule(conn, event_id)
    text = _("Scheduled %(n)s meetings; %(left)s could not be placed.") % {
        "n": len(result.assignments), "left": len(result.unscheduled)}
    return _back(request, f"/staff/events/{event_id}", text)


@router.post("/staff/events/{event_id}/move", response_class=HTMLResponse)
async def move(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember,
               meeting: Annotated[FormId, Form()], slot: Annotated[FormId, Form()],
               table: Annotated[FormId, Form()]) -> Response:
    """Move one meeting by hand; a move that breaks a rule is refused, naming the rule."""
    try:
        await events.move(conn, event_id, meeting, slot, table)
    except (MoveRefused, EventRefusal) as exc:
        context = {"staff": staff, **await _overview(conn, event_id), "error": exc.message(),
                   "move": (meeting, slot, table)}
        return _page(request, "events/staff_event.html", context, 422)
    await _audit(conn, staff, "event_move", event_id)
    return _back(request, f"/staff/events/{event_id}", _("Moved."))


@router.post("/staff/events/{event_id}/publish")
async def publish(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember,
                  resources: ResourcesDep) -> Response:
    """Make the agendas final and email them (later: only to those a change affects)."""
    sent = await events.publish(conn, resources.redis, resources.settings, event_id)
    await _audit(conn, staff, "event_publish", event_id)
    return _back(request, f"/staff/events/{event_id}", _("Published: %(n)s agenda emails.") % {"n": sent})


@router.get("/staff/events/{event_id}/tables", response_class=HTMLResponse)
async def table_sheets(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember) -> Response:
    """One printable sheet per table for its host: who meets there, when."""
    event = await events.event_or_404(conn, event_id)
    sheets = await events.table_sheets(conn, event_id)
    await _audit_view(conn, staff, "view_event_tables",
                      (i for _, meetings in sheets for row, *_ in meetings for i in (row["from_id"], row["to_id"])))
    context = {"staff": staff, "event": event, "sheets": sheets}
    return _page(request, "events/staff_tables.html", context)


# --- staff: on the day and after ---


@router.get("/staff/events/{event_id}/checkin", response_class=HTMLResponse)
async def checkin_page(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember) -> Response:
    """Check attendees in by name (or scan their QR code), and mark those who did not come."""
    event = await events.event_or_404(conn, event_id)
    query = request.query_params.get("q", "").strip()
    rows = [(a, p) for a, p in await events.attendees(conn, event_id)
            if not query or query.lower() in p["name"].lower() or query.lower() in p["email"].lower()]
    await _audit_view(conn, staff, "view_event_checkin", (p["id"] for _, p in rows))
    return _page(request, "events/staff_checkin.html", {"staff": staff, "event": event, "rows": rows, "q": query})


@router.get("/staff/events/checkin/{token}", response_class=HTMLResponse)
async def checkin_code(request: Request, token: str, conn: ConnDep, staff: StaffMember,
                       resources: ResourcesDep) -> Response:
    """Where an attendee's QR code leads: who it is, and the button to check them in."""
    found = events.read_checkin(resources.settings, token)
    if found is None or await events.attendee(conn, *found) is None:
        return _page(request, "error.html", {"staff": staff, "status": 404, "detail": _("This code is not valid.")},
                     404)
    event = await events.event_or_404(conn, found[0])
    rows = [(a, p) for a, p in await events.attendees(conn, found[0]) if p["id"] == found[1]]
    await _audit_view(conn, staff, "view_event_checkin", (p["id"] for _, p in rows))
    return _page(request, "events/staff_checkin.html", {"staff": staff, "event": event, "rows": rows, "q": ""})


@router.post("/staff/events/{event_id}/attendees/{participant_id}")
async def attendance(request: Request, event_id: IdPath, participant_id: IdPath, conn: ConnDep, staff: StaffMember,
                     action: Annotated[str, Form()]) -> Response:
    """Check an attendee in, or mark them as not come (their meetings are freed)."""
    if action == "no_show":
        freed = await events.no_show(conn, event_id, participant_id)
        text = _("Marked as not come; %(n)s meetings freed.") % {"n": freed}
    else:
        await events.check_in(conn, event_id, participant_id)
        text = _("Checked in.")
    await _audit(conn, staff, "event_no_show" if action == "no_show" else "event_check_in", event_id, participant_id)
    return _back(request, f"/staff/events/{event_id}/checkin", text)


@router.post("/staff/events/{event_id}/close")
async def close(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember,
                resources: ResourcesDep) -> Response:
    """After the event: held meetings become matches, attendees are asked whether it was useful."""
    held = await events.close_event(conn, resources.redis, resources.settings, event_id)
    await _audit(conn, staff, "event_close", event_id)
    return _back(request, f"/staff/events/{event_id}/report", _("%(n)s meetings held.") % {"n": held})


@router.get("/staff/events/{event_id}/report", response_class=HTMLResponse)
async def report(request: Request, event_id: IdPath, conn: ConnDep, staff: StaffMember) -> Response:
    """Signed up, requests, accepted, scheduled, held, useful and what followed, overall, per domain and kind."""
    event = await events.event_or_404(conn, event_id)
    context = {"staff": staff, "event": event, "rows": await events.report(conn, event_id),
               "labels": forms.labels()}
    return _page(request, "events/staff_report.html", context)
