"""The emails a transition or a reminder causes, written to the outbox inside the caller's transaction.

Parties get their emails in their own language, with one-click reply links (single-use, signed) for
the next step; staff get an email when something needs them. Reminders respect the participant's
email preferences; introductions always go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.auth import service as auth
from service.kit import i18n
from service.kit.config import Settings
from service.mail import service as mail
from service.matches import links, repository
from service.matches.labels import state_label
from service.matches.lifecycle import REPLIES
from service.matching import service as matching
from service.profiles import service as profiles

# Entering these states introduces the two parties to each other, with contact details.
INTRODUCING = ("introduced", "mutual")


@dataclass(frozen=True)
class Reminder:
    """What a match that sits in a state too long gets: a template and the setting with its days."""

    template: str
    setting: str


REMINDERS: dict[str, Reminder] = {
    "introduced": Reminder("followup_answer", "remind_introduced_days"),
    "mutual": Reminder("followup_met", "remind_mutual_days"),
    "meeting_held": Reminder("followup_agreed", "remind_meeting_days"),
    "project_agreed": Reminder("followup_checkin", "remind_project_days"),
}


async def on_transition(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, event: asyncpg.Record
) -> list[int]:
    """Write the emails `event` causes for `match`; returns their outbox ids."""
    to_state, from_state = event["to_state"], event["from_state"]
    if to_state in INTRODUCING and from_state not in INTRODUCING:
        return await _to_parties(conn, settings, match, "match_introduction", mutual=to_state == "mutual")
    if to_state == "mutual":
        return await _to_parties(conn, settings, match, "match_mutual")
    if to_state == "closed" and event["actor_kind"] == "participant":
        return await to_staff(conn, settings, match, "closed", event["comment"])
    return []


async def remind(conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record) -> list[int]:
    """The one reminder for a match sitting in its state (parties who want reminders and have not answered)."""
    rule = REMINDERS[match["state"]]
    return await _to_parties(conn, settings, match, rule.template, reminder=True)


async def _to_parties(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, template: str,
    mutual: bool = False, reminder: bool = False,
) -> list[int]:
    a = await profiles.by_id(conn, match["a_id"])
    b = await profiles.by_id(conn, match["b_id"])
    if a is None or b is None:
        return []
    note = await repository.approval_note(conn, match["id"]) if template == "match_introduction" else None
    ids = []
    for me, other in ((a, b), (b, a)):
        if reminder and not await _wants_reminder(conn, match, me, other):
            continue
        intro = template == "match_introduction"
        extra = await introduction_context(conn, settings, me, other, note) if intro else {}
        ids.append(await _email_party(conn, settings, match, template, me, other, mutual, reminder, extra))
    return ids


async def introduction_context(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, other: asyncpg.Record,
    note: asyncpg.Record | None,
) -> dict[str, Any]:
    """What an introduction tells `me` beyond contact details: why they fit (addressed to `me`, in
    their language) and staff's note with the staff member's name (blank parts are left out)."""
    why, _html, _shared = await matching.explain_to(
        conn, matching.model_name(settings), me, other, i18n.pick_language(me["language"])
    )
    return {"why": why,
            "note": (note["comment"] or "").strip() if note else "", "note_by": note["staff_name"] if note else None}


async def _wants_reminder(
    conn: asyncpg.Connection, match: asyncpg.Record, me: asyncpg.Record, other: asyncpg.Record
) -> bool:
    if not me["email_reminders"]:
        return False
    # While both are asked whether they are interested, only those who have not answered are reminded.
    return match["state"] != "introduced" or await repository.answer_of(conn, me["id"], other["id"]) is None


async def _email_party(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, template: str,
    me: asyncpg.Record, other: asyncpg.Record, mutual: bool, reminder: bool, extra: dict[str, Any],
) -> int:
    replies = await reply_links(conn, settings, match["id"], me, REPLIES.get(match["state"], ()))
    # ?lang= opens the pages in the recipient's language (and remembers it).
    rendered = mail.render(
        template, me["email"], me["language"], name=me["name"], other=other, mutual=mutual, replies=replies,
        link=f"{settings.koble_base_url}/me/matches/{match['id']}?lang={me['language']}",
        preferences=f"{settings.koble_base_url}/me/email-preferences?lang={me['language']}", **extra,
    )
    # Reminders can be turned off (email preferences), so they carry a one-click List-Unsubscribe.
    unsubscribe = links.unsubscribe_url(settings, me["id"]) if reminder else None
    return await mail.queue(conn, me["id"], rendered, match_id=match["id"], unsubscribe_url=unsubscribe)


async def reply_links(
    conn: asyncpg.Connection, settings: Settings, match_id: int, party: asyncpg.Record, actions: Sequence[str]
) -> dict[str, str]:
    """New single-use reply links for one party, by action."""
    urls = {}
    for action in actions:
        link_id = await repository.insert_reply_link(conn, match_id, party["id"], action, settings.reply_link_days)
        urls[action] = links.reply_url(settings, links.sign_reply(settings, link_id), party["language"])
    return urls


async def to_staff(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, why: str, comment: str | None = None
) -> list[int]:
    """Email every active staff member that a match needs them (`why`: 'closed' or 'stalled')."""
    ids = []
    for staff in await auth.active_staff(conn):
        token = i18n.current_language.set(i18n.pick_language(staff["language"]))
        try:
            state = state_label(match["state"])
        finally:
            i18n.current_language.reset(token)
        rendered = mail.render(
            "staff_attention", staff["email"], staff["language"], why=why, state=state, comment=comment,
            match_id=match["id"], link=f"{settings.koble_base_url}/staff/matches/{match['id']}",
        )
        ids.append(await mail.queue(conn, None, rendered, match_id=match["id"], staff_id=staff["id"]))
    return ids


@dataclass(frozen=True)
class IntroductionPreview:
    """The introduction one party would get, as staff preview it before hand-picking (plain text)."""

    to_name: str
    language: str
    subject: str
    body: str


async def introduction_previews(
    conn: asyncpg.Connection, settings: Settings, pair: tuple[asyncpg.Record, asyncpg.Record], note: str,
    note_by: str | None,
) -> list[IntroductionPreview]:
    """Both parties' introductions with staff's note, each in its reader's language; links are stand-ins
    (no reply link is issued until the pair is made)."""
    out = []
    for me, other in (pair, pair[::-1]):
        extra = await introduction_context(conn, settings, me, other, None) | {"note": note.strip(), "note_by": note_by}
        replies = dict.fromkeys(REPLIES["introduced"], f"{settings.koble_base_url}/reply/…")
        rendered = mail.render("match_introduction", me["email"], me["language"], name=me["name"], other=other,
                               mutual=False, replies=replies, link=f"{settings.koble_base_url}/me/matches/…", **extra)
        out.append(IntroductionPreview(me["name"], me["language"], rendered.subject, rendered.body_text))
    return out
async def party_left(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, leaver_id: int
) -> list[int]:
    """Tell the other party, in their language, that the match closed because the leaver deleted their account.

    The email does not name the leaver: nothing about a deleted person is kept (tests/profiles/test_privacy.py);
    its link opens the match, which says why it closed.
    """
    other_id = match["b_id"] if match["a_id"] == leaver_id else match["a_id"]
    me = await profiles.by_id(conn, other_id) if other_id is not None else None
    if me is None:
        return []
    rendered = mail.render(
        "match_party_left", me["email"], me["language"], name=me["name"],
        link=f"{settings.koble_base_url}/me/matches/{match['id']}?lang={me['language']}",
        feed=f"{settings.koble_base_url}/me/suggestions?lang={me['language']}",
    )
    return [await mail.queue(conn, me["id"], rendered, match_id=match["id"])]
