"""Participant pages: landing, registration, sign-in by emailed link, my profile (edit, hide, download,
delete) and privacy."""

from __future__ import annotations

import json
import re
from email.utils import parseaddr
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from service.auth import service as auth
from service.auth.dependencies import IdentityDep
from service.kit import i18n
from service.kit.config import Settings
from service.kit.deps import ConnDep, ResourcesDep, SettingsDep
from service.kit.i18n import _
from service.kit.inputs import PlainText
from service.kit.templating import templates
from service.profiles import forms
from service.profiles import service as profiles
from service.profiles.dependencies import OptionalParticipant, Participant
from service.profiles.photos import PhotoProblem
from service.profiles.views import retention_context

router = APIRouter(include_in_schema=False)
# Pages about one person must not linger in shared caches or the browser's back-forward history.
PRIVATE = {"Cache-Control": "no-store"}
_email = TypeAdapter(EmailStr)
PHOTO_KEY = re.compile(r"[0-9a-f]{16}")


def _page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200, private: bool = False
) -> Response:
    return templates().TemplateResponse(
        request, name, context, status_code=status_code, headers=PRIVATE if private else None
    )


@router.get("/", response_class=HTMLResponse)
async def landing(request: Request, participant: OptionalParticipant) -> Response:
    """What Koble is, for whom and how it works; notices after sign-out and deletion."""
    notice = None
    if request.query_params.get("deleted") == "1":
        notice = _("Your account and all data about you are deleted. Thank you for using Koble.")
    elif request.query_params.get("signed_out") == "1":
        notice = _("You are signed out.")
    return _page(request, "index.html", {"participant": participant, "notice": notice})


@router.get("/privacy", response_class=HTMLResponse)
async def privacy(request: Request, participant: OptionalParticipant, resources: ResourcesDep) -> Response:
    """The full privacy notice."""
    contact = parseaddr(resources.settings.email_from)[1]
    return _page(request, "privacy.html",
                 {"participant": participant, "contact_email": contact, **retention_context(resources.settings)})


# Sign-in by emailed link (the links and sessions themselves are service.auth's)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, participant: OptionalParticipant) -> Response:
    """The sign-in form: one field, the email address."""
    return _page(request, "signin.html", {"participant": participant, "email": "", "error": None})


@router.post("/signin", response_class=HTMLResponse)
async def signin_submit(
    request: Request, conn: ConnDep, resources: ResourcesDep, email: Annotated[str, Form()] = ""
) -> Response:
    """Send a sign-in link; the answer is the same whether or not the address is registered."""
    try:
        address = _email.validate_python(email.strip())
    except ValidationError:
        context = {"participant": None, "email": email, "error": _("Enter a valid email address, like name@example.no")}
        return _page(request, "signin.html", context, status_code=422)
    settings = resources.settings
    asks, may_email = await resources.admit(request, "signin", address)
    if not asks:
        detail = _("Too many sign-in attempts. Wait a while and try again.")
        return _page(request, "error.html", {"status": 429, "detail": detail}, status_code=429)
    auth.remember_asked(request, settings, address)
    if may_email:  # past the address's budget the answer is the same, and nothing is sent
        await profiles.ask_for_sign_in(conn, resources.redis, settings, address)
    return _page(request, "link_sent.html", {"participant": None, "email": address})


def _link_page(request: Request, token: str, addresses: tuple[str, ...] | None, settings: Settings) -> Response:
    # A link this browser did not ask for names its account and asks "this device?" (auth.asked_here).
    usable = addresses is not None
    elsewhere = usable and not auth.asked_here(request, settings, addresses or ())
    context = {"participant": None, "token": token, "usable": usable, "elsewhere": elsewhere,
               "address": addresses[0] if addresses else None}
    return _page(request, "link_confirm.html", context, status_code=200 if usable else 410)


@router.get("/auth/{token}", response_class=HTMLResponse)
async def link_confirm(request: Request, token: str, conn: ConnDep, settings: SettingsDep) -> Response:
    """A link from an email: a button to continue, so that mail scanners opening links use nothing."""
    return _link_page(request, token, await profiles.link_addresses(conn, token), settings)


@router.post("/auth/{token}")
async def link_redeem(
    request: Request, token: str, conn: ConnDep, resources: ResourcesDep,
    this_device: Annotated[PlainText, Form()] = "",
) -> Response:
    """Use the link: verify the address if asked, and sign in (after "this device?" if asked elsewhere)."""
    addresses = await profiles.link_addresses(conn, token)
    if addresses and this_device != "yes" and not auth.asked_here(request, resources.settings, addresses):
        return _link_page(request, token, addresses, resources.settings)
    next_url = await profiles.sign_in(conn, request, resources.settings, token)
    if next_url is None:
        return _link_page(request, token, None, resources.settings)
    return RedirectResponse(next_url, status_code=303)


@router.post("/signout")
async def signout(request: Request, conn: ConnDep) -> Response:
    """End the session, on the server too: a copy of the cookie no longer signs anyone in."""
    await auth.sign_out(conn, request)
    return RedirectResponse("/?signed_out=1", status_code=303)


@router.post("/signout/everywhere")
async def signout_everywhere(request: Request, conn: ConnDep, who: IdentityDep) -> Response:
    """End every session of the signed-in participant (other browsers and devices too)."""
    await auth.sign_out_everywhere(conn, request, who, "participant")
    return RedirectResponse("/?signed_out=1", status_code=303)


# Registration


def _register_page(
    request: Request, participant: asyncpg.Record | None, settings: Settings, state: forms.FormState, status: int
) -> Response:
    context = {"participant": participant, **forms.form_context(state), **retention_context(settings)}
    return _page(request, "register.html", context, status_code=status)


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request, participant: OptionalParticipant, resources: ResourcesDep) -> Response:
    """The registration form (someone signed in already has a profile)."""
    if participant is not None:
        return RedirectResponse("/me", status_code=303)
    state = forms.FormState(forms.blank_values(i18n.current_language.get()))
    return _register_page(request, None, resources.settings, state, 200)


@router.post("/register", response_class=HTMLResponse)
async def register_submit(
    request: Request, conn: ConnDep, resources: ResourcesDep, participant: OptionalParticipant
) -> Response:
    """Validate and store a registration; the answer never reveals whether the address was known."""
    data, state = forms.validate(forms.values_from_form(await request.form()), require_consent=True)
    if data is None:
        return _register_page(request, participant, resources.settings, state, 200 if state.adding else 422)
    settings = resources.settings
    asks, may_email = await resources.admit(request, "register", str(data.email))
    if not asks:
        detail = _("Too many registrations from here. Wait a while and try again.")
        return _page(request, "error.html", {"participant": participant, "status": 429, "detail": detail}, 429)
    auth.remember_asked(request, settings, str(data.email))
    if may_email:  # past the address's budget the answer is the same, and nothing is stored or sent
        await profiles.ask_to_register(conn, resources.redis, settings, data)
    return RedirectResponse("/register/sent", status_code=303)


@router.get("/register/sent", response_class=HTMLResponse)
async def register_sent(request: Request, participant: OptionalParticipant, resources: ResourcesDep) -> Response:
    """Check your inbox (the same page for new and known addresses)."""
    return _page(request, "register_sent.html", {"participant": participant, **retention_context(resources.settings)})


# My profile


def _edit_page(request: Request, participant: asyncpg.Record, state: forms.FormState, status: int) -> Response:
    context = {"participant": participant, **forms.form_context(state)}
    return _page(request, "me_edit.html", context, status_code=status, private=True)


@router.get("/me/edit", response_class=HTMLResponse)
async def edit_form(request: Request, participant: Participant) -> Response:
    """The profile form, filled in with what is stored."""
    return _edit_page(request, participant, forms.FormState(forms.values_from_row(participant)), 200)


@router.post("/me/edit", response_class=HTMLResponse)
async def edit_submit(request: Request, participant: Participant, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Validate and save the edited profile; a new email address must be confirmed again."""
    data, state = forms.validate(forms.values_from_form(await request.form()), require_consent=False)
    if data is None:
        return _edit_page(request, participant, state, 200 if state.adding else 422)
    keys = profiles.email_change_keys(participant, data)
    rule = resources.settings.rate_limit_email_change
    if keys is not None and not await resources.limiter.allows(rule, "email-change", *keys):
        state.errors["email"] = _("Too many changes of email address. Wait a while and try again.")
        return _edit_page(request, participant, state, 429)
    # The same answer whether or not someone else uses the new address (they are told by email).
    await profiles.update(conn, resources.redis, resources.settings, participant, data)
    profiles.remember_language(request, data.language)
    # A new address waits, unused, until confirmed by the link sent to it.
    changed = str(data.email).lower() != participant["email"].lower()
    return RedirectResponse("/me?saved=1" + ("&email_changed=1" if changed else ""), status_code=303)


@router.post("/me/confirm-again")
async def confirm_again(request: Request, participant: Participant, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Send the confirmation link again (lost or expired email); limited like sign-in links."""
    address = (participant["pending_email"] or participant["email"]).lower()
    if not await resources.limiter.hit(resources.settings.rate_limit_signin, "signin-email", address):
        detail = _("Too many sign-in attempts. Wait a while and try again.")
        return _page(request, "error.html", {"participant": participant, "status": 429, "detail": detail},
                     status_code=429)
    sent = await profiles.resend_confirmation(conn, resources.redis, resources.settings, participant)
    return RedirectResponse("/me?link_sent=1" if sent else "/me", status_code=303)


@router.post("/me/hide")
async def hide(participant: Participant, conn: ConnDep) -> Response:
    """Hide my profile from matching."""
    await profiles.set_hidden(conn, participant["id"], True)
    return RedirectResponse("/me?hidden=1", status_code=303)


@router.post("/me/unhide")
async def unhide(participant: Participant, conn: ConnDep) -> Response:
    """Show my profile to matching again."""
    await profiles.set_hidden(conn, participant["id"], False)
    return RedirectResponse("/me?shown=1", status_code=303)


@router.get("/me/data.json")
async def download(participant: Participant, conn: ConnDep) -> Response:
    """Everything Koble stores about me, as a JSON file to keep."""
    data = await profiles.export_data(conn, participant)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    headers = {"Content-Disposition": 'attachment; filename="koble-my-data.json"', **PRIVATE}
    return Response(body, media_type="application/json", headers=headers)


# --- photo or logo (issue 12): multipart upload on the edit page, served under a versioned URL ---

# Body limit of the upload (kit.security.BodySizeLimit): room for a 2 MB picture and the form around it, so
# a picture of 2-4 MB gets the form's own error naming the field; past 4 MiB the middleware answers 413.
UPLOADS = {"/me/photo": 4 * 1024 * 1024}
# Cleaned pictures never change under their URL (the key is their hash): browsers keep them a year.
IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


def photo_errors() -> dict[str, str]:
    """What the page says for each reason photos.clean refuses a file (in the page's language)."""
    formats = _("Choose a JPEG, PNG or WebP file of at most 2 MB.")
    return {
        "empty": _("Choose a picture file to upload.") + " " + formats,
        "too_big": _("The picture is larger than 2 MB.") + " " + formats,
        "not_image": _("The file is not a picture.") + " " + formats,
        "wrong_format": _("This kind of picture is not accepted.") + " " + formats,
        "too_many_pixels": _("The picture has too many pixels (more than 40 megapixels).") + " " + formats,
        "broken": _("The picture could not be read: the file may be damaged or incomplete.") + " " + formats,
    }


@router.post("/me/photo", response_class=HTMLResponse)
async def photo_upload(request: Request, participant: Participant, conn: ConnDep) -> Response:
    """Take a photo or logo (multipart, CSRF checked by kit.security.MultipartCsrf); the form again on errors."""
    try:
        posted = await request.form(max_files=1, max_fields=5)
    except (UnicodeDecodeError, MultiPartException):
        return _photo_failed(request, participant, "broken")
    upload = posted.get("photo")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        await profiles.set_photo(conn, participant["id"], data)
    except PhotoProblem as problem:
        return _photo_failed(request, participant, problem.code)
    return RedirectResponse("/me?photo=1", status_code=303)


def _photo_failed(request: Request, participant: asyncpg.Record, code: str) -> Response:
    state = forms.FormState(forms.values_from_row(participant))
    context = {"participant": participant, **forms.form_context(state), "photo_error": photo_errors()[code]}
    return _page(request, "me_edit.html", context, status_code=422, private=True)


@router.post("/me/photo/remove")
async def photo_remove(participant: Participant, conn: ConnDep) -> Response:
    """Go back to the generated avatar (initials on a colour)."""
    await profiles.remove_photo(conn, participant["id"])
    return RedirectResponse("/me?photo=0", status_code=303)


@router.get("/pictures/{key}/{external_id:path}")
async def picture(key: str, external_id: str, conn: ConnDep, who: IdentityDep) -> Response:
    """A participant's picture, for signed-in people (participants and staff); 404 for others or old versions."""
    stored = None if who is None or not PHOTO_KEY.fullmatch(key) else await profiles.photo(conn, external_id, key)
    if stored is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    return Response(stored["content"], media_type=stored["content_type"], headers=IMMUTABLE)


@router.get("/me/delete", response_class=HTMLResponse)
async def delete_confirm(request: Request, participant: Participant) -> Response:
    """What deleting means, and the button to do it."""
    return _page(request, "me_delete.html", {"participant": participant}, private=True)


@router.post("/me/delete")
async def delete(request: Request, participant: Participant, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Delete my account and everything about me, then sign out."""
    await profiles.delete_account(conn, participant["id"], resources.settings, resources.redis)
    await auth.sign_out(conn, request)
    return RedirectResponse("/?deleted=1", status_code=303)
