"""Staff pages: sign-in, the review queue, hand-picking, the pipeline, match and participant pages,
the audit log, staff admin and the CSV export. Every page works as plain forms; review.js adds keys.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import asyncpg
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError

from service.auth import service as auth
from service.auth.dependencies import Admin, AnyStaff, IdentityDep, StaffMember
from service.kit import audit as audit_log
from service.kit import i18n
from service.kit.config import Settings
from service.kit.deps import ConnDep, ResourcesDep, SettingsDep, get_settings
from service.kit.i18n import _
from service.kit.inputs import FormId, IdPath, MultilineText, PlainText, first_control, parse_id
from service.kit.templating import templates
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS, KINDS
from service.matches import labels as match_labels
from service.matches.lifecycle import ORDER, IllegalTransition
from service.matches.schemas import STATUSES, QueueFilter
from service.profiles import forms
from service.profiles import service as profiles
from service.profiles import views as profile_pages
from service.review import service as review

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store"}  # staff pages show personal data: never cache them
_email = TypeAdapter(EmailStr)
PIPELINE_ROWS = 20
AUDIT_ROWS = 100
FILTERS = ("status", "domain", "kinds", "engagement", "language", "date_from", "date_to", "q")


def _link_context(request: Request, token: str, address: str | None, settings: Settings) -> dict[str, Any]:
    # The participants' link page, pointed at the staff routes; "this device?" when asked elsewhere.
    elsewhere = address is not None and not auth.asked_here(request, settings, [address])
    return {"token": token, "usable": address is not None, "post_to": f"/staff/auth/{token}",
            "new_link": "/staff/signin", "elsewhere": elsewhere, "address": address}


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {"participant": None, "staff": None, "labels": forms.labels(),
            "state_labels": match_labels.state_labels()}
    return templates().TemplateResponse(request, name, base | context, status_code=status_code, headers=PRIVATE)


def _back(request_query: str, path: str = "/staff/queue") -> RedirectResponse:
    return RedirectResponse(f"{path}?{request_query}" if request_query else path, status_code=303)


# --- sign-in ---


@router.get("/staff/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> Response:
    """The staff sign-in form: one field, the work email address."""
    notice = _("You are signed out.") if request.query_params.get("signed_out") == "1" else None
    return _page(request, "review/signin.html", {"email": "", "error": None, "notice": notice})


@router.post("/staff/signin", response_class=HTMLResponse)
async def signin_submit(
    request: Request, conn: ConnDep, resources: ResourcesDep, email: Annotated[str, Form()] = ""
) -> Response:
    """Send a staff sign-in link; the same answer whether or not the address belongs to staff."""
    try:
        address = str(_email.validate_python(email.strip()))
    except ValidationError:
        error = _("Enter a valid email address, like name@example.no")
        return _page(request, "review/signin.html", {"email": email, "error": error, "notice": None}, 422)
    settings = resources.settings
    asks, may_email = await resources.admit(request, "staff-signin", address)
    if not asks:
        detail = _("Too many sign-in attempts. Wait a while and try again.")
        return _page(request, "error.html", {"status": 429, "detail": detail}, 429)
    auth.remember_asked(request, settings, address)
    if may_email:  # past the address's budget the answer is the same, and nothing is sent
        await auth.ask_for_staff_sign_in(conn, resources.redis, settings, address)
    return _page(request, "link_sent.html", {"email": address})


@router.get("/staff/auth/{token}", response_class=HTMLResponse)
async def link_confirm(request: Request, token: str, conn: ConnDep, settings: SettingsDep) -> Response:
    """A staff link from an email: a button to continue, so mail scanners opening links use nothing."""
    address = await auth.staff_link_address(conn, token)
    return _page(request, "link_confirm.html", _link_context(request, token, address, settings),
                 200 if address else 410)


@router.post("/staff/auth/{token}")
async def link_redeem(
    request: Request, token: str, conn: ConnDep, resources: ResourcesDep,
    this_device: Annotated[PlainText, Form()] = "",
) -> Response:
    """Use the link: the first sign-in step (after "this device?" if asked elsewhere); then the queue."""
    settings = resources.settings
    address = await auth.staff_link_address(conn, token)
    if address and this_device != "yes" and not auth.asked_here(request, settings, [address]):
        return _page(request, "link_confirm.html", _link_context(request, token, address, settings))
    next_url = await auth.redeem_staff_link(conn, request, settings, token)
    if next_url is None:
        return _page(request, "link_confirm.html", _link_context(request, token, None, settings), 410)
    return RedirectResponse(next_url, status_code=303)


@router.post("/staff/signout")
async def signout(request: Request, conn: ConnDep) -> Response:
    """End the staff session, on the server too: a copy of the cookie no longer signs anyone in."""
    await auth.sign_out(conn, request)
    return RedirectResponse("/staff/signin?signed_out=1", status_code=303)


@router.post("/staff/signout/everywhere")
async def signout_everywhere(request: Request, conn: ConnDep, who: IdentityDep) -> Response:
    """End every session of the signed-in staff member (other browsers and devices too)."""
    await auth.sign_out_everywhere(conn, request, who, "staff")
    return RedirectResponse("/staff/signin?signed_out=1", status_code=303)


# --- the queue ---


@router.get("/staff", response_class=HTMLResponse)
async def home(staff: AnyStaff) -> Response:
    """Reviewers and admins start at the queue; analysts at the region's map (they see no people)."""
    return RedirectResponse("/staff/queue" if auth.can_see_people(staff) else "/staff/map", status_code=303)


def _pick(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


KIND_PAIRS = tuple(f"{x},{y}" for x, y in itertools.combinations(KINDS, 2))


def queue_filter(params: dict[str, str]) -> QueueFilter:
    """The queue's filters from query parameters (unknown values are ignored)."""
    kinds = _pick(params.get("kinds"), KIND_PAIRS)
    return QueueFilter(
        status=_pick(params.get("status"), STATUSES) or "pending",  # type: ignore[arg-type]
        domain=_pick(params.get("domain"), DOMAINS), engagement=_pick(params.get("engagement"), ENGAGEMENTS),
        kinds=tuple(kinds.split(",")) if kinds else None,  # type: ignore[arg-type]
        language=_pick(params.get("language"), i18n.LANGUAGES), date_from=_day(params.get("date_from")),
        date_to=_day(params.get("date_to")), q=(params.get("q") or "").strip()[:100] or None,
        after=review.decode_cursor(params.get("cursor")),
    )


def _filter_query(params: dict[str, str]) -> str:
    return urlencode({k: v for k, v in params.items() if k in FILTERS and v})


def _notice(params: dict[str, str]) -> str | None:
    done = params.get("done")
    if done == "bulk":
        return _("%(approved)s pairs approved, %(skipped)s had been decided already.") % {
            "approved": params.get("approved", "0"), "skipped": params.get("skipped", "0")}
    notices = {"approve": _("Approved. Both have been introduced by email."), "reject": _("Rejected."),
               "snooze": _("Snoozed."), "handpick": _("Paired. Both have been introduced by email."),
               "approve_wait": _("Approved. The introduction emails go in a minute: you can still undo it."),
               "handpick_wait": _("Paired. The introduction emails go in a minute: you can still undo it."),
               "undo": _("Undone. Nobody was emailed; the pair is back in the queue.")}
    return notices.get(done or "")


def wants_json(request: Request) -> bool:
    """Whether the queue's script asked (fetch with Accept: application/json) rather than a plain form."""
    return "application/json" in request.headers.get("accept", "")


def _decided(request: Request, row: Any, message: str, back: str, done: str, next_id: int | None) -> Response:
    """A decision's answer: JSON for the queue's script (the page stays where it is), else back to the
    queue at the next pair (the fragment keeps the place without a script)."""
    if wants_json(request):
        until = review.undo_until(get_settings(request), row)
        return JSONResponse({"match_id": row["id"], "state": row["state"], "message": message,
                             "undo_until": until.isoformat() if until else None}, headers=PRIVATE)
    anchor = f"#m{next_id}" if next_id else ""
    redirect = _back(_join(back, f"done={done}&undo={row['id']}" if done == "approve_wait" else f"done={done}"))
    redirect.headers["location"] += anchor
    return redirect


def _refused_json(errors: dict[str, str]) -> Response:
    """A decision's field error for the queue's script (422, naming the field)."""
    field, message = next(iter(errors.items()))
    return JSONResponse({"field": field, "error": message}, status_code=422, headers=PRIVATE)


async def _queue_page(
    request: Request, conn: asyncpg.Connection, resources: Any, staff: asyncpg.Record, params: dict[str, str],
    errors: dict[int, dict[str, str]] | None = None, status_code: int = 200,
) -> Response:
    f = queue_filter(params)
    items, cursor, total = await review.queue(conn, resources.settings, f, auth.staff_actor(staff))
    filters = _filter_query(params)
    context = {
        "staff": staff, "items": items, "total": total, "filters": filters, "params": params,
        "next_url": f"/staff/queue?{filters}&cursor={cursor}" if cursor else None,
        "first_url": f"/staff/queue?{filters}" if f.after else None, "kind_pairs": KIND_PAIRS,
        "statuses": _status_labels(), "errors": errors or {}, "notice": _notice(params),
        "domains": DOMAINS, "engagements": ENGAGEMENTS, "languages": i18n.LANGUAGES,
        "min_snooze": (dt.date.today() + dt.timedelta(days=1)).isoformat(),
        "undo_id": parse_id(params.get("undo")) if params.get("done") == "approve_wait" else None,
    }
    return _page(request, "review/queue.html", context, status_code)


def _status_labels() -> dict[str, str]:
    return {"pending": _("Waiting for a decision"), "snoozed": _("Snoozed"), "rejected": _("Rejected")}


@router.get("/staff/queue", response_class=HTMLResponse)
async def queue(request: Request, staff: StaffMember, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Suggested pairs, best first, 50 a page, both profiles side by side with the explanation."""
    return await _queue_page(request, conn, resources, staff, dict(request.query_params))


@router.post("/staff/queue/{match_id}/approve")
async def approve(
    request: Request, match_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    back: Annotated[PlainText, Form()] = "", next_id: Annotated[FormId | None, Form(alias="next")] = None,
) -> Response:
    """Approve a pair: both are introduced by email after the grace period (undo until then)."""
    try:
        row = await review.approve(conn, resources.redis, resources.settings, match_id, auth.staff_actor(staff))
    except IllegalTransition as exc:
        return _conflict(request, staff, exc)
    done = "approve_wait" if row["state"] == "approved" else "approve"
    return _decided(request, row, _notice({"done": done}) or "", back, done, next_id)


@router.post("/staff/queue/{match_id}/undo")
async def undo(
    request: Request, match_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    back: Annotated[PlainText, Form()] = "",
) -> Response:
    """Undo an approval within its grace period: nobody is emailed and the pair is back in the queue."""
    try:
        row = await review.undo(conn, resources.settings, match_id, auth.staff_actor(staff))
    except IllegalTransition as exc:
        return _conflict(request, staff, exc)
    return _decided(request, row, _notice({"done": "undo"}) or "", back, "undo", match_id)


def _reason_problem(reason: str) -> str | None:
    if not reason.strip():
        return _("Write why you reject this pair.")
    if first_control(reason, multiline=True):
        return _("Remove the invisible control characters from this text (they are often pasted by accident).")
    return None


@router.post("/staff/queue/{match_id}/reject")
async def reject(
    request: Request, match_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    reason: Annotated[str, Form()] = "", back: Annotated[PlainText, Form()] = "",
    next_id: Annotated[FormId | None, Form(alias="next")] = None,
) -> Response:
    """Reject a pair with a reason (an error is shown next to the reason, in place with the script)."""
    problem = _reason_problem(reason)
    if problem:
        return await _redisplay(request, conn, resources, staff, back, {match_id: {"reason": problem}})
    try:
        row = await review.reject(conn, resources.settings, match_id, auth.staff_actor(staff), reason.strip()[:500])
    except IllegalTransition as exc:
        return _conflict(request, staff, exc)
    return _decided(request, row, _("Rejected."), back, "reject", next_id)


@router.post("/staff/queue/{match_id}/snooze")
async def snooze(
    request: Request, match_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    until: Annotated[PlainText, Form()] = "", back: Annotated[PlainText, Form()] = "",
    next_id: Annotated[FormId | None, Form(alias="next")] = None,
) -> Response:
    """Keep a pair out of the queue until a day."""
    day = _day(until)
    if day is None or day <= dt.date.today():
        errors = {match_id: {"until": _("Pick a day after today, like %(example)s.") % {
            "example": (dt.date.today() + dt.timedelta(days=7)).isoformat()}}}
        return await _redisplay(request, conn, resources, staff, back, errors)
    try:
        row = await review.snooze(conn, match_id, auth.staff_actor(staff), day)
    except IllegalTransition as exc:
        return _conflict(request, staff, exc)
    return _decided(request, row, _("Snoozed."), back, "snooze", next_id)


@router.post("/staff/queue/bulk")
async def bulk(
    request: Request, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    match_id: Annotated[list[FormId] | None, Form()] = None, back: Annotated[PlainText, Form()] = "",
) -> Response:
    """Approve every ticked pair; pairs decided meanwhile are skipped and counted."""
    result = await review.bulk_approve(conn, resources.redis, resources.settings, match_id or [],
                                       auth.staff_actor(staff))
    counts = urlencode({"approved": len(result.approved), "skipped": len(result.skipped)})
    return _back(_join(back, f"done=bulk&{counts}"))


def _join(back: str, extra: str) -> str:
    # Only our own filter parameters go back into the redirect (no open redirect, no stale notices).
    kept = {k: v for k, v in parse_qsl(back.lstrip("?")) if k in FILTERS}
    return "&".join(part for part in (urlencode(kept), extra) if part)


async def _redisplay(
    request: Request, conn: asyncpg.Connection, resources: Any, staff: asyncpg.Record, back: str,
    errors: dict[int, dict[str, str]],
) -> Response:
    """The queue again, with the error next to the field (the filters come back from the form); the
    script gets the error alone and shows it in place."""
    if wants_json(request):
        return _refused_json(next(iter(errors.values())))
    return await _queue_page(request, conn, resources, staff, dict(parse_qsl(_join(back, ""))), errors, 422)


def _conflict(request: Request, staff: asyncpg.Record, exc: IllegalTransition) -> Response:
    """Someone else decided first: say what the pair is now, and offer the way back."""
    message = match_labels.refusal(exc.current, exc.target)
    if wants_json(request):
        return JSONResponse({"error": message, "current_state": exc.current, "match_id": exc.match_id},
                            status_code=409, headers=PRIVATE)
    return _page(request, "review/conflict.html", {"staff": staff, "message": message, "match_id": exc.match_id}, 409)


# --- hand-picking ---


async def _handpick_page(
    request: Request, conn: asyncpg.Connection, resources: Any, staff: asyncpg.Record, values: dict[str, str],
    error: str | None = None, status_code: int = 200,
) -> Response:
    actor, settings = auth.staff_actor(staff), resources.settings
    found = {side: await review.search(conn, values.get(f"q{side}", ""), actor) for side in ("1", "2")}
    first, second = parse_id(values.get("first")), parse_id(values.get("second"))
    beside = await review.fits_with(conn, settings, first, found["2"]) if first else {}
    preview = await review.preview_pair(conn, settings, first, second, actor, values.get("note", ""),
                                        staff["name"] or None) if first and second else None
    context = {"staff": staff, "values": values, "found": found, "error": error, "beside": beside,
               "preview": preview}
    return _page(request, "review/handpick.html", context, status_code)


NOTE_CHARS = 1000


@router.get("/staff/handpick", response_class=HTMLResponse)
async def handpick(request: Request, staff: StaffMember, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Search two participants (name, organisation or email); once both are picked, the pair's fit, why,
    what forbids it and both introductions (with an optional note) are shown before pairing them."""
    keep = ("q1", "q2", "first", "second", "note")
    values = {k: v[: NOTE_CHARS if k == "note" else 100] for k, v in request.query_params.items() if k in keep}
    return await _handpick_page(request, conn, resources, staff, values)


@router.post("/staff/handpick", response_class=HTMLResponse)
async def handpick_submit(
    request: Request, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    first: Annotated[FormId | None, Form()] = None, second: Annotated[FormId | None, Form()] = None,
    q1: Annotated[PlainText, Form()] = "", q2: Annotated[PlainText, Form()] = "",
    note: Annotated[MultilineText, Form()] = "", preview: Annotated[PlainText, Form()] = "",
) -> Response:
    """Pair the two picked participants (approved, then introduced with the note), unless a hard constraint
    forbids it; with `preview`, show the introductions with the note again instead."""
    values = {"q1": q1[:100], "q2": q2[:100], "first": str(first or ""), "second": str(second or ""),
              "note": note[:NOTE_CHARS]}
    if preview and first is not None and second is not None:
        return await _handpick_page(request, conn, resources, staff, values)
    if first is None or second is None:
        return await _handpick_page(request, conn, resources, staff, values,
                                    _("Pick one participant in each list."), 422)
    if len(note) > NOTE_CHARS:
        return await _handpick_page(request, conn, resources, staff, values, _(
            "The note is too long: at most %(n)s characters.") % {"n": NOTE_CHARS}, 422)
    try:
        row = await review.hand_pick(conn, resources.redis, resources.settings, first, second,
                                     auth.staff_actor(staff), note.strip() or None)
    except review.PairRefused as exc:
        return await _handpick_page(request, conn, resources, staff, values, str(exc), 422)
    done = "handpick_wait" if row["state"] == "approved" else "handpick"
    return RedirectResponse(f"/staff/matches/{row['id']}?done={done}", status_code=303)


# --- pipeline, matches, participants ---


@router.get("/staff/pipeline", response_class=HTMLResponse)
async def pipeline(request: Request, staff: StaffMember, conn: ConnDep) -> Response:
    """Every match by lifecycle state: counts per column and the most recently moved in each."""
    columns = await review.pipeline(conn, ORDER, PIPELINE_ROWS, auth.staff_actor(staff))
    return _page(request, "review/pipeline.html", {"staff": staff, "columns": columns, "per_column": PIPELINE_ROWS})


@router.get("/staff/matches/{match_id}", response_class=HTMLResponse)
async def match(
    request: Request, match_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep
) -> Response:
    """One match: both profiles, its timeline (transitions and emails), and closing it with a reason."""
    context = await review.match_page(conn, match_id, auth.staff_actor(staff))
    notice = _notice(dict(request.query_params))
    undo_until = review.undo_until(resources.settings, context["match"])
    return _page(request, "review/match.html", {"staff": staff, "notice": notice, "error": None,
                                                "undo_until": undo_until, **context})


@router.post("/staff/matches/{match_id}/close", response_class=HTMLResponse)
async def close(
    request: Request, match_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep,
    reason: Annotated[PlainText, Form()] = "",
) -> Response:
    """Close an open match with a reason."""
    actor = auth.staff_actor(staff)
    if not reason.strip():
        context = await review.match_page(conn, match_id, actor)
        error = _("Write why you close this match.")
        return _page(request, "review/match.html", {"staff": staff, "notice": None, "error": error,
                                                    "undo_until": None, **context}, 422)
    try:
        await review.close(conn, resources.redis, resources.settings, match_id, actor, reason.strip()[:500])
    except IllegalTransition as exc:
        return _conflict(request, staff, exc)
    return RedirectResponse(f"/staff/matches/{match_id}", status_code=303)


@router.get("/staff/participants/{participant_id}", response_class=HTMLResponse)
async def participant(request: Request, participant_id: IdPath, staff: StaffMember, conn: ConnDep) -> Response:
    """One participant's profile and matches, for follow-up; the view is audited."""
    people = await profiles.by_ids(conn, [participant_id])
    if participant_id not in people:
        return _page(request, "error.html", {"staff": staff, "status": 404, "detail": ""}, 404)
    await audit_log.record(conn, auth.staff_actor(staff), "view_participant", participant_id=participant_id)
    row = people[participant_id]
    context = {"staff": staff, "person": profile_pages.profile_view(row) | review.who(row),
               "matches": await review.participant_matches(conn, participant_id)}
    return _page(request, "review/participant.html", context)


# --- admin: audit log and staff ---


@router.get("/staff/audit", response_class=HTMLResponse)
async def audit(request: Request, staff: Admin, conn: ConnDep) -> Response:
    """The audit log, newest first (admins only)."""
    rows = await auth.audit_page(conn, parse_id(request.query_params.get("before")), AUDIT_ROWS)
    next_url = f"/staff/audit?before={rows[-1]['id']}" if len(rows) == AUDIT_ROWS else None
    return _page(request, "review/audit.html", {"staff": staff, "rows": rows, "next_url": next_url})


async def _admin_page(
    request: Request, conn: asyncpg.Connection, staff: asyncpg.Record, values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status_code: int = 200,
) -> Response:
    context = {"staff": staff, "members": await auth.all_staff(conn), "roles": auth.ROLES,
               "values": values or {"email": "", "name": "", "role": "reviewer"}, "errors": errors or {},
               "notice": _("Saved.") if request.query_params.get("saved") == "1" else None}
    return _page(request, "review/admin.html", context, status_code)


@router.get("/staff/admin", response_class=HTMLResponse)
async def admin(request: Request, staff: Admin, conn: ConnDep) -> Response:
    """Staff accounts: add, change role, disable (admins only)."""
    return await _admin_page(request, conn, staff)


@router.post("/staff/admin/add", response_class=HTMLResponse)
async def admin_add(
    request: Request, staff: Admin, conn: ConnDep, email: Annotated[PlainText, Form()] = "",
    name: Annotated[PlainText, Form()] = "", role: Annotated[PlainText, Form()] = "reviewer",
) -> Response:
    """Add a staff member (or re-enable one)."""
    values = {"email": email, "name": name, "role": role if role in auth.ROLES else "reviewer"}
    try:
        address = str(_email.validate_python(email.strip()))
    except ValidationError:
        errors = {"email": _("Enter a valid email address, like name@example.no")}
        return await _admin_page(request, conn, staff, values, errors, 422)
    try:
        await auth.add_staff(conn, auth.staff_actor(staff), address, values["role"], name.strip()[:200])  # type: ignore[arg-type]
    except auth.StaffRefused as exc:
        return await _admin_page(request, conn, staff, values, {"role": str(exc)}, 409)
    return RedirectResponse("/staff/admin?saved=1", status_code=303)


@router.post("/staff/admin/{staff_id}/role", response_class=HTMLResponse)
async def admin_role(
    request: Request, staff_id: IdPath, staff: Admin, conn: ConnDep, role: Annotated[PlainText, Form()] = "",
) -> Response:
    """Change a staff member's role."""
    if role not in auth.ROLES:
        return await _admin_page(request, conn, staff, errors={"members": _("Pick a role.")}, status_code=422)
    try:
        await auth.change_role(conn, auth.staff_actor(staff), staff_id, role)
    except auth.StaffRefused as exc:
        return await _admin_page(request, conn, staff, errors={"members": str(exc)}, status_code=409)
    return RedirectResponse("/staff/admin?saved=1", status_code=303)


@router.post("/staff/admin/{staff_id}/disable", response_class=HTMLResponse)
async def admin_disable(request: Request, staff_id: IdPath, staff: Admin, conn: ConnDep) -> Response:
    """Disable a staff member."""
    try:
        await auth.disable_staff(conn, auth.staff_actor(staff), staff_id)
    except auth.StaffRefused as exc:
        return await _admin_page(request, conn, staff, errors={"members": str(exc)}, status_code=409)
    return RedirectResponse("/staff/admin?saved=1", status_code=303)


# --- export ---


@router.get("/staff/export.csv")
async def export(staff: StaffMember, conn: ConnDep) -> Response:
    """Every match with its state as CSV, for the regional council's reporting."""
    body = await review.export_csv(conn, auth.staff_actor(staff))
    filename = f"koble-matches-{dt.date.today().isoformat()}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', **PRIVATE}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
