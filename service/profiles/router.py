"""Participants JSON API under /api/v1 (docs/contracts.md §3): self-registration, one's own data, integrations.

Three kinds of caller:
- anyone: `POST /api/v1/participants` registers like the web form (verification email, 202);
- a signed-in participant (session cookie): `/api/v1/participants/me...` reads, edits, exports, deletes;
- an integration (bearer `KOBLE_API_TOKEN`, staff-reviewer rights): `/api/v1/participants/{external_id}`
  reads, creates-or-replaces (verified, like `koble import`) and deletes by the source's stable id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

import asyncpg
from fastapi import APIRouter, Body, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.auth import service as auth
from service.auth.dependencies import ApiToken
from service.kit import audit
from service.kit.api import (
    INVALID,
    NO_SESSION,
    NOT_JSON,
    TOKEN_ERRORS,
    TOO_LARGE,
    FieldNamingRoute,
    Message,
    SessionCookie,
    error_doc,
    name_fields,
)
from service.kit.deps import ConnDep, ResourcesDep
from service.profiles import service as profiles
from service.profiles.dependencies import ApiParticipant, ExternalId, participant_or_404
from service.profiles.schemas import ParticipantCreate, ParticipantFields, ParticipantOut, ParticipantUpdate

EMAIL_TAKEN = profiles.EmailTaken.template
REGISTERED = "Check your email to confirm the address"
RESERVED_IDS = frozenset({"me"})
# Who the audit log names for the bearer-token routes (every integration read or write is recorded).
INTEGRATION = audit.Actor.api_token()

class ParticipantRoute(FieldNamingRoute):
    """Participant bodies: record-level errors have no field of their own, so name the one to fix."""

    record_fields: ClassVar[Mapping[str, str]] = {"date_order": "available_until", "no_interest": "offers"}


router = APIRouter(prefix="/api/v1/participants", tags=["participants"], route_class=ParticipantRoute)

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
        "registered. `consent` must be `true`. Rate-limited per client (429); past the address's own "
        "limit the answer is the same but nothing is sent. "
        "Integrations create verified participants with `PUT /api/v1/participants/{external_id}`."
    ),
    responses={
        413: TOO_LARGE,
        415: NOT_JSON,
        422: INVALID,
        429: error_doc(Message, "Too many registrations from this client"),
    },
)
async def register(
    request: Request,
    body: Annotated[ParticipantCreate, Body(openapi_examples=_examples({"consent": True}))],
    conn: ConnDep,
    resources: ResourcesDep,
) -> Message:
    """Self-registration: store unverified, email a link, answer the same for every address."""
    settings = resources.settings
    asks, may_email = await resources.admit(request, "register", str(body.email))
    if not asks:
        raise HTTPException(429, "Too many registration attempts: wait a while and try again")
    if may_email:  # past the address's budget the answer is the same, and nothing is stored or sent
        await profiles.ask_to_register(conn, resources.redis, settings, body)
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
        "field). A new email address must be verified again: a link is sent to it. The answer is the "
        "same when another participant already uses the address (they are told by email instead, and "
        "it can never be confirmed), so it never reveals who is registered. Address changes are "
        "rate-limited per participant and per address (429). Only `application/json` bodies are accepted."
    ),
    dependencies=[SessionCookie],
    responses={401: NO_SESSION, 413: TOO_LARGE, 415: NOT_JSON, 422: INVALID,
               429: error_doc(Message, "Too many email address changes by this participant or to this address")},
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
    keys = profiles.email_change_keys(participant, data)
    rule = resources.settings.rate_limit_email_change
    if keys is not None and not await resources.limiter.allows(rule, "email-change", *keys):
        raise HTTPException(429, "email: too many address changes: wait a while and try again")
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
        raise RequestValidationError(name_fields(errors, ParticipantRoute.record_fields)) from None


@router.delete(
    "/me",
    status_code=204,
    response_class=Response,
    summary="Delete my account",
    description="Deletes the participant and everything stored about them, and ends the session.",
    dependencies=[SessionCookie],
    responses={401: NO_SESSION},
)
async def delete_me(request: Request, participant: ApiParticipant, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Delete one's own account and sign out (the other party of each open match is told by email)."""
    await profiles.delete_account(conn, participant["id"], resources.settings, resources.redis)
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
    responses={**TOKEN_ERRORS, 404: error_doc(Message, "No participant has this external id"), 422: INVALID},
)
async def read_participant(external_id: ExternalId, conn: ConnDep, response: Response) -> ParticipantOut:
    """One participant by external id, for an integration; the read is audited."""
    _no_store(response)
    row = await participant_or_404(conn, external_id)
    await audit.record(conn, INTEGRATION, "view_participant", participant_id=row["id"])
    return profiles.to_out(row)


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
        409: error_doc(Message, "The email address is used by another participant"),
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
    action = "create_participant" if created else "replace_participant"
    await audit.record(conn, INTEGRATION, action, participant_id=row["id"])
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
    responses={**TOKEN_ERRORS, 404: error_doc(Message, "No participant has this external id"), 422: INVALID},
)
async def delete_participant(external_id: ExternalId, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Delete a participant by external id, for an integration; audited (the row keeps only the old id number)."""
    row = await participant_or_404(conn, external_id)
    if await profiles.delete_account(conn, row["id"], resources.settings, resources.redis):
        await audit.record(conn, INTEGRATION, "delete_participant", details={"participant_id": row["id"]})
    return Response(status_code=204)
