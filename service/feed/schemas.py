"""What the feed works with: cards, answers, outcomes and matches, their JSON shapes, and its refusals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.feed.deck import Progress
from service.kit.errors import Conflict, NotFound
from service.kit.i18n import _, ngettext
from service.kit.inputs import SingleLine
from service.matches import labels as match_labels

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
    photo_key: str | None = None  # their picture's version (profiles), None: initials (templates/kit/_avatar.html)
    explanation_html: str = ""  # the explanation as safe HTML (shared terms in <mark>); "" = use `explanation`
    shared_terms: tuple[str, ...] = ()  # lower-cased words its quotes share (highlighted after a swap, feed.js)


@dataclass(frozen=True)
class Feed:
    """The next card, or the reason there is none."""

    card: Card | None
    reason: Reason | None
    deck: tuple[int, ...] = ()  # the session's order of cards to keep (service.feed.deck)
    progress: Progress | None = None  # "3 of 10" (participant_first only)


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
    candidate_id: int = 0  # the card Undo brings back first


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


class CandidateNotFound(NotFound):
    """No such candidate for this participant (HTTP 404)."""

    def __init__(self, external_id: str) -> None:
        super().__init__("No candidate %(external_id)r for you", external_id=external_id)
        self.external_id = external_id

    def message(self) -> str:
        """What a browser is told (the 404 page)."""
        return _("This suggestion is no longer available.")

    def api_detail(self) -> str:
        """Names the field, as the API's other refusals do."""
        return f"candidate: no suggestion {self.external_id!r} for you"


class FeedRefusal(Conflict):
    """A refused answer or undo (HTTP 409); the API names the field the refusal is about."""

    field = "answer"

    def api_detail(self) -> dict[str, str]:
        """`{"field", "msg"}`; `msg` is in the reader's language, and feed.js shows it as it is."""
        return {"field": self.field, "msg": self.message()}


class AtCapacity(FeedRefusal):
    """The participant has as many active matches as they can take (HTTP 409)."""

    def __init__(self, active: int, capacity: int) -> None:
        super().__init__("At capacity: %(active)s of %(capacity)s active matches", active=active, capacity=capacity)
        self.active = active
        self.capacity = capacity

    def message(self) -> str:
        """Why a "yes" is refused (also why the feed shows no card)."""
        values = {"active": self.active, "capacity": self.capacity}
        have = ngettext("You have %(active)s active match, and you said you can take %(capacity)s at a time.",
                        "You have %(active)s active matches, and you said you can take %(capacity)s at a time.",
                        self.active)
        then = ngettext("You get new suggestions when it is finished or closed, or when you raise the number.",
                        "You get new suggestions when one of them is finished or closed, or when you raise the "
                        "number.", self.active)
        return f"{have % values} {then}"


class NotUndoable(FeedRefusal):
    """The answer already made or decided a match, so it stands (HTTP 409)."""

    def __init__(self, name: str, state: str, field: str = "answer") -> None:
        super().__init__("The match with %(name)s is %(state)s", name=name, state=state)
        self.name = name
        self.state = state
        self.field = field  # "candidate" when answering a card, "answer" when taking one back

    def message(self) -> str:
        """Why an answer can no longer be changed or taken back."""
        return _("Your answer to %(name)s can no longer be changed: the match is now “%(state)s”.") % {
            "name": self.name, "state": match_labels.state_label(self.state)}


class NothingToUndo(FeedRefusal):
    """The participant has no answer to take back (HTTP 409)."""

    def message(self) -> str:
        """There is no answer to take back."""
        return _("There is no answer to undo.")


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
    shared_terms: list[str] = Field(
        default_factory=list, description="Lower-cased words the explanation's quotes share (to highlight).",
        examples=[["python", "scada"]])
    answer_url: str = Field(description="Where the card's form posts (the page, without JavaScript).")
    photo_url: str | None = Field(None, description="Their photo or logo (signed-in only); null: show initials.")


class UndoOut(BaseModel):
    """The answer that "Undo" would take back."""

    external_id: str
    name: str
    answer: Answer
    label: str = Field(description="What the undo button says, in the reader's language.")


class ProgressOut(BaseModel):
    """ "3 of 10": the card's place among this session's suggestions (answered ones and those still to show)."""

    position: int = Field(examples=[3])
    total: int = Field(examples=[10])
    label: str = Field(description="The same in the reader's language.", examples=["3 av 10"])


class FeedOut(BaseModel):
    """The next card (or why there is none: `hidden`, `unverified`, `capacity`, `empty`) and what can be undone."""

    card: CardOut | None
    reason: Reason | None
    message: str | None = Field(description="Why there is no card, in the reader's language.")
    undo: UndoOut | None
    progress: ProgressOut | None = Field(None, description="Where the card stands in this session's cards.")


class AnswerIn(BaseModel):
    """An answer to one candidate."""

    model_config = ConfigDict(extra="forbid")

    candidate: Annotated[str, StringConstraints(min_length=1, max_length=100), SingleLine] = Field(
        description="The candidate's external id."
    )
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
