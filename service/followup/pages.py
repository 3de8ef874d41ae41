"""Follow-up pages: one-click replies from emails, a participant's match page, email preferences and
unsubscribe, and for staff the outbox (failed deliveries, retry) and the funnel."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.auth.dependencies import StaffMember
from service.kit import audit
from service.kit.deps import ConnDep, RedisDep, SettingsDep
from service.kit.inputs import IdPath, MultilineText, PlainText
from service.kit.templating import templates
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.matches import funnel
from service.matches import service as matches
from service.matches.labels import participant_explanations, reply_labels, state_label
from service.matches.lifecycle import LEFT_REASON, REPLIES, Action, settled
from service.profiles import service as profiles
from service.profiles.dependencies import OptionalParticipant, Participant

router = APIRouter(include_in_schema=False)
Comment = Annotated[MultilineText, Form(max_length=2000)]
# States in which the parties have been introduced, so each may see the other's contact details.
INTRODUCED = ("introduced", "mutual", "meeting_held", "project_agreed", "project_completed")
HIDDEN = ("suggested", "approved", "rejected")


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return templates().TemplateResponse(request, f"followup/{name}.html", context, status_code=status)


# --- One-click replies (links in emails: GET shows a button, POST acts) ---------------------------


@router.get("/reply/{token}", response_class=HTMLResponse)
async def reply_confirm(request: Request, token: str, conn: ConnDep, settings: SettingsDep) -> Response:
    """The page a reply link opens: what the click will record, a comment box and a button."""
    link = await matches.reply_link(conn, settings, token)
    if link is None:
        return _page(request, "reply", {"link": None, "participant": None}, status=410)
    # Already where this reply leads (the other party answered first): say so instead of asking.
    outcome = "already" if settled(link["state"], link["action"]) else None
    context = {"link": link, "token": token, "label": reply_labels()[link["action"]],
               "state": state_label(link["state"]), "outcome": outcome, "participant": None}
    return _page(request, "reply", context)


@router.post("/reply/{token}", response_class=HTMLResponse)
async def reply_act(
    request: Request, token: str, conn: ConnDep, settings: SettingsDep, redis: RedisDep, comment: Comment = ""
) -> Response:
    """Record the reply once; a second click (or the other party's) changes nothing and says so."""
    link = await matches.reply_link(conn, settings, token)
    if link is None:
        return _page(request, "reply", {"link": None, "participant": None}, status=410)
    outcome = await matches.reply(conn, settings, link, comment.strip())
    await matches.deliver(redis, outcome.outbox)
    context = {"link": link, "token": token, "label": reply_labels()[link["action"]],
               "state": state_label(outcome.state), "outcome": outcome.result, "participant": None}
    return _page(request, "reply", context)


# --- A participant's match ------------------------------------------------------------------------


async def _own_match(conn: asyncpg.Connection, participant: asyncpg.Record, match_id: int) -> asyncpg.Record:
    match = await matches.by_id(conn, match_id)
    # Staff's suggestions stay between staff until they introduce the parties.
    if match is None or participant["id"] not in (match["a_id"], match["b_id"]) or match["state"] in HIDDEN:
        raise HTTPException(404, "No such match")
    return match


@router.get("/me/matches/{match_id}", response_class=HTMLResponse)
async def my_match(
    request: Request, match_id: IdPath, participant: Participant, conn: ConnDep, outcome: str | None = None
) -> Response:
    """One of my matches: its state in words, the other party once introduced, and progress buttons."""
    match = await _own_match(conn, participant, match_id)
    other_id = matches.other_party_or_none(match, participant["id"])
    other = None if other_id is None else await profiles.by_id(conn, other_id)
    context = {
        "left": other_id is None and match["closed_reason"] == LEFT_REASON,
        "participant": participant, "match": match, "state": state_label(match["state"]),
        "explanation": participant_explanations().get(match["state"]),
        "other": other if match["state"] in INTRODUCED else None,
        "actions": [(action, reply_labels()[action]) for action in REPLIES.get(match["state"], ())],
        "outcome": outcome if outcome in ("done", "waiting", "already", "refused") else None,
    }
    return _page(request, "match", context)


@router.post("/me/matches/{match_id}")
async def my_match_act(
    match_id: IdPath, participant: Participant, conn: ConnDep, settings: SettingsDep, redis: RedisDep,
    action: Annotated[Action, Form()], comment: Comment = "",
) -> Response:
    """A progress button on my match page (the same replies as the emails' links)."""
    await _own_match(conn, participant, match_id)
    outcome = await matches.act(conn, settings, match_id, participant["id"], action, comment.strip())
    await matches.deliver(redis, outcome.outbox)
    return RedirectResponse(f"/me/matches/{match_id}?outcome={outcome.result}", status_code=303)


# --- Email preferences and unsubscribe ---------------------------------------------------------


@router.get("/me/email-preferences", response_class=HTMLResponse)
async def preferences(request: Request, participant: Participant, saved: bool = False) -> Response:
    """My email preferences: reminders on or off (introductions always go)."""
    return _page(request, "preferences", {"participant": participant, "saved": saved})


@router.post("/me/email-preferences")
async def preferences_save(
    participant: Participant, conn: ConnDep, reminders: Annotated[PlainText, Form()] = ""
) -> Response:
    """Save my email preferences."""
    await profiles.set_email_reminders(conn, participant["id"], reminders == "on")
    return RedirectResponse("/me/email-preferences?saved=true", status_code=303)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_confirm(
    request: Request, token: str, settings: SettingsDep, participant: OptionalParticipant
) -> Response:
    """The unsubscribe link from an email: a button (a mail scanner's GET changes nothing)."""
    valid = matches.unsubscribe_valid(settings, token)
    context = {"participant": participant, "token": token, "valid": valid, "done": False}
    return _page(request, "unsubscribe", context, status=200 if valid else 404)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(
    request: Request, token: str, conn: ConnDep, settings: SettingsDep, participant: OptionalParticipant
) -> Response:
    """Turn reminder emails off for the participant the link names."""
    valid = await matches.unsubscribe(conn, settings, token)
    context = {"participant": participant, "token": token, "valid": valid, "done": valid}
    return _page(request, "unsubscribe", context, status=200 if valid else 404)


# --- Staff: the outbox and the funnel -----------------------------------------------------------


@router.get("/staff/outbox", response_class=HTMLResponse)
async def outbox(request: Request, staff: StaffMember, conn: ConnDep, retried: int | None = None) -> Response:
    """Emails not delivered yet or given up on, with a retry button for the failed ones."""
    rows = await mail.undelivered(conn, 200)
    counts = await mail.status_counts(conn)
    # Addresses and subjects (names) of participants: a staff view of personal data, audited.
    shown = sorted({row["participant_id"] for row in rows if row["participant_id"] is not None})
    await audit.record_many(conn, audit.Actor.staff(staff["id"], staff["email"]), "view_outbox", participant_ids=shown)
    context = {"staff": staff, "rows": rows, "counts": counts, "retried": retried}
    return _page(request, "outbox", context)


@router.post("/staff/outbox/{outbox_id}/retry")
async def outbox_retry(outbox_id: IdPath, staff: StaffMember, conn: ConnDep, redis: RedisDep) -> Response:
    """Send a failed email again (fresh tries)."""
    async with conn.transaction():
        if not await mail.requeue_failed(conn, outbox_id):
            raise HTTPException(409, "This email is not failed (any more)")
        await audit.record(
            conn, audit.Actor.staff(staff["id"], staff["email"]), "outbox.retry", details={"outbox_id": outbox_id}
        )
    await mail_tasks.enqueue(redis, [outbox_id], again=f"retry-{uuid.uuid4().hex}")
    return RedirectResponse(f"/staff/outbox?retried={outbox_id}", status_code=303)


@router.get("/staff/funnel", response_class=HTMLResponse)
async def funnel_page(
    request: Request, staff: StaffMember, conn: ConnDep, by: Annotated[str, Query()] = "all"
) -> Response:
    """The follow-up funnel: matches per stage, conversion, median days in stage; by domain, kinds, month."""
    group = by if by in funnel.GROUPS else "all"
    funnels = await matches.funnels(conn, group)
    context = {"staff": staff, "funnels": funnels, "by": group, "groups": funnel.GROUPS,
               "labels": {state: state_label(state) for state in funnel.PATH}}
    return _page(request, "funnel", context)
