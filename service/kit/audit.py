"""Who did something (the actor recorded in the audit log and in a match's timeline), and recording it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

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
