"""Participants JSON API under /api/v1 (docs/contracts.md §3): self-registration, one's own data, integrations.

Three kinds of caller:
- anyone: `POST /api/v1/participants` registers like the web form (verification email, 202);
- a signed-in participant (session cookie): `/api/v1/participants/me...` reads, edits, exports, deletes;
- an integration (bearer `KOBLE_API_TOKEN`, staff-reviewer rights): `/api/v1/participants/{external_id}`
  reads, creates-or-replaces (verified, like `koble import`) and deletes by the source's stable id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any
from urllib.parse import quote

import asyncpg
from fastapi import APIRouter, Body, HTTPException, Path, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.auth import service as auth
from service.auth.dependencies import ApiToken
from service.kit.deps import ConnDep, ResourcesDep
from service.profiles import service as profiles
from service.profiles.dependencies import ApiParticipant, participant_or_404
from service.profiles.schemas import ParticipantCreate, ParticipantFields, ParticipantOut, ParticipantUpdate

EMAIL_TAKEN = profiles.EmailTaken.template
REGISTERED = "Check your email to confirm the address"
NOT_JSON_DETAIL = "body: send a JSON object with Content-Type: application/json"
RESERVED_IDS = frozenset({"me"})

# Errors of the whole record have no field of their own; name the field the person should fix.
_MODEL_ERROR_FIELDS = {"date_order": "available_until", "no_interest": "offers"}


def name_fields(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors of a JSON body, with record-level errors pinned to the field to fix."""
    named = []
    for original in errors:
        error = dict(original)
        loc, kind = tuple(error.get("loc", ())), error.get("type")
        if loc == ("body",) and kind in _MODEL_ERROR_FIELDS:
            error["loc"] = ("body", _MODEL_ERROR_FIELDS[kind])
        elif kind == "json_invalid":
            # FastAPI puts the character offset where the field name goes.
            reason = (error.get("ctx") or {}).get("error", "")
            error |= {"loc": ("body",), "msg": f"The body is not valid JSON ({reason} at character {loc[-1]})"}
        elif loc == ("body",) and kind in ("model_attributes_type", "dict_type"):
            error["msg"] = "The body must be a JSON object"
        named.append(error)
    return named


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header announces JSON (application/json or application/*+json)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class FieldNamingRoute(APIRoute):
    """A JSON-only route whose body validation errors always name a field (see name_fields)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, refusing non-JSON bodies and re-raising errors with named fields."""
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def named_handler(request: Request) -> Response:
            # Only JSON: an HTML form from another site (which needs no CORS preflight) never gets in.
            if takes_body and not is_json(request.headers.get("content-type")):
                raise HTTPException(415, NOT_JSON_DETAIL)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(name_fields(exc.errors())) from None

        return named_handler


router = APIRouter(prefix="/api/v1/participants", tags=["participants"], route_class=FieldNamingRoute)

# Documents the cookie in OpenAPI; ApiParticipant does the actual check.
_session_cookie = APIKeyCookie(
    name="koble_session", auto_error=False,
    description="The signed session cookie set when a participant follows a sign-in or verification link.",
)
SessionCookie = Security(_session_cookie)


class Message(BaseModel):
    """A plain answer or error: `{"detail": "..."}`, naming the field where one is at fault."""

    detail: str = Field(examples=[EMAIL_TAKEN])


class FieldError(BaseModel):
    """One invalid field: where it is, its name, why it is refused and the error type."""

    loc: list[str | int] = Field(examples=[["body", "domains"]])
    field: str = Field(examples=["domains"])
    msg: str = Field(examples=["List should have at least 1 item after validation, not 0"])
    type: str = Field(examples=["too_short"])


class ValidationErrorOut(BaseModel):
    """The answer to invalid input: every invalid field, none of the submitted values."""

    detail: list[FieldError]


class ParticipantExport(BaseModel):
    """Everything Koble stores about the participant (later features may add keys)."""

    model_config = ConfigDict(extra="allow")

    profile: ParticipantOut
    consent_at: dt.datetime | None
    verified_at: dt.datetime | None
    hidden_at: dt.datetime | None
    last_active_at: dt.datetime | None
    source: str = Field(description="How the participant came in: `web`, `api` or `import`.")
    emails: list[dict[str, Any]] = Field(description="The emails Koble sent them: subject, status, dates.")


def _error(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


INVALID = _error(ValidationErrorOut, "Invalid input: each invalid field is named with the reason")
TOO_LARGE = _error(Message, "Request body over 1 MiB")
NOT_JSON = _error(Message, "The body is not sent as `application/json`")
NO_SESSION = _error(Message, "No valid session cookie: sign in first")
TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error(Message, "Missing bearer token"),
    403: _error(Message, "Wrong bearer token, or no KOBLE_API_TOKEN configured"),
}

STUDENT: dict[str, Any] = {
    "kind": "student",
    "name": "Ingrid Haugen",
    "email": "ingrid.haugen@example.no",
    "organisation": "NTNU Gjøvik",
    "language": "nb",
    "domains": ["cyber_ict"],
    "engagements": ["thesis", "summer_job"],
    "available_from": "2026-01-05",
    "available_until": "2026-06-15",
    "location": "Gjøvik",
    "offers": ["Python, nettverkssikkerhet og erfaring med logganalyse i SIEM fra sommerjobb"],
    "seeks": ["Masteroppgave om sikkerhet i industrielle styringssystemer (OT) hos en bedrift i regionen"],
}
COMPANY: dict[str, Any] = {
    "kind": "company",
    "name": "Raufoss Robotics AS",
    "email": "partnerships@raufoss-robotics.example.com",
    "organisation": "Raufoss Robotics AS",
    "language": "en",
    "domains": ["industrial_tech", "cyber_ict"],
    "engagements": ["thesis", "internship", "project"],
    "capacity": 4,
    "location": "Raufoss",
    "offers": [
        "Master's thesis: vision-based quality inspection of machined aluminium parts",
        "Summer internship in our robot cell commissioning team",
    ],
    "seeks": ["Students in computer vision or automation", "Research partner on secure OT networks"],
}


def _examples(extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "student": {"summary": "A student (Norwegian)", "value": {**STUDENT, **extra}},
        "company": {"summary": "A company (English)", "value": {**COMPANY, **extra}},
    }


UPDATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "new_topic": {
        "summary": "Seek something else, for longer",
        "value": {"seeks": ["Sommerjobb innen skytjenester og DevOps"], "available_until": "2026-08-31"},
    },
    "english": {"summary": "Emails in English, no organisation", "value": {"language": "en", "organisation": None}},
}

ExternalId = Annotated[
    str,
    Path(
        min_length=1, max_length=100, pattern=r"^\S(.*\S)?$",
        description="The integration's stable id of the participant (as `external_id` in imports).",
        examples=["ntnu-stud-48213"],
    ),
]


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _no_store(response: Response) -> None:
    # Personal data: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"


@router.post(
    "",
    status_code=202,
    response_model=Message,
    summary="Register (self-service)",
    description=(
        "Registers a participant exactly like the web form: the profile is stored unverified and a "
        "verification link is emailed. The answer is the same whether or not the address is already "
        "registered (an existing participant gets a sign-in link instead), so it never reveals who is "
        "registered. `consent` must be `true`. Rate-limited per client and per address (429). "
        "Integrations create verified participants with `PUT /api/v1/participants/{external_id}`."
    ),
    responses={
        413: TOO_LARGE,
        415: NOT_JSON,
        422: INVALID,
        429: _error(Message, "Too many registrations from this client or for this address"),
    },
)
async def register(
    request: Request,
    body: Annotated[ParticipantCreate, Body(openapi_examples=_examples({"consent": True}))],
    conn: ConnDep,
    resources: ResourcesDep,
) -> Message:
    """Self-registration: store unverified, email a link, answer the same for every address."""
    rule = resources.settings.rate_limit_register
    if not await resources.limiter.hit(rule, "register", _client_ip(request)) or not await resources.limiter.hit(
        rule, "register-email", str(body.email).lower()
    ):
        raise HTTPException(429, "Too many registration attempts: wait a while and try again")
    await profiles.register(conn, resources.redis, resources.settings, body)
    return Message(detail=REGISTERED)


@router.get(
    "/me",
    response_model=ParticipantOut,
    summary="My profile",
    description="The signed-in participant's profile (session cookie).",
    dependencies=[SessionCookie],
    responses={401: NO_SESSION},
)
async def read_me(participant: ApiParticipant, response: Response) -> ParticipantOut:
    """The signed-in participant's profile."""
    _no_store(response)
    return profiles.to_out(participant)


@router.patch(
    "/me",
    response_model=ParticipantOut,
    summary="Edit my profile",
    description=(
        "Changes the given fields and keeps the rest; `null` clears an optional field. The merged "
        "profile is validated as a whole, and nothing is saved if any field is invalid (422 naming the "
        "field). A new email address must be verified again: a link is sent to it. Only "
        "`application/json` bodies are accepted."
    ),
    dependencies=[SessionCookie],
    responses={401: NO_SESSION, 409: _error(Message, "The email address is used by another participant"),
               413: TOO_LARGE, 415: NOT_JSON, 422: INVALID},
)
async def update_me(
    changes: Annotated[ParticipantUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
    participant: ApiParticipant,
    conn: ConnDep,
    resources: ResourcesDep,
    response: Response,
) -> ParticipantOut:
    """Merge the changes into the profile, re-validate the whole and save it."""
    data = _merged(participant, changes)
    row = await profiles.update(conn, resources.redis, resources.settings, participant, data)
    _no_store(response)
    return profiles.to_out(row)


def _merged(row: asyncpg.Record, changes: ParticipantUpdate) -> ParticipantFields:
    """The current fields with the changes applied, validated; a 422 naming the fields otherwise."""
    values = {**profiles.to_fields(row), **changes.model_dump(exclude_unset=True)}
    try:
        return ParticipantFields.model_validate(values)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(name_fields(errors)) from None


@router.delete(
    "/me",
    status_code=204,
    response_class=Response,
    summary="Delete my account",
    description="Deletes the participant and everything stored about them, and ends the session.",
    dependencies=[SessionCookie],
    responses={401: NO_SESSION},
)
async def delete_me(request: Request, participant: ApiParticipant, conn: ConnDep) -> Response:
    """Delete one's own account and sign out."""
    await profiles.delete_account(conn, participant["id"])
    await auth.sign_out(conn, request)
    return Response(status_code=204)


@router.get(
    "/me/data",
    response_model=ParticipantExport,
    summary="Download my data",
    description="Everything Koble stores about the signed-in participant, as JSON (GDPR art. 15 and 20).",
    dependencies=[SessionCookie],
    responses={401: NO_SESSION},
)
async def export_me(participant: ApiParticipant, conn: ConnDep, response: Response) -> dict[str, Any]:
    """The signed-in participant's data download."""
    _no_store(response)
    return await profiles.export_data(conn, participant)


@router.get(
    "/{external_id}",
    response_model=ParticipantOut,
    summary="Read a participant (integration)",
    description="A participant by external id. Needs `Authorization: Bearer <KOBLE_API_TOKEN>`.",
    dependencies=[ApiToken],
    responses={**TOKEN_ERRORS, 404: _error(Message, "No participant has this external id"), 422: INVALID},
)
async def read_participant(external_id: ExternalId, conn: ConnDep, response: Response) -> ParticipantOut:
    """One participant by external id, for an integration."""
    _no_store(response)
    return profiles.to_out(await participant_or_404(conn, external_id))


@router.put(
    "/{external_id}",
    response_model=ParticipantOut,
    status_code=200,
    summary="Create or replace a participant (integration)",
    description=(
        "Creates the participant with this external id (201, verified: the integration vouches for the "
        "address, as with `koble import`, and no email is sent), or replaces all its fields (200; "
        "omitted optional fields are cleared). 409 if another participant uses the email address. "
        "The id `me` is reserved. Needs `Authorization: Bearer <KOBLE_API_TOKEN>`."
    ),
    dependencies=[ApiToken],
    responses={
        201: {"model": ParticipantOut, "description": "Created"},
        **TOKEN_ERRORS,
        409: _error(Message, "The email address is used by another participant"),
        413: TOO_LARGE,
        415: NOT_JSON,
        422: INVALID,
    },
)
async def put_participant(
    external_id: ExternalId,
    body: Annotated[ParticipantFields, Body(openapi_examples=_examples({}))],
    conn: ConnDep,
    resources: ResourcesDep,
    response: Response,
) -> ParticipantOut:
    """Create-or-replace by external id, for an integration."""
    if external_id in RESERVED_IDS:
        raise RequestValidationError(
            [{"loc": ("path", "external_id"), "msg": f"{external_id!r} is reserved", "type": "reserved"}]
        )
    row, created = await profiles.save_for_integration(conn, resources.redis, resources.settings, external_id, body)
    if created:
        response.status_code = 201
        response.headers["Location"] = f"{router.prefix}/{quote(external_id, safe='')}"
    return profiles.to_out(row)


@router.delete(
    "/{external_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a participant (integration)",
    description="Deletes the participant and everything stored about them. Needs the bearer token.",
    dependencies=[ApiToken],
    responses={**TOKEN_ERRORS, 404: _error(Message, "No participant has this external id"), 422: INVALID},
)
async def delete_participant(external_id: ExternalId, conn: ConnDep) -> Response:
    """Delete a participant by external id, for an integration."""
    row = await participant_or_404(conn, external_id)
    await profiles.delete_account(conn, row["id"])
    return Response(status_code=204)
