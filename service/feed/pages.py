"""Participant pages: my suggestions one card at a time, my "not now" answers, my matches.

Every action is a plain form posting back and redirecting (303) with a one-time notice in the session,
so the pages work without JavaScript; static/feed.js makes the same actions instant through router.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.feed import deck as decks
from service.feed import digest, messages, tips
from service.feed import service as feed_service
from service.feed.schemas import Answer, AtCapacity, Card, NothingToUndo, NotUndoable
from service.kit import i18n
from service.kit.deps import ConnDep, Resources, ResourcesDep
from service.kit.i18n import _
from service.kit.templating import templates
from service.matching.cache import SuggestionCache
from service.matching.dependencies import SuggestionCacheDep
from service.profiles import forms
from service.profiles.dependencies import Participant
from service.profiles.views import profile_view, retention_context

router = APIRouter(include_in_schema=False)
PRIVATE = {"Cache-Control": "no-store"}  # pages about one person: never cached
NOTICE = "feed_notice"
# The card's markup is always on the page (hidden when empty), so feed.js can fill it after an undo.
BLANK = Card(0, "", "", None, "", (), (), "", None)


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return templates().TemplateResponse(request, name, context, status_code=status_code, headers=PRIVATE)


def flash(request: Request, text: str, kind: str = "success", match_id: int | None = None) -> None:
    """Keep a notice for the next page this participant sees."""
    request.session[NOTICE] = {"text": text, "kind": kind, "match_id": match_id}


def _take_notice(request: Request) -> dict[str, Any] | None:
    notice = request.session.pop(NOTICE, None)
    return notice if isinstance(notice, dict) else None


def _back(to: str = "/me/suggestions") -> Response:
    return RedirectResponse(to, status_code=303)


async def feed_context(
    request: Request, conn: asyncpg.Connection, resources: Resources, participant: asyncpg.Record,
    cache: SuggestionCache | None,
) -> dict[str, Any]:
    """The card page's context: the next card (the session's deck keeps the order) or why there is none."""
    settings = resources.settings
    kept = decks.from_session(request.session.get(decks.SESSION_KEY), participant["id"])
    found = await feed_service.feed(conn, settings, participant, i18n.current_language.get(), cache, kept)
    if found.deck:
        request.session[decks.SESSION_KEY] = decks.to_session(found.deck, participant["id"])
    message = None if found.reason is None else await feed_service.no_card_message(
        conn, settings, participant, found.reason)
    last = await feed_service.last_answer(conn, participant)
    return {"card": found.card or BLANK, "shown": found.card is not None, "reason": found.reason,
            "no_card": message, "last": last, "undo_label": messages.undo_label(last) if last else None,
            "kinds": forms.kind_labels(), "staff_first": settings.match_mode == "staff_first",
            "progress": found.progress, **await _dead_end(conn, participant, found.reason)}


async def _dead_end(conn: asyncpg.Connection, participant: asyncpg.Record, reason: str | None) -> dict[str, Any]:
    """At capacity: the matches in progress; with no one left: tips from the profile and the digest's state."""
    if reason == "capacity":
        return {"in_progress": await feed_service.in_progress(conn, participant)}
    if reason == "empty":
        return {"tips": tips.tips(participant, dt.date.today()),
                "digest_on": await feed_service.digest_on(conn, participant)}
    return {}


@router.get("/me/suggestions", response_class=HTMLResponse)
async def suggestions(
    request: Request, participant: Participant, conn: ConnDep, resources: ResourcesDep, cache: SuggestionCacheDep
) -> Response:
    """My suggestions, one card at a time, with Interested / Not now and Undo."""
    context = await feed_context(request, conn, resources, participant, cache)
    return _page(request, "feed/suggestions.html",
                 {"participant": participant, "notice": _take_notice(request), **context})


@router.post("/me/suggestions/undo")
async def undo(request: Request, participant: Participant, conn: ConnDep) -> Response:
    """Take back my latest answer, unless it made a match; the card taken back is shown next."""
    try:
        last = await feed_service.undo(conn, participant)
    except NotUndoable as refusal:
        flash(request, messages.not_undoable(refusal), "warning")
    except NothingToUndo:
        flash(request, messages.nothing_to_undo(), "warning")
    else:
        bring_back(request, participant["id"], last.candidate_id)
        flash(request, messages.undone(last))
    return _back()


def bring_back(request: Request, participant_id: int, candidate_id: int) -> None:
    """Put the card Undo took back first in the session's deck, so it is the one shown next."""
    kept = decks.from_session(request.session.get(decks.SESSION_KEY), participant_id)
    request.session[decks.SESSION_KEY] = decks.to_session(decks.to_front(kept, candidate_id), participant_id)


# --- the digest "new people who fit you" (offered where the feed runs dry) ---


@router.post("/me/digest")
async def digest_choice(
    request: Request, participant: Participant, conn: ConnDep, resources: ResourcesDep,
    action: Annotated[Literal["on", "off"], Form()],
) -> Response:
    """Turn the weekly email "new people who fit you" on or off."""
    if action == "on":
        await digest.subscribe(conn, resources.settings, participant)
        flash(request, _("Done: we email you when someone new fits you, at most once a week."))
    else:
        await feed_service.digest_off(conn, participant)
        flash(request, _("Done: no more emails about new people who fit you."))
    return _back()


@router.get("/unsubscribe/digest/{token}", response_class=HTMLResponse)
async def digest_unsubscribe_confirm(request: Request, token: str, resources: ResourcesDep) -> Response:
    """The link in a digest: a button (a mail scanner's GET changes nothing)."""
    valid = digest.read(resources.settings, token) is not None
    return _page(request, "feed/digest_unsubscribe.html", {"token": token, "valid": valid, "done": False},
                 status_code=200 if valid else 404)


@router.post("/unsubscribe/digest/{token}", response_class=HTMLResponse)
async def digest_unsubscribe(request: Request, token: str, conn: ConnDep, resources: ResourcesDep) -> Response:
    """Turn the digest off for the participant the link names."""
    valid = await digest.unsubscribe(conn, resources.settings, token)
    return _page(request, "feed/digest_unsubscribe.html", {"token": token, "valid": valid, "done": valid},
                 status_code=200 if valid else 404)


@router.post("/api/v1/unsubscribe/digest/{token}")
async def digest_one_click(token: str, conn: ConnDep, resources: ResourcesDep) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe from the digest (the mail client POSTs, no sign-in)."""
    if not await digest.unsubscribe(conn, resources.settings, token):
        raise HTTPException(404, "token: unknown or no longer valid")
    return {"detail": "Digest emails are off"}


@router.post("/me/suggestions/{external_id:path}")  # ids from imports may hold "/"
async def answer(
    request: Request, external_id: str, participant: Participant, conn: ConnDep, resources: ResourcesDep,
    choice: Annotated[Answer, Form(alias="answer")],
) -> Response:
    """Answer one card: Interested or Not now; both interested makes a match."""
    try:
        result = await feed_service.answer(
            conn, resources.redis, resources.settings, participant, external_id, choice)
    except AtCapacity as full:
        flash(request, messages.at_capacity(full.active, full.capacity), "warning")
        return _back()
    except NotUndoable as refusal:
        flash(request, messages.not_undoable(refusal), "warning")
        return _back()
    match_id = result.match["id"] if result.match is not None and result.match["state"] == "mutual" else None
    flash(request, messages.outcome(result), match_id=match_id)
    return _back()


@router.get("/me/declined", response_class=HTMLResponse)
async def declined(request: Request, participant: Participant, conn: ConnDep) -> Response:
    """Everyone I said "not now" to, each with a button to take it back."""
    rows = await feed_service.declined(conn, participant)
    return _page(request, "feed/declined.html", {"participant": participant, "declined": rows,
                                                 "kinds": forms.kind_labels(), "notice": _take_notice(request)})


@router.post("/me/declined/{external_id:path}")
async def reverse(request: Request, external_id: str, participant: Participant, conn: ConnDep) -> Response:
    """Take back one "not now"."""
    try:
        name = await feed_service.reverse(conn, participant, external_id)
    except NotUndoable as refusal:
        flash(request, messages.not_undoable(refusal), "warning")
    else:
        flash(request, messages.reversed_decline(name))
    return _back("/me/declined")


@router.get("/me/matches", response_class=HTMLResponse)
async def matches(request: Request, participant: Participant, conn: ConnDep) -> Response:
    """My matches: who, their state in words, and their email once we have introduced us."""
    found = await feed_service.my_matches(conn, participant)
    return _page(request, "feed/matches.html", {"participant": participant, "matches": found,
                                                "kinds": forms.kind_labels(), "notice": _take_notice(request)})


# --- the participant's home: the profile and the matches in progress (two domains, so a face) ---


@router.get("/me", response_class=HTMLResponse)
async def me(request: Request, participant: Participant, conn: ConnDep, resources: ResourcesDep) -> Response:
    """My profile, readable, with what I can do with it, and the way to my suggestions and matches."""
    query = request.query_params
    notices = [message for flag, message in _me_notices() if query.get(flag) == "1"]
    feed_matches = len(await feed_service.my_matches(conn, participant))
    context = {"participant": participant, "profile": profile_view(participant), "notices": notices,
               "labels": forms.labels(), **retention_context(resources.settings), "feed_matches": feed_matches}
    return templates().TemplateResponse(request, "me.html", context, headers={"Cache-Control": "no-store"})


def _me_notices() -> list[tuple[str, str]]:
    return [
        ("welcome", _("Welcome! You are signed in. Here is your profile.")),
        ("saved", _("Your changes are saved.")),
        ("email_changed", _("We have sent a link to your new email address. Open it to confirm the address.")),
        ("hidden", _("Your profile is hidden. You will not be suggested to anyone until you show it again.")),
        ("shown", _("Your profile is visible again and can be suggested to others.")),
        ("link_sent", _("We have sent a new confirmation link. Open it to confirm the address.")),
    ]
