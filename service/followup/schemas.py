"""Who moves a match, and what its timeline shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, Field, model_validator

from service.followup.lifecycle import ActorKind, State

SYSTEM_LABEL = "Koble"


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


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a match's timeline: a transition or an email."""

    at: dt.datetime
    kind: str  # "transition" or "email"
    title: str  # the new state, or the email's subject
    detail: str | None  # reason/comment, or the delivery status
    actor: str | None


# --- API bodies and answers (service/followup/router.py) ---------------------------------------


class TransitionIn(BaseModel):
    """A move of a match by staff or an integration; `reason` is required when closing."""

    to: State
    reason: str | None = Field(None, max_length=200)
    comment: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _closing_needs_reason(self) -> TransitionIn:
        if self.to == "closed" and not (self.reason or "").strip():
            raise ValueError("reason: required when closing a match")
        return self


class TimelineOut(BaseModel):
    """One line of a match's timeline."""

    at: dt.datetime
    kind: str
    title: str
    detail: str | None
    actor: str | None


class MatchOut(BaseModel):
    """A match with its timeline (transitions and emails, oldest first)."""

    id: int
    a_id: int
    b_id: int
    state: State
    origin: str
    score: float | None
    closed_reason: str | None
    state_changed_at: dt.datetime
    created_at: dt.datetime
    next_states: list[State]
    timeline: list[TimelineOut]
