"""The match lifecycle in use: create matches and move them, each move stored with its actor and the
emails it causes written in the same transaction (the outbox); participants' answers and replies; the
reads the feed, the follow-up pages and staff review need. The faces call only this module.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import asyncpg
from arq.connections import ArqRedis

from service.kit.audit import SYSTEM_LABEL, Actor
from service.kit.config import Settings
from service.mail import service as mail
from service.mail import tasks as mail_tasks
from service.matches import funnel, links, notifications, repository
from service.matches.lifecycle import (
    STOP_REASON,
    TARGETS,
    Action,
    IllegalTransition,
    MatchNotFound,
    Origin,
    State,
    can_move,
    passed,
)
from service.matches.schemas import Outcome, QueueFilter, TimelineEntry
from service.profiles import service as profiles

log = logging.getLogger(__name__)

# --- pairs and matches ---


def pair(x: int, y: int) -> tuple[int, int]:
    """A pair's ids in the order matches store them."""
    return (x, y) if x < y else (y, x)


def other_party(match: asyncpg.Record, participant_id: int) -> int:
    """The other participant of a match."""
    return int(match["b_id"] if match["a_id"] == participant_id else match["a_id"])


async def by_id(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """One match."""
    return await repository.by_id(conn, match_id)


async def by_pair(conn: asyncpg.Connection, x: int, y: int) -> asyncpg.Record | None:
    """The match of two participants (in either order), if any."""
    return await repository.by_pair(conn, *pair(x, y))


async def active_counts(conn: asyncpg.Connection, participant_ids: Sequence[int]) -> dict[int, int]:
    """Active matches (those taking capacity) per participant, for those that have any."""
    return await repository.active_counts(conn, participant_ids)


# --- the lifecycle: create, move, approve, deliver, timeline ---


async def create(
    conn: asyncpg.Connection, settings: Settings, ids: tuple[int, int], state: State, origin: Origin,
    actor: Actor, score: float | None = None, comment: str | None = None,
) -> tuple[asyncpg.Record | None, list[int]]:
    """A new match born in `state`; (None, []) if the pair already has one. Returns its outbox ids."""
    async with conn.transaction():
        row = await repository.insert_match(conn, *pair(*ids), state, origin, score)
        if row is None:
            return None, []
        event = await repository.insert_event(conn, row["id"], None, state, actor, None, comment)
        outbox = await notifications.on_transition(conn, settings, row, event)
    return row, outbox


async def transition(
    conn: asyncpg.Connection, settings: Settings, match_id: int, target: State, actor: Actor,
    reason: str | None = None, comment: str | None = None,
) -> tuple[asyncpg.Record, list[int]]:
    """Move a match to `target`; raises IllegalTransition (naming the current state) or MatchNotFound.

    The row is locked first, so of two people deciding at once one wins and the other is refused.
    """
    async with conn.transaction():
        current = await repository.lock(conn, match_id)
        if current is None:
            raise MatchNotFound(match_id)
        if not can_move(current["state"], target):
            raise IllegalTransition(match_id, current["state"], target)
        row = await repository.set_state(conn, match_id, target, reason if target == "closed" else None)
        event = await repository.insert_event(conn, match_id, current["state"], target, actor, reason, comment)
        outbox = await notifications.on_transition(conn, settings, row, event)
    return row, outbox


async def deliver(redis: ArqRedis | None, outbox_ids: list[int]) -> None:
    """Hand emails written by a committed transition to the worker (the outbox sweep covers Redis outages)."""
    await mail_tasks.enqueue(redis, outbox_ids)


async def timeline(conn: asyncpg.Connection, match_id: int) -> list[TimelineEntry]:
    """A match's transitions, emails and follow-up reminders, oldest first."""
    entries = [_event_entry(row) for row in await repository.events(conn, match_id)]
    entries += [_email_entry(row) for row in await mail.for_match(conn, match_id)]
    entries += [_reminder_entry(row) for row in await repository.reminders(conn, match_id)]
    return sorted(entries, key=lambda entry: entry.at)


async def events(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """A match's transitions, oldest first, with the staff member's email where staff acted."""
    return await repository.events(conn, match_id)


def _event_entry(row: asyncpg.Record) -> TimelineEntry:
    actor = row["staff_email"] or row["actor_kind"]
    detail = " · ".join(part for part in (row["reason"], row["comment"]) if part) or None
    return TimelineEntry(row["created_at"], "transition", row["to_state"], detail, actor)


def _email_entry(row: asyncpg.Record) -> TimelineEntry:
    # The detail says how delivery went: status, tries, and the last SMTP error if it failed.
    detail = " · ".join(str(part) for part in (row["status"], row["to_address"], row["last_error"]) if part)
    return TimelineEntry(row["created_at"], "email", row["subject"], detail, "staff" if row["staff_id"] else None)


def _reminder_entry(row: asyncpg.Record) -> TimelineEntry:
    # A reminder of the parties or an escalation to staff, for the state the match sat in.
    return TimelineEntry(row["created_at"], row["kind"], row["state"], None, SYSTEM_LABEL)


async def approve(
    conn: asyncpg.Connection, settings: Settings, match_id: int, actor: Actor, comment: str | None = None
) -> list[int]:
    """Staff approve a suggested match (`comment`: their note to the pair, quoted in the introduction).

    With no grace period Koble introduces the parties at once (emails both); otherwise the match waits
    `approved` for `introduce_due` after `approval_grace_seconds`, and `undo_approval` may take it back.
    Returns outbox ids.
    """
    async with conn.transaction():
        _, first = await transition(conn, settings, match_id, "approved", actor, comment=comment)
        if settings.approval_grace_seconds > 0:
            return first
        _, second = await transition(conn, settings, match_id, "introduced", Actor.system())
    return first + second


UNDO_REASON = "undo"


async def undo_approval(conn: asyncpg.Connection, settings: Settings, match_id: int, actor: Actor) -> asyncpg.Record:
    """Take an approval back before its introduction: the pair is `suggested` again and nobody is emailed.

    Exactly once against the introduction: both lock the row, so either the undo sees `approved` and wins
    (the introduction then finds `suggested` and does nothing) or it sees `introduced` and is refused.
    """
    row, _outbox = await transition(conn, settings, match_id, "suggested", actor, reason=UNDO_REASON)
    return row


async def introduce_due(
    conn: asyncpg.Connection, settings: Settings, match_id: int, now: dt.datetime
) -> list[int]:
    """Introduce one approved match whose grace period has passed (the delayed job); [] if undone or early."""
    async with conn.transaction():
        current = await repository.lock(conn, match_id)
        # 1 s of slack: the job is due at the database's approval time, read on the worker's clock.
        grace = dt.timedelta(seconds=settings.approval_grace_seconds - 1)
        if current is None or current["state"] != "approved" or current["state_changed_at"] + grace > now:
            return []  # undone, introduced already, or re-approved later (that approval's job will come)
        return (await transition(conn, settings, match_id, "introduced", Actor.system()))[1]


INTRODUCE_JOB = "introduce_match"  # matches.tasks.introduce_match


async def schedule_introduction(redis: ArqRedis | None, settings: Settings, approved: asyncpg.Record) -> bool:
    """Ask the worker to introduce an approved match when its grace period ends; False if Redis did not
    take it (the worker's minute sweep introduces it then, at most a minute late)."""
    if redis is None:
        return False
    stamp = int(approved["state_changed_at"].timestamp() * 1_000_000)  # one job per approval, also after an undo
    try:
        job = await redis.enqueue_job(INTRODUCE_JOB, approved["id"], _job_id=f"introduce:{approved['id']}:{stamp}",
                                      _defer_until=introduce_at(settings, approved))
    except mail_tasks.REDIS_ERRORS as exc:
        log.warning("could not schedule introducing match %s (%s); the sweep will", approved["id"],
                    type(exc).__name__)
        return False
    return job is not None


def introduce_at(settings: Settings, approved: asyncpg.Record) -> dt.datetime:
    """When an approved match is introduced (its approval time plus the grace period)."""
    return approved["state_changed_at"] + dt.timedelta(seconds=settings.approval_grace_seconds)


async def approval_note(conn: asyncpg.Connection, match_id: int) -> asyncpg.Record | None:
    """The note staff wrote when approving a match, with their name (columns comment, staff_name)."""
    return await repository.approval_note(conn, match_id)


# --- participants' replies: one-click links in emails and the buttons on their match page ---
# Idempotent by design: a reply the match has already passed (the other party clicked first, or the
# same link twice) changes nothing and says so.


async def act(
    conn: asyncpg.Connection, settings: Settings, match_id: int, participant_id: int, action: Action,
    comment: str | None = None,
) -> Outcome:
    """Apply one party's reply to their match (in one transaction)."""
    async with conn.transaction():
        match = await repository.lock(conn, match_id)
        if match is None or participant_id not in (match["a_id"], match["b_id"]):
            return Outcome("refused", match["state"] if match else "closed")
        if action == "interested":
            return await _interested(conn, settings, match, participant_id, comment)
        if action == "not_now" and match["state"] == "introduced":
            await repository.upsert_answer(conn, participant_id, other_party(match, participant_id), "not_now")
        return await _move(conn, settings, match, participant_id, TARGETS[action], comment)


async def _interested(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, me: int, comment: str | None
) -> Outcome:
    if match["state"] != "introduced":
        return Outcome("already" if passed(match["state"], "mutual") else "refused", match["state"])
    other = other_party(match, me)
    await repository.upsert_answer(conn, me, other, "interested")
    if await repository.answer_of(conn, other, me) != "interested":
        return Outcome("waiting", match["state"])
    return await _move(conn, settings, match, me, "mutual", comment)


async def _move(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, me: int, target: State, comment: str | None
) -> Outcome:
    reason = STOP_REASON if target == "closed" else None
    try:
        row, outbox = await transition(
            conn, settings, match["id"], target, Actor.participant(me), reason=reason, comment=comment or None
        )
    except IllegalTransition as exc:
        return Outcome("already" if passed(exc.current, target) else "refused", exc.current)
    return Outcome("done", row["state"], outbox)


async def reply_link(conn: asyncpg.Connection, settings: Settings, token: str) -> asyncpg.Record | None:
    """The reply link a token names, with its match's state; None if forged, unknown or expired unused."""
    link_id = links.read_reply(settings, token)
    link = None if link_id is None else await repository.reply_link(conn, link_id)
    return None if link is None or (link["expired"] and link["used_at"] is None) else link


async def reply(conn: asyncpg.Connection, settings: Settings, link: asyncpg.Record, comment: str) -> Outcome:
    """Use a reply link once and apply its reply; a second click (or the other party's) changes nothing."""
    async with conn.transaction():
        if not await repository.use_reply_link(conn, link["id"]):
            return Outcome("already", link["state"])
        return await act(conn, settings, link["match_id"], link["participant_id"], link["action"], comment)


def unsubscribe_valid(settings: Settings, token: str) -> bool:
    """Whether an unsubscribe token is genuine (shown before the button is pressed)."""
    return links.read_unsubscribe(settings, token) is not None


async def unsubscribe(conn: asyncpg.Connection, settings: Settings, token: str) -> bool:
    """Turn reminder emails off for the participant an unsubscribe token names; False if none."""
    participant_id = links.read_unsubscribe(settings, token)
    return participant_id is not None and await profiles.set_email_reminders(conn, participant_id, False)


# --- participants' answers to suggestions ---


async def lock_pair(conn: asyncpg.Connection, x: int, y: int) -> None:
    """Serialise answers about one pair until the transaction ends (two yeses at once make one match)."""
    await repository.lock_pair(conn, x, y)


async def save_answer(conn: asyncpg.Connection, participant_id: int, candidate_id: int, answer: str) -> None:
    """Store (or change) a participant's answer to a candidate."""
    await repository.upsert_answer(conn, participant_id, candidate_id, answer)


async def answer_of(conn: asyncpg.Connection, participant_id: int, candidate_id: int) -> str | None:
    """One participant's answer to one candidate, if any."""
    return await repository.answer_of(conn, participant_id, candidate_id)


async def answered_ids(conn: asyncpg.Connection, participant_id: int) -> set[int]:
    """Every candidate this participant has answered, either way."""
    return await repository.answered_ids(conn, participant_id)


async def last_answer(conn: asyncpg.Connection, participant_id: int) -> asyncpg.Record | None:
    """The participant's most recent answer, with the candidate's name and the pair's match state."""
    return await repository.last_answer(conn, participant_id)


async def remove_answer(
    conn: asyncpg.Connection, participant_id: int, candidate_id: int, answer: str | None = None
) -> bool:
    """Remove one answer (only if it is still `answer`, when given); False if there was none."""
    return await repository.delete_answer(conn, participant_id, candidate_id, answer)


async def declined(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The candidates a participant said "not now" to, newest first, with the pair's match state."""
    return await repository.declined(conn, participant_id)


async def declined_between(conn: asyncpg.Connection, x: int, y: int) -> bool:
    """Whether either said "not now" to the other."""
    return await repository.declined_between(conn, x, y)


async def introduced_unanswered(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """Staff-first feed: introduced matches this participant has not answered, oldest introduction first."""
    return await repository.introduced_unanswered(conn, participant_id)


async def shown_to(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The matches a participant may see (those that reached them), open first, with the other party."""
    return await repository.my_matches(conn, participant_id)


# --- staff: the review queue, the pipeline, a participant's matches, the export, the funnel ---


async def queue_page(conn: asyncpg.Connection, f: QueueFilter) -> list[asyncpg.Record]:
    """One page of the review queue for the filters, best first, after `f.after`."""
    return await repository.queue_page(conn, f)


async def queue_count(conn: asyncpg.Connection, f: QueueFilter) -> int:
    """How many matches the queue's filters select, on all pages."""
    return await repository.queue_count(conn, f)


async def snooze(conn: asyncpg.Connection, match_id: int, until: dt.datetime) -> asyncpg.Record:
    """Hide a suggested match from the queue until a time; IllegalTransition if it is no longer suggested."""
    row = await repository.snooze(conn, match_id, until)
    if row is not None:
        return row
    current = await repository.by_id(conn, match_id)
    if current is None:
        raise MatchNotFound(match_id)
    raise IllegalTransition(match_id, current["state"], "suggested")


async def state_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Matches per lifecycle state."""
    return await repository.state_counts(conn)


async def in_state(conn: asyncpg.Connection, state: str, limit: int) -> list[asyncpg.Record]:
    """The most recently moved matches in one state, with both parties' names."""
    return await repository.matches_in_state(conn, state, limit)


async def of_participant(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """A participant's matches, newest first, with the other party's name, organisation and kind."""
    return await repository.matches_of(conn, participant_id)


async def export_rows(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every match for the council's reporting: ids, kinds, domains, organisations, states and dates."""
    return await repository.export_rows(conn)


async def funnels(conn: asyncpg.Connection, group: str) -> list[funnel.Funnel]:
    """The follow-up funnel by `group` (one of funnel.GROUPS): stages, conversion, median days in stage."""
    rows = await repository.reached(conn, funnel.PATH, group)
    medians = await repository.median_days(conn)
    return funnel.build(((row["key"], row["born"], row["furthest"]) for row in rows), medians)


# --- reminders (the worker's cron job, matches.tasks) ---
# Several workers may run the job at once: each reminder is a row (match, state, kind) inserted with
# ON CONFLICT DO NOTHING in the transaction that writes its emails, so every reminder goes once.


async def send_reminders(conn: asyncpg.Connection, settings: Settings, now: dt.datetime) -> list[int]:
    """Remind parties of matches due at `now`, and tell staff of those reminded long enough ago."""
    outbox: list[int] = []
    for state, rule in notifications.REMINDERS.items():
        interval = dt.timedelta(days=getattr(settings, rule.setting))
        for match in await repository.due(conn, state, now - interval, "reminder"):
            outbox += await _once(conn, settings, match, "reminder", now)
        for match in await repository.due_escalation(conn, state, now - interval):
            outbox += await _once(conn, settings, match, "escalation", now)
    return outbox


async def _once(
    conn: asyncpg.Connection, settings: Settings, match: asyncpg.Record, kind: str, now: dt.datetime
) -> list[int]:
    async with conn.transaction():
        if not await repository.claim_reminder(conn, match["id"], match["state"], kind, now):
            return []
        if kind == "reminder":
            return await notifications.remind(conn, settings, match)
        return await notifications.to_staff(conn, settings, match, "stalled")


async def introduce_approved(conn: asyncpg.Connection, settings: Settings) -> list[int]:
    """Introduce approved matches whose grace period has passed (a safety net for a lost delayed job)."""
    now = dt.datetime.now(dt.UTC)
    outbox: list[int] = []
    for match_id in await repository.approved_before(conn, now - dt.timedelta(seconds=settings.approval_grace_seconds)):
        outbox += await introduce_due(conn, settings, match_id, now)
    return outbox


# --- previews for staff (hand-pick) ---

IntroductionPreview = notifications.IntroductionPreview


async def introduction_previews(
    conn: asyncpg.Connection, settings: Settings, pair: tuple[asyncpg.Record, asyncpg.Record], note: str,
    note_by: str | None,
) -> list[IntroductionPreview]:
    """The introduction each of a pair would get (with staff's note), before the pair is made."""
    return await notifications.introduction_previews(conn, settings, pair, note, note_by)
