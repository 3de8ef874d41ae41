"""Suggestions API (docs/contracts.md §3): `GET /api/v1/participants/{external_id}/suggestions?k=N`.

Two kinds of caller: an integration with the operator's bearer token (staff-reviewer rights: any
participant; explanations in the request's language, about both by name) and the participant
themself by session cookie (their own id, or `me`; explanations in their language, to "you").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from service.auth.dependencies import require_api_token
from service.kit import audit, i18n
from service.kit.api import INVALID, Message, SessionCookie, error_doc
from service.kit.config import Settings
from service.kit.deps import ConnDep, get_resources
from service.kit.vocabulary import Kind
from service.matching import service
from service.matching.dependencies import SuggestionCacheDep
from service.profiles.dependencies import ExternalId, OptionalParticipant, participant_or_404

MAX_K = 100
SELF = "me"

router = APIRouter(prefix="/api/v1/participants", tags=["matching"])
_bearer = HTTPBearer(auto_error=False, description="KOBLE_API_TOKEN, set by the operator")


class SuggestionOut(BaseModel):
    """One suggested participant: who, how well they fit, and why."""

    external_id: str = Field(examples=["raufoss-robotics"])
    kind: Kind
    name: str = Field(examples=["Raufoss Robotics AS"])
    score: float = Field(description="The ranker's score: higher is a better fit; only the order is meaningful.")
    explanation: str = Field(description="Why, in the reader's language; no numbers.")


EXAMPLE: dict[str, Any] = {
    "participant": "ntnu-stud-48213",
    "suggestions": [{
        "external_id": "raufoss-robotics",
        "kind": "company",
        "name": "Raufoss Robotics AS",
        "score": 0.6431,
        "explanation": (
            "Ingrid Haugen looks for “Masteroppgave om sikkerhet i industrielle styringssystemer (OT)”, and "
            "Raufoss Robotics AS offers “Research partner on secure OT networks”. Shared domain: Cyber security "
            "and ICT. Available in the same period: January\u2013June 2026. Both open to: Thesis (bachelor or master)."
        ),
    }],
}


class SuggestionsOut(BaseModel):
    """Suggestions for one participant, best first (docs/contracts.md §3)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    participant: str = Field(description="The external id asked about.")
    suggestions: list[SuggestionOut]


@dataclass(frozen=True)
class Caller:
    """Who asks: an integration (staff rights) or a signed-in participant."""

    participant: asyncpg.Record | None

    @property
    def is_staff(self) -> bool:
        """True for the bearer token."""
        return self.participant is None


async def caller(
    request: Request,
    participant: OptionalParticipant,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The bearer token if one is sent (checked, 403 if wrong), else the session (401 without one)."""
    # async, and the settings taken from the app itself: FastAPI runs plain `def` dependencies in a
    # thread pool, which cost this endpoint a fifth of its time.
    if credentials is not None:
        require_api_token(_settings(request), credentials)
        return Caller(None)
    if participant is None:
        raise HTTPException(401, "Sign in first, or send Authorization: Bearer <KOBLE_API_TOKEN>",
                            headers={"WWW-Authenticate": "Bearer"})
    return Caller(participant)


def _settings(request: Request) -> Settings:
    return get_resources(request).settings


async def _subject(conn: asyncpg.Connection, who: Caller, external_id: str) -> asyncpg.Record:
    """The participant asked about, if the caller may see their suggestions."""
    if who.participant is not None:
        if external_id not in (SELF, who.participant["external_id"]):
            raise HTTPException(403, "external_id: a participant may only see their own suggestions")
        return who.participant
    return await participant_or_404(conn, external_id)


@router.get(
    "/{external_id}/suggestions",
    response_model=SuggestionsOut,
    summary="Suggestions for a participant",
    description=(
        "The best-fitting participants for this one, best first, at most `k` (1-100, default 10). Every "
        "suggested pair keeps the hard constraints (different kinds, a shared domain, overlapping "
        "availability, a shared kind of collaboration, neither hidden nor at capacity). Explanations "
        "are in the request's language (`?lang=nb|en` or the `lang` cookie) for an integration, and in "
        "the participant's own language when they ask with their session (`me` names oneself). Needs "
        "`Authorization: Bearer <KOBLE_API_TOKEN>`, or the participant's own session cookie."
    ),
    dependencies=[SessionCookie],
    responses={
        401: error_doc(Message, "Neither a bearer token nor a session"),
        403: error_doc(Message, "Wrong bearer token, or another participant's suggestions"),
        404: error_doc(Message, "No participant has this external id"),
        422: INVALID,
    },
)
async def suggestions(
    external_id: ExternalId,
    conn: ConnDep,
    request: Request,
    who: Annotated[Caller, Depends(caller)],
    cache: SuggestionCacheDep,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many suggestions at most.")] = 10,
) -> Response:
    """Ranked suggestions with explanations for one participant."""
    settings = _settings(request)
    model = service.model_name(settings)
    config = service.ranker_config(model)
    found, subject_id = None, None
    if cache is not None and who.is_staff:
        # An integration asking about someone with a cached entry skips the look-up by external id:
        # the entry's read proves they still exist under it (the matching version is unchanged).
        found = await service.cached_suggestions(
            conn, cache, external_id, k, model, config, reader_language=i18n.current_language.get(), by_name=True)
        subject_id = cache.participant_id(external_id)
    if found is None:
        row = await _subject(conn, who, external_id)
        external_id, subject_id = row["external_id"], row["id"]
        found = await service.suggest(
            conn, row["id"], k, model, config,
            reader_language=i18n.current_language.get() if who.is_staff else row["language"],
            by_name=who.is_staff, cache=cache,
        )
    if who.is_staff:  # an integration read the subject's and the suggested people's names: audited
        shown = [i for i in (subject_id, *(s.id for s in found)) if i is not None]
        # Written with the rows of concurrent reads in one statement (kit.audit.GroupedReads), before answering.
        grouped: audit.GroupedReads | None = getattr(request.app.state, "grouped_reads", None)
        if grouped is not None:
            await grouped.record_many(conn, audit.Actor.api_token(), "view_suggestions", shown)
        else:
            await audit.record_many(conn, audit.Actor.api_token(), "view_suggestions", participant_ids=shown)
    # SuggestionsOut's JSON written directly (what FastAPI's validation and JSONResponse would write): the
    # response model's validation and encoding were ~5% of a cache hit's CPU (bench/README.md).
    body = {"participant": external_id, "suggestions": [
        {"external_id": s.external_id, "kind": s.kind, "name": s.name, "score": round(s.score, 4),
         "explanation": s.explanation} for s in found]}
    return Response(json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
                    media_type="application/json", headers={"Cache-Control": "no-store"})  # personal data
