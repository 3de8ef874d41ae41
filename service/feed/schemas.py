"""What the feed works with: cards, answers, outcomes and matches, their JSON shapes, and its refusals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

Answer = Literal["interested", "not_now"]
Reason = Literal["hidden", "unverified", "capacity", "empty"]
# From these states on, the two have been introduced: each sees the other's email address.
CONTACT_STATES = frozenset({"introduced", "mutual", "meeting_held", "project_agreed", "project_completed"})


@dataclass(frozen=True)
class Card:
    """One candidate as the participant sees them: who, what they offer and seek, and why (no score)."""

    candidate_id: int
    external_id: str
    name: str
    organisation: str | None
    kind: str
    offers: tuple[str, ...]
    seeks: tuple[str, ...]
    explanation: str
    match_id: int | None  # staff_first: the introduced match the card answers


@dataclass(frozen=True)
class Feed:
    """The next card, or the reason there is none."""

    card: Card | None
    reason: Reason | None


@dataclass(frozen=True)
class Outcome:
    """What an answer did: `match` is the match it made or decided (mutual or declined), if any."""

    answer: Answer
    external_id: str
    name: str
    match: asyncpg.Record | None
    emailed: bool


@dataclass(frozen=True)
class LastAnswer:
    """An answer that can be taken back."""

    external_id: str
    name: str
    answer: Answer


@dataclass(frozen=True)
class MatchView:
    """One of the participant's matches, as "My matches" lists it."""

    id: int
    state: str
    state_label: str
    name: str
    organisation: str | None
    kind: str
    email: str | None  # only once introduced
    changed_at: dt.datetime


class CandidateNotFound(Exception):
    """No such candidate for this participant (HTTP 404)."""

    def __init__(self, external_id: str) -> None:
        super().__init__(f"No candidate {external_id!r} for you")
        self.external_id = external_id


class AtCapacity(Exception):
    """The participant has as many active matches as they can take (HTTP 409)."""

    def __init__(self, active: int, capacity: int) -> None:
        super().__init__(f"At capacity: {active} of {capacity} active matches")
        self.active = active
        self.capacity = capacity


class NotUndoable(Exception):
    """The answer already made or decided a match, so it stands (HTTP 409)."""

    def __init__(self, name: str, state: str) -> None:
        super().__init__(f"The match with {name} is {state}")
        self.name = name
        self.state = state


class NothingToUndo(Exception):
    """The participant has no answer to take back (HTTP 409)."""


# --- JSON (router.py) ---


class CardOut(BaseModel):
    """A card: who the candidate is, what they offer and seek, and why they fit (no score)."""

    external_id: str = Field(examples=["raufoss-robotics"])
    name: str = Field(examples=["Raufoss Robotics AS"])
    organisation: str | None = Field(examples=["Raufoss Robotics AS"])
    kind: str = Field(examples=["company"])
    kind_label: str = Field(description="The kind in the reader's language.", examples=["Bedrift"])
    offers: list[str]
    seeks: list[str]
    explanation: str = Field(description="Why, in the reader's language; no numbers.")
    answer_url: str = Field(description="Where the card's form posts (the page, without JavaScript).")


class UndoOut(BaseModel):
    """The answer that "Undo" would take back."""

    external_id: str
    name: str
    answer: Answer
    label: str = Field(description="What the undo button says, in the reader's language.")


class FeedOut(BaseModel):
    """The next card (or why there is none: `hidden`, `unverified`, `capacity`, `empty`) and what can be undone."""

    card: CardOut | None
    reason: Reason | None
    message: str | None = Field(description="Why there is no card, in the reader's language.")
    undo: UndoOut | None


class AnswerIn(BaseModel):
    """An answer to one candidate."""

    model_config = ConfigDict(extra="forbid")

    candidate: str = Field(min_length=1, max_length=100, description="The candidate's external id.")
    answer: Answer


class UndoIn(BaseModel):
    """Take back the latest answer (an empty object)."""

    model_config = ConfigDict(extra="forbid")


class MatchOut(BaseModel):
    """A match an answer made or decided."""

    id: int
    state: str
    url: str


class AnswerOut(BaseModel):
    """What the answer did, in words, and the next card."""

    message: str
    match: MatchOut | None
    next: FeedOut


class UndoneOut(BaseModel):
    """What was taken back, in words, and the next card (the candidate is back)."""

    message: str
    next: FeedOut
