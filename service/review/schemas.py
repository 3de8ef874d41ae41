"""The review domain's shapes: bulk results and the API's models (queue filters are the matches domain's,
staff roles and sign-in steps are auth's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from service.kit.inputs import DbId, IsoDate, NonBlankText
from service.kit.vocabulary import Domain, Engagement, Kind
from service.matches.lifecycle import State


@dataclass
class BulkResult:
    """What a bulk approval did: approved ids and the ids that had moved already (with their state)."""

    approved: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


class PartyOut(BaseModel):
    """One side of a suggested pair, as the review API shows it."""

    external_id: str
    kind: Kind
    name: str
    organisation: str | None
    domains: list[Domain]
    engagements: list[Engagement]
    offers: list[str]
    seeks: list[str]


class QueueItemOut(BaseModel):
    """A suggested pair waiting for a decision, with both parties and why the ranker suggests them."""

    match_id: int
    state: State
    score: float | None
    created_at: dt.datetime
    snoozed_until: dt.datetime | None
    a: PartyOut
    b: PartyOut
    explanation: str = Field(description="Why the pair fits, in the request's language; no numbers.")


class QueueOut(BaseModel):
    """One page of the queue, best first; pass `next_cursor` as `cursor` for the next page."""

    total: int = Field(description="Pairs matching the filters, on all pages.")
    items: list[QueueItemOut]
    next_cursor: str | None = Field(description="Opaque position of the next page; null on the last page.")


class MatchOut(BaseModel):
    """A match after a decision."""

    match_id: int
    state: State
    snoozed_until: dt.datetime | None = None


class RejectIn(BaseModel):
    """Why a pair is rejected (kept in the timeline; never shown to the participants)."""

    model_config = ConfigDict(str_strip_whitespace=True)
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500), NonBlankText] = Field(
        examples=["Different expectations about pay"]
    )


class SnoozeIn(BaseModel):
    """Hide a pair from the queue until a day."""

    until: IsoDate = Field(description="The pair comes back into the queue on this day (after today).")

    @field_validator("until")
    @classmethod
    def _after_today(cls, value: dt.date) -> dt.date:
        if value <= dt.date.today():
            raise ValueError("must be a day after today")
        return value


class BulkIn(BaseModel):
    """Approve several pairs at once."""

    match_ids: list[DbId] = Field(min_length=1, max_length=200)


class BulkOut(BaseModel):
    """Pairs approved, and pairs skipped because they had moved already (with their current state)."""

    approved: list[int]
    skipped: dict[int, State]
