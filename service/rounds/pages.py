"""Mapping round pages: staff upload a list, send it and follow the figures; organisations open their
personal link to register or update their needs, or unsubscribe. Plain forms, no JavaScript.

Analysts (any staff, `AnyStaff`) see the rounds and their figures; names and contact details, the
upload and sending are for reviewers and admins (`can_see_people`, `StaffMember`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from service.auth import service as auth
from service.auth.dependencies import AnyStaff, StaffMember
from service.auth.service import can_see_people
from service.kit.deps import ConnDep, ResourcesDep
from service.kit.i18n import _
from service.kit.inputs import IdPath
from service.kit.templating import templates
from service.kit.vocabulary import kind_labels
from service.profiles import forms
from service.profiles.service import EmailTaken
from service.profiles.views import retention_context
from service.rounds import exports, organisations, service
from service.rounds.schemas import UploadForm, file_name

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store"}  # staff figures and personal links: never cached
MAX_ERRORS_SHOWN = 200
# The upload's own body limit (kit.security.BodySizeLimit): a region's register of ~20,000
# organisations is ~1.7 MiB as CSV (bench/README.md), far over the 64 KiB other forms take.
UPLOADS = {"/staff/rounds": 4 * 1024 * 1024}


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    base = {"participant": None, "staff": None, "kinds": kind_labels()}
    return templates().TemplateResponse(request, name, base | context, status_code=status_code, headers=PRIVATE)


# --- staff: the list and the upload ---


async def _list_page(
    request: Request, conn: asyncpg.Connection, staff: asyncpg.Record, form: UploadForm,
    line_errors: list[str], status_code: int = 200,
) -> Response:
    context = {"staff": staff, "rounds": await service.all_rounds(conn), "form": form,
               "line_errors": line_errors[:MAX_ERRORS_SHOWN], "may_upload": can_see_people(staff),
               "more_errors": max(len(line_errors) - MAX_ERRORS_SHOWN, 0),
               "deleted": request.query_params.get("deleted") == "1"}
    return _page(request, "rounds/list.html", context, status_code)


@router.get("/staff/rounds", response_class=HTMLResponse)
async def rounds_page(request: Request, staff: AnyStaff, conn: ConnDep) -> Response:
    """Every round with its response rate; the upload form for reviewers and admins."""
    return await _list_page(request, conn, staff, UploadForm(), [])


@router.post("/staff/rounds", response_class=HTMLResponse)
async def upload(request: Request, staff: StaffMember, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Check the uploaded list; create the round (and send it, if asked) only when every line is valid."""
    try:
        posted = await request.form()
    except UnicodeDecodeError:  # a text field that is not UTF-8 (Starlette decodes them strictly)
        raise HTTPException(400, "body: the form's text fields are not UTF-8") from None
    upload_file = posted.get("file")
    has_file = isinstance(upload_file, UploadFile) and bool(upload_file.filename)
    form = UploadForm(name=" ".join(str(posted.get("name", "")).split()),
                      reminder_days=str(posted.get("reminder_days", "")), send=posted.get("send") == "yes",
                      file_name=file_name(upload_file.filename) if isinstance(upload_file, UploadFile) else "")
    form.check(has_file)
    found, errors = organisations.read(await upload_file.read()) if has_file else ([], [])  # type: ignore[union-attr]
    if not form.errors and not errors and not found:
        form.errors["file"] = _("The file names the columns but lists no organisation.")
    if form.errors or errors:
        return await _list_page(request, conn, staff, form, [e.format(form.file_name) for e in errors], 422)
    actor = auth.staff_actor(staff)
    round_id = await service.create(conn, actor, form.name, form.days() or 0, form.file_name, found)
    if form.send:
        await service.send(conn, resources.redis, resources.settings, actor, round_id)
    return RedirectResponse(f"/staff/rounds/{round_id}", status_code=303)


# --- staff: one round ---


@router.get("/staff/rounds/{round_id}", response_class=HTMLResponse)
async def round_page(request: Request, round_id: IdPath, staff: AnyStaff, conn: ConnDep) -> Response:
    """A round's figures per municipality and kind; its organisations for reviewers and admins (audited)."""
    figures = await service.figures(conn, round_id)
    people = await service.people(conn, auth.staff_actor(staff), round_id) if can_see_people(staff) else None
    context = {"staff": staff, "figures": figures, "people": people, "may_send": can_see_people(staff),
               "sent": request.query_params.get("sent")}
    return _page(request, "rounds/round.html", context)


@router.post("/staff/rounds/{round_id}/send")
async def send(round_id: IdPath, staff: StaffMember, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Email every organisation of the round not yet invited (pressing twice sends nothing twice)."""
    sent = await service.send(conn, resources.redis, resources.settings, auth.staff_actor(staff), round_id)
    return RedirectResponse(f"/staff/rounds/{round_id}?sent={sent}", status_code=303)


@router.post("/staff/rounds/{round_id}/delete")
async def delete(round_id: IdPath, staff: StaffMember, conn: ConnDep) -> Response:
    """Delete the round with its list of organisations (when the mapping is done with)."""
    await service.delete(conn, auth.staff_actor(staff), round_id)
    return RedirectResponse("/staff/rounds?deleted=1", status_code=303)


@router.get("/staff/rounds/{round_id}/export.{fmt}")
async def export(
    round_id: IdPath, fmt: str, staff: AnyStaff, conn: ConnDep, people: Annotated[bool, Query()] = False
) -> Response:
    """The round's figures as .xlsx or .csv; `?people=true` adds the organisations (reviewers and admins)."""
    if fmt not in ("xlsx", "csv"):
        raise HTTPException(404, "format: xlsx or csv")
    if people and not can_see_people(staff):
        raise HTTPException(403, "people: names and contact details are for reviewers and admins")
    figures = await service.figures(conn, round_id)
    rows = await service.people(conn, auth.staff_actor(staff), round_id) if people else None
    tables = exports.sheets(figures.by_municipality, figures.by_kind, rows)
    name = f"koble-round-{round_id}{'-organisations' if people else ''}-{dt.date.today().isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', **PRIVATE}
    if fmt == "xlsx":
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(exports.to_xlsx(tables), media_type=media, headers=headers)
    return Response(exports.to_csv(tables), media_type="text/csv; charset=utf-8", headers=headers)


# --- the organisation's personal link ---


def _register_page(request: Request, token: str, invitation: Any, state: forms.FormState, settings: Any,
                   status_code: int = 200) -> Response:
    context = {"invitation": invitation, "token": token, **forms.form_context(state), **retention_context(settings),
               "unsubscribe_token": service.unsubscribe_token(settings, invitation["id"])}
    return _page(request, "rounds/register.html", context, status_code)


def _needs_page(
    request: Request, token: str, invitation: Any, state: forms.FormState, status_code: int = 200
) -> Response:
    context = {"invitation": invitation, "token": token, **forms.form_context(state)}
    return _page(request, "rounds/needs.html", context, status_code)


@router.get("/rounds/i/{token}", response_class=HTMLResponse)
async def invitation(request: Request, token: str, conn: ConnDep, resources: ResourcesDep) -> Response:
    """A personal link: the pre-filled registration, or an existing participant's needs (the opening is counted)."""
    opened = await service.open_link(conn, resources.settings, token)
    if opened.participant is not None:
        state = forms.FormState(forms.values_from_row(opened.participant))
        return _needs_page(request, token, opened.invitation, state)
    if opened.invitation["registered_at"] is not None:
        return _page(request, "rounds/thanks.html", {"invitation": opened.invitation, "pending": True})
    values = forms.blank_values(opened.invitation["language"]) | service.prefilled(opened.invitation)
    return _register_page(request, token, opened.invitation, forms.FormState(values), resources.settings)


@router.post("/rounds/i/{token}", response_class=HTMLResponse)
async def register(request: Request, token: str, conn: ConnDep, resources: ResourcesDep) -> Response:
    """The pre-filled registration sent: a participant through profiles; the round counts it as registered."""
    found = await service.invitation_for(conn, resources.settings, token)
    data, state = forms.validate(forms.values_from_form(await request.form()), require_consent=True)
    if data is None:
        return _register_page(request, token, found, state, resources.settings, 422)
    try:
        next_url = await service.register(conn, resources.redis, resources.settings, request, found, data)
    except EmailTaken:
        # Registered meanwhile (another tab, the usual form): the link now offers the needs instead.
        return RedirectResponse(f"/rounds/i/{token}", status_code=303)
    return RedirectResponse(next_url, status_code=303)


@router.post("/rounds/i/{token}/needs", response_class=HTMLResponse)
async def update_needs(request: Request, token: str, conn: ConnDep, resources: ResourcesDep) -> Response:
    """An existing participant's needs (what they look for) saved through profiles; counted as updated."""
    opened = await service.open_link(conn, resources.settings, token)
    if opened.participant is None:
        return RedirectResponse(f"/rounds/i/{token}", status_code=303)
    posted = await request.form()
    values = forms.values_from_row(opened.participant)
    values["seeks"] = [text for text in posted.getlist("seeks") if isinstance(text, str)]
    data, state = forms.validate(values, require_consent=False)
    if data is None:
        return _needs_page(request, token, opened.invitation, state, 422)
    settings = resources.settings
    await service.update_needs(conn, resources.redis, settings, opened.invitation, opened.participant, data)
    return _page(request, "rounds/thanks.html", {"invitation": opened.invitation, "pending": False})


@router.get("/rounds/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_confirm(request: Request, token: str, resources: ResourcesDep) -> Response:
    """The unsubscribe link of a round's email: a button (a mail scanner's GET changes nothing)."""
    valid = service.unsubscribe_valid(resources.settings, token)
    return _page(request, "rounds/unsubscribe.html", {"token": token, "valid": valid, "done": False},
                 200 if valid else 404)


@router.post("/rounds/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str, conn: ConnDep, resources: ResourcesDep) -> Response:
    """No more emails about this round (no reminder)."""
    valid = await service.unsubscribe(conn, resources.settings, token)
    return _page(request, "rounds/unsubscribe.html", {"token": token, "valid": valid, "done": valid},
                 200 if valid else 404)
