"""The follow-up API's bodies and answers: who moves a match, and what its timeline shows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from service.kit.inputs import MultiLine, SingleLine
from service.matches.lifecycle import State


class TransitionIn(BaseModel):
    """A move of a match by staff or an integration; `reason` is required when closing."""

    # The closing rule in the schema too, so that clients (and generated tests) see it (issue 15, finding 12).
    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"to": {"const": "closed"}}, "required": ["to"]},
        "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "pattern": "\\S"}}},
    })

    to: State
    reason: Annotated[str, StringConstraints(max_length=200), SingleLine] | None = None
    comment: Annotated[str, StringConstraints(max_length=2000), MultiLine] | None = None

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
