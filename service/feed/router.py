"""The feed's JSON API for the participant's own session (static/feed.js): next card, answer, undo.

Session cookie only. Bodies must be JSON (FieldNamingRoute), which a form on another site cannot send
without a CORS preflight; feed.js sends the page's CSRF token in `x-csrftoken` as well.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import asyncpg
from fastapi import APIRouter, Request

from service.feed import deck as decks
from service.feed import messages
from service.feed import service as feed_service
from service.feed.schemas import (
    AnswerIn,
    AnswerOut,
    CardOut,
    Feed,
    FeedOut,
    MatchOut,
    ProgressOut,
    UndoIn,
    UndoneOut,
    UndoOut,
)
from service.kit import i18n
from service.kit.api import INVALID, NO_SESSION, NOT_JSON, FieldNamingRoute, Message, SessionCookie, error_doc
from service.kit.deps import ConnDep, Resources, ResourcesDep
from service.matching.cache import SuggestionCache
from service.matching.dependencies import SuggestionCacheDep
from service.profiles import forms
from service.profiles.dependencies import ApiParticipant

router = APIRouter(prefix="/api/v1/participants/me/feed", tags=["feed"], route_class=FieldNamingRoute,
                   dependencies=[SessionCookie])
REFUSED: dict[int | str, dict[str, Any]] = {
    401: NO_SESSION,
    404: error_doc(Message, "No such candidate for you"),
    409: {"description": "At capacity, or the answer already made or decided a match: `detail.msg` says why"},
    415: NOT_JSON,
    422: INVALID,
}


async def next_out(
    request: Request, conn: asyncpg.Connection, resources: Resources, me: asyncpg.Record,
    cache: SuggestionCache | None,
) -> FeedOut:
    """The feed as JSON: the next card (or why there is none), "3 of 10", and what Undo would take back."""
    settings = resources.settings
    kept = decks.from_session(request.session.get(decks.SESSION_KEY), me["id"])
    found: Feed = await feed_service.feed(conn, settings, me, i18n.current_language.get(), cache, kept)
    if found.deck:
        request.session[decks.SESSION_KEY] = decks.to_session(found.deck, me["id"])
    message = None if found.reason is None else await feed_service.no_card_message(conn, settings, me, found.reason)
    last = await feed_service.last_answer(conn, me)
    undo = None if last is None else UndoOut(external_id=last.external_id, name=last.name,
                                             answer=last.answer, label=messages.undo_label(last))
    progress = None if found.progress is None or found.card is None else ProgressOut(
        position=found.progress.position, total=found.progress.total, label=messages.progress(found.progress))
    return FeedOut(card=_card_out(found), reason=found.reason, message=message, undo=undo, progress=progress)


def _card_out(found: Feed) -> CardOut | None:
    card = found.card
    if card is None:
        return None
    return CardOut(
        external_id=card.external_id, name=card.name, organisation=card.organisation, kind=card.kind,
        kind_label=forms.kind_labels().get(card.kind, card.kind), offers=list(card.offers), seeks=list(card.seeks),
        explanation=card.explanation, shared_terms=list(card.shared_terms),
        answer_url=f"/me/suggestions/{quote(card.external_id)}",
        photo_url=f"/pictures/{card.photo_key}/{quote(card.external_id, safe='')}" if card.photo_key else None,
    )


@router.get("", response_model=FeedOut, summary="My next suggestion", responses={401: NO_SESSION})
async def next_card(
    request: Request, me: ApiParticipant, conn: ConnDep, resources: ResourcesDep, cache: SuggestionCacheDep
) -> FeedOut:
    """The card on screen (or why there is none), in my page's language; the order holds for the session."""
    return await next_out(request, conn, resources, me, cache)


@router.post("/answers", response_model=AnswerOut, summary="Answer a suggestion", responses=REFUSED)
async def answer(
    request: Request, body: AnswerIn, me: ApiParticipant, conn: ConnDep, resources: ResourcesDep,
    cache: SuggestionCacheDep,
) -> AnswerOut:
    """Interested or not now; when both are interested the pair becomes a match (and both get an email)."""
    result = await feed_service.answer(conn, resources.redis, resources.settings, me, body.candidate, body.answer)
    match = None
    if result.match is not None:
        match = MatchOut(id=result.match["id"], state=result.match["state"], url=f"/me/matches/{result.match['id']}")
    following = await next_out(request, conn, resources, me, cache)
    return AnswerOut(message=messages.outcome(result), match=match, next=following)


@router.post("/undo", response_model=UndoneOut, summary="Undo my latest answer", responses=REFUSED)
async def undo(
    request: Request, body: UndoIn, me: ApiParticipant, conn: ConnDep, resources: ResourcesDep,
    cache: SuggestionCacheDep,
) -> UndoneOut:
    """Take back my latest answer, unless it already made or decided a match (409); that card is shown next."""
    last = await feed_service.undo(conn, me)
    kept = decks.from_session(request.session.get(decks.SESSION_KEY), me["id"])
    request.session[decks.SESSION_KEY] = decks.to_session(decks.to_front(kept, last.candidate_id), me["id"])
    return UndoneOut(message=messages.undone(last), next=await next_out(request, conn, resources, me, cache))
