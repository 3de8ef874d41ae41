"""Who did something (the actor recorded in the audit log and in a match's timeline), and recording it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from service.kit.i18n import _

ActorKind = Literal["participant", "staff", "system"]
SYSTEM_LABEL = "Koble"
API_TOKEN_LABEL = "api token"


@dataclass(frozen=True)
class Actor:
    """Who makes a transition: a participant, a staff member (or the API token), or Koble itself."""

    kind: ActorKind
    participant_id: int | None = None
    staff_id: int | None = None
    label: str = SYSTEM_LABEL  # shown in the audit log and timelines ("api token", a staff email)

    @classmethod
    def system(cls) -> Actor:
        """Koble itself (reminders, automatic introductions)."""
        return cls("system")

    @classmethod
    def participant(cls, participant_id: int) -> Actor:
        """A participant acting on their own match."""
        return cls("participant", participant_id=participant_id, label="participant")

    @classmethod
    def staff(cls, staff_id: int | None, label: str) -> Actor:
        """A staff member (staff_id None: the operator's API token, which has reviewer rights)."""
        return cls("staff", staff_id=staff_id, label=label)

    @classmethod
    def api_token(cls) -> Actor:
        """An integration with the operator's bearer token (`KOBLE_API_TOKEN`, reviewer rights)."""
        return cls.staff(None, API_TOKEN_LABEL)


# The audit log is plumbing: any domain records what its staff did or saw, in its own transaction.
# Reading the log (which names staff) is the auth domain's: service.auth.service.audit_page.


async def record(
    conn: asyncpg.Connection, actor: Actor, action: str,
    participant_id: int | None = None, match_id: int | None = None, details: dict[str, Any] | None = None,
) -> None:
    """Record one staff action or view; `details` must hold no personal data."""
    await conn.execute(
        """INSERT INTO audit_log (staff_id, actor_label, action, participant_id, match_id, details)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb)""",
        actor.staff_id, actor.label, action, participant_id, match_id, json.dumps(details or {}),
    )


async def record_many(
    conn: asyncpg.Connection, actor: Actor, action: str,
    match_ids: Sequence[int] = (), participant_ids: Sequence[int] = (),
) -> None:
    """One audit row per match and per participant shown (a page view of several people)."""
    rows: list[tuple[int | None, str, str, int | None, int | None]] = [
        (actor.staff_id, actor.label, action, None, m) for m in match_ids]
    rows += [(actor.staff_id, actor.label, action, p, None) for p in participant_ids]
    if not rows:
        return
    # One statement, not one per row (executemany): an integration's suggestions answer audits 11 people,
    # and this was the only statement of a cache hit answered from memory (bench/README.md).
    await conn.execute(
        """INSERT INTO audit_log (staff_id, actor_label, action, participant_id, match_id)
           SELECT $1, $2, $3, p, m FROM unnest($4::bigint[], $5::bigint[]) WITH ORDINALITY AS u(p, m, n) ORDER BY n""",
        actor.staff_id, actor.label, action, [row[3] for row in rows], [row[4] for row in rows],
    )


Row = tuple[int | None, str, str, int | None, int | None]  # staff_id, actor_label, action, participant_id, match_id


class GroupedReads:
    """`record_many` for reads under load: rows that requests of this process record meanwhile go in one
    statement (group commit), and each request returns only once its own rows are written.

    The request holding the lock writes every row pending, its own and those of requests that queued
    behind it, on its own connection (no connection of the pool is waited for while one is held); a
    request whose rows an earlier writer took returns without a statement. Sequential requests write one
    statement each, as before; at 16 connections most requests write none (bench/README.md). The audit
    stays exact: nothing is answered before its rows are committed. One per app (lifespan).
    """

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.pending: list[Row] = []
        self.waiting: list[asyncio.Future[None]] = []

    async def record_many(self, conn: asyncpg.Connection, actor: Actor, action: str,
                          participant_ids: Sequence[int]) -> None:
        """One audit row per participant shown, written with the rows of concurrent reads."""
        if not participant_ids:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending += [(actor.staff_id, actor.label, action, p, None) for p in participant_ids]
        self.waiting.append(done)
        async with self.lock:
            if not done.done():
                await self._write(conn)
        await done  # raises what the write that took these rows raised

    async def _write(self, conn: asyncpg.Connection) -> None:
        rows, waiting = self.pending, self.waiting
        self.pending, self.waiting = [], []
        try:
            await _insert(conn, rows)
        except Exception as error:  # every request whose rows these were fails as its own write would
            _settle(waiting, error)
        except BaseException:  # cancelled mid-write: whether it committed is unknown, so none is answered
            _settle(waiting, RuntimeError("the audit write was cancelled"))
            raise
        else:
            _settle(waiting, None)


def _settle(waiting: Sequence[asyncio.Future[None]], error: Exception | None) -> None:
    for future in waiting:
        if future.done():  # its request was cancelled meanwhile
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


async def _insert(conn: asyncpg.Connection, rows: Sequence[Row]) -> None:
    """Audit rows of any actors and actions in one statement, in the given order."""
    await conn.execute(
        """INSERT INTO audit_log (staff_id, actor_label, action, participant_id, match_id)
           SELECT s, l, a, p, m FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                WITH ORDINALITY AS u(s, l, a, p, m, n) ORDER BY n""",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows],
    )


# --- what the audit log and match timelines show staff: words, never codes ---


def action_labels() -> dict[str, str]:
    """Every action the code records (tests/kit/test_audit_labels.py finds them), in the current language."""
    return {
        "sign_in": _("Signed in"),
        "staff_add": _("Added a staff member"),
        "staff_role": _("Changed a staff member's role"),
        "staff_disable": _("Disabled a staff member"),
        "view_participant": _("Viewed a participant"),
        "create_participant": _("Created a participant (integration)"),
        "replace_participant": _("Replaced a participant (integration)"),
        "delete_participant": _("Deleted a participant (integration)"),
        "view_queue": _("Viewed a pair in the review queue"),
        "approve": _("Approved a pair"),
        "undo_approve": _("Took back an approval (before the introductions went)"),
        "preview_pair": _("Previewed a hand-picked pair and its introductions"),
        "reject": _("Rejected a pair"),
        "snooze": _("Snoozed a pair"),
        "close": _("Closed a match"),
        "search_participants": _("Found a participant in a search"),
        "hand_pick": _("Hand-picked a pair"),
        "view_match": _("Viewed a match"),
        "view_pipeline": _("Viewed a match in the pipeline"),
        "export": _("Downloaded the matches (CSV)"),
        "view_suggestions": _("Read a participant's suggestions (integration)"),
        "view_outbox": _("Viewed emails to a participant (outbox)"),
        "outbox.retry": _("Sent a failed email again"),
        "match.transition": _("Moved a match (API)"),
        "event_create": _("Created an event"),
        "event_edit": _("Changed an event"),
        "view_event": _("Viewed an event's attendee"),
        "event_schedule": _("Scheduled an event's meetings"),
        "event_move": _("Moved a meeting of an event"),
        "event_publish": _("Published an event's agendas"),
        "view_event_tables": _("Viewed an event's table plan"),
        "view_event_checkin": _("Viewed an event's check-in list"),
        "event_check_in": _("Checked an attendee in"),
        "event_no_show": _("Marked an attendee as not come"),
        "event_close": _("Closed an event"),
        "round_create": _("Created a mapping round"),
        "round_send": _("Sent a mapping round's invitations"),
        "round_view_people": _("Viewed a mapping round's organisations"),
        "round_delete": _("Deleted a mapping round"),
        "map_drill_down": _("Viewed a participant behind the map's figures"),
    }


def action_label(action: str) -> str:
    """One recorded action in words; an action without a label yet is shown as "Other: <code>"."""
    label = action_labels().get(action)
    return label if label is not None else _("Other: %(code)s") % {"code": action}


def actor_labels() -> dict[str, str]:
    """Who acted, for the actors that are not a staff member's address (audit rows and timeline kinds)."""
    return {
        "participant": _("The participant"),
        "staff": _("Staff"),
        "system": _("Koble (automatic)"),
        SYSTEM_LABEL: _("Koble (automatic)"),
        API_TOKEN_LABEL: _("Integration (API token)"),
    }


def actor_label(actor: str | None) -> str:
    """An actor in words: a staff member's address as it is, a kind of actor named."""
    if not actor:
        return ""
    return actor_labels().get(actor, actor)
