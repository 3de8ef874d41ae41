"""Follow-up pages: one-click replies from emails, a participant's match page, email preferences and
unsubscribe, and for staff the outbox (failed deliveries, retry) and the funnel."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.auth.dependencies import StaffMember
from service.kit import audit, i18n
from service.kit.config import Settings
from service.kit.deps import ConnDep, RedisDep, ResourcesDep, SettingsDep
from service.kit.inputs import IdPath, MultilineText, PlainText
from service.kit.templating import templates
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.matches import conversation, funnel
from service.matches import service as matches
from service.matches.labels import participant_explanations, reply_labels, state_label, step_labels
from service.matches.lifecycle import LEFT_REASON, REPLIES, Action, passed, settled
from service.matches.meetings import DEFAULT_PLACE, TALKING, ConversationRefused, TooManyMessages
from service.matching import service as matching
from service.profiles import service as profiles
from service.profiles.dependencies import OptionalParticipant, Participant
from service.profiles.views import profile_view

router = APIRouter(include_in_schema=False)
Comment = Annotated[MultilineText, Form(max_length=2000)]


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


# --- A participant's match: the other party, why, the steps, messages and meetings ------------------


async def _own_match(conn: asyncpg.Connection, participant: asyncpg.Record, match_id: int) -> asyncpg.Record:
    # Staff's suggestions stay between staff until they introduce the parties; a third person gets 404.
    return await conversation.party_match(conn, match_id, participant["id"])


@router.get("/me/matches/{match_id}", response_class=HTMLResponse)
async def my_match(
    request: Request, match_id: IdPath, participant: Participant, conn: ConnDep, settings: SettingsDep,
    outcome: str | None = None, sent: str | None = None,
) -> Response:
    """One of my matches: the other party's profile, why we fit, the steps, messages, meetings and progress."""
    match = await _own_match(conn, participant, match_id)
    context = await _match_context(conn, settings, participant, match)
    context["outcome"] = outcome if outcome in ("done", "waiting", "already", "refused") else None
    context["sent"] = sent if sent in ("message", "proposal", "choice") else None
    return _page(request, "match", context)


async def _match_context(
    conn: asyncpg.Connection, settings: Settings, participant: asyncpg.Record, match: asyncpg.Record,
    errors: dict[str, str] | None = None, kept: dict[str, Any] | None = None,
) -> dict[str, Any]:
    other_id = matches.other_party_or_none(match, participant["id"])
    other = None if other_id is None else await profiles.by_id(conn, other_id)
    talk = await conversation.of_match(conn, match["id"])
    events = await matches.events(conn, match["id"])
    return {
        "left": other_id is None and match["closed_reason"] == LEFT_REASON,
        "participant": participant, "match": match, "state": state_label(match["state"]),
        "explanation": participant_explanations().get(match["state"]),
        "other": profile_view(other) | {"email": other["email"]} if other is not None else None,
        "why": await _why(conn, settings, participant, other) if other is not None else None,
        "steps": progress_steps(match["state"], events),
        "actions": [(action, reply_labels()[action]) for action in REPLIES.get(match["state"], ())],
        "talk": talk,
        "can_write": match["state"] in TALKING, "can_meet": match["state"] in conversation.MEETING_STATES,
        "can_confirm": match["state"] == "mutual" and talk.chosen_meeting is not None,
        "default_place": DEFAULT_PLACE, "message_minutes": settings.message_email_minutes, "errors": errors or {},
        "kept": kept or {}, "outcome": None, "sent": None,
    }


async def _why(conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, other: asyncpg.Record) -> str:
    """Why the two fit, addressed to me (matching's public explanation, as on the cards)."""
    return (await matching.explain_to(conn, matching.model_name(settings), me, other, i18n.current_language.get()))[0]


STEPS: tuple[str, ...] = ("introduced", "mutual", "meeting_held", "project_agreed")


def progress_steps(state: str, events: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """The four steps (introduced → both interested → met → project), each done, current or to come, with
    the time it was reached; a match born `mutual` has passed "introduced" with it. A closed match keeps
    the furthest step it reached."""
    reached = {row["to_state"]: row["created_at"] for row in events}
    reached.setdefault("project_agreed", reached.get("project_completed"))
    furthest = max((i for i, step in enumerate(STEPS) if passed(state, step) or reached.get(step)), default=0)
    labels = step_labels()
    steps = []
    for i, step in enumerate(STEPS):
        finished = i < furthest or state == "project_completed"
        status = "done" if finished else "current" if i == furthest else "todo"
        steps.append({"key": step, "label": labels[step], "status": status, "at": reached.get(step)})
    return steps


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


@router.post("/me/matches/{match_id}/messages", response_class=HTMLResponse)
async def send_message(
    request: Request, match_id: IdPath, participant: Participant, conn: ConnDep, resources: ResourcesDep,
    message: Annotated[MultilineText, Form(max_length=8000)] = "",
) -> Response:
    """Write to the other party; refused with the text kept (empty, too long, finished match, too many)."""
    match = await _own_match(conn, participant, match_id)
    try:
        _, outbox = await conversation.send_message(
            conn, resources.settings, resources.limiter, match_id, participant["id"], message, _now())
    except (ConversationRefused, TooManyMessages) as exc:
        field = exc.field if isinstance(exc, ConversationRefused) else "message"
        return await _refused(request, conn, resources.settings, participant, match, {field: exc.message()},
                              {"message": message}, exc.status)
    await matches.deliver(resources.redis, outbox)
    return RedirectResponse(f"/me/matches/{match_id}?sent=message#messages", status_code=303)


@router.post("/me/matches/{match_id}/meetings", response_class=HTMLResponse)
async def propose_meeting(
    request: Request, match_id: IdPath, participant: Participant, conn: ConnDep, resources: ResourcesDep,
    time: Annotated[list[PlainText], Form(max_length=10)] = [],  # noqa: B006  (FastAPI copies defaults)
    place: Annotated[PlainText, Form(max_length=400)] = "",
) -> Response:
    """Propose up to three times (Oslo) and a place; refused with the input kept, naming the field."""
    match = await _own_match(conn, participant, match_id)
    try:
        _, outbox = await conversation.propose(conn, resources.settings, match_id, participant["id"], time, place,
                                               _now())
    except ConversationRefused as exc:
        return await _refused(request, conn, resources.settings, participant, match, {exc.field: exc.message()},
                              {"times": time, "place": place}, exc.status)
    await matches.deliver(resources.redis, outbox)
    return RedirectResponse(f"/me/matches/{match_id}?sent=proposal#meeting", status_code=303)


@router.post("/me/matches/{match_id}/meetings/{meeting_id}", response_class=HTMLResponse)
async def choose_time(
    request: Request, match_id: IdPath, meeting_id: IdPath, participant: Participant, conn: ConnDep,
    resources: ResourcesDep, choice: Annotated[PlainText, Form(max_length=100)] = "",
) -> Response:
    """Pick one of the other party's proposed times: both get the invitation (.ics) by email."""
    match = await _own_match(conn, participant, match_id)
    try:
        _, outbox = await conversation.choose(conn, resources.settings, match_id, meeting_id, participant["id"],
                                              choice)
    except ConversationRefused as exc:
        return await _refused(request, conn, resources.settings, participant, match, {exc.field: exc.message()},
                              {"choice": choice}, exc.status)
    await matches.deliver(resources.redis, outbox)
    return RedirectResponse(f"/me/matches/{match_id}?sent=choice#meeting", status_code=303)


async def _refused(
    request: Request, conn: asyncpg.Connection, settings: Settings, participant: asyncpg.Record,
    match: asyncpg.Record, errors: dict[str, str], kept: dict[str, Any], status: int,
) -> Response:
    """The match page again with the refusal beside its field and the input kept."""
    context = await _match_context(conn, settings, participant, match, errors, kept)
    return _page(request, "match", context, status=status)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
