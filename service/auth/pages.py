"""Sign-in pages: ask for a link by email, confirm a link, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import EmailStr, TypeAdapter, ValidationError

from service.auth import service as auth
from service.deps import ConnDep, OptionalParticipant, ResourcesDep
from service.kit.i18n import _
from service.kit.templating import templates
from service.profiles import service as profiles

router = APIRouter(include_in_schema=False)
_email = TypeAdapter(EmailStr)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, participant: OptionalParticipant) -> Response:
    """The sign-in form: one field, the email address."""
    return templates().TemplateResponse(
        request, "signin.html", {"participant": participant, "email": "", "error": None}
    )


@router.post("/signin", response_class=HTMLResponse)
async def signin_submit(
    request: Request, conn: ConnDep, resources: ResourcesDep, email: Annotated[str, Form()] = ""
) -> Response:
    """Send a sign-in link; the answer is the same whether or not the address is registered."""
    try:
        address = _email.validate_python(email.strip())
    except ValidationError:
        context = {"participant": None, "email": email, "error": _("Enter a valid email address, like name@example.no")}
        return templates().TemplateResponse(request, "signin.html", context, status_code=422)
    client = request.client.host if request.client else "unknown"
    limited = not await resources.limiter.hit(resources.settings.rate_limit_signin, "signin", client)
    if limited or not await resources.limiter.hit(
        resources.settings.rate_limit_signin, "signin-email", address.lower()
    ):
        return templates().TemplateResponse(
            request,
            "error.html",
            {"status": 429, "detail": _("Too many sign-in attempts. Wait a while and try again.")},
            status_code=429,
        )
    await profiles.request_sign_in(conn, resources.redis, resources.settings, address)
    return templates().TemplateResponse(request, "link_sent.html", {"participant": None, "email": address})


@router.get("/auth/{token}", response_class=HTMLResponse)
async def link_confirm(request: Request, token: str, conn: ConnDep) -> Response:
    """A link from an email: a button to continue, so that mail scanners opening links use nothing."""
    usable = await auth.is_usable(conn, token)
    return templates().TemplateResponse(
        request,
        "link_confirm.html",
        {"participant": None, "token": token, "usable": usable},
        status_code=200 if usable else 410,
    )


@router.post("/auth/{token}")
async def link_redeem(request: Request, token: str, conn: ConnDep) -> Response:
    """Use the link: verify the address if asked, and sign in."""
    participant_id = await profiles.redeem_link(conn, token)
    if participant_id is None:
        return templates().TemplateResponse(
            request, "link_confirm.html", {"participant": None, "token": token, "usable": False}, status_code=410
        )
    auth.sign_in(request, participant_id)
    return RedirectResponse("/me?welcome=1", status_code=303)


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the session."""
    auth.sign_out(request)
    return RedirectResponse("/?signed_out=1", status_code=303)
