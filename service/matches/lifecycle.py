"""The match lifecycle (docs/architecture.md) as data: states, legal transitions, which states count,
and the replies that let participants move their own match.

suggested → approved | rejected → introduced → mutual | declined → meeting_held → project_agreed
→ project_completed, and `closed` (with a reason) from any open state. In participant-first mode a
match is born `mutual` (both said interested before anyone was introduced).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from service.kit.errors import Conflict, NotFound
from service.matches import labels

State = Literal[
    "suggested", "approved", "rejected", "introduced", "mutual", "declined",
    "meeting_held", "project_agreed", "project_completed", "closed",
]
STATES: tuple[State, ...] = get_args(State)
Origin = Literal["ranker", "hand_picked", "participants", "event"]
# A participant's reply: one-click links in emails and the buttons on their match page.
Action = Literal["interested", "not_now", "met", "agreed", "completed", "stop"]
ACTIONS: tuple[Action, ...] = ("interested", "not_now", "met", "agreed", "completed", "stop")

_FORWARD: dict[State, tuple[State, ...]] = {
    "suggested": ("approved", "rejected"),
    "approved": ("introduced", "suggested"),  # suggested: staff undo within the grace period
    "introduced": ("mutual", "declined"),
    "mutual": ("meeting_held",),
    "meeting_held": ("project_agreed",),
    "project_agreed": ("project_completed",),
}
TERMINAL: frozenset[State] = frozenset({"rejected", "declined", "project_completed", "closed"})
OPEN: tuple[State, ...] = tuple(s for s in STATES if s not in TERMINAL)
# States that take a slot of the participants' capacity: staff or both parties said yes, not finished.
ACTIVE: tuple[State, ...] = ("approved", "introduced", "mutual", "meeting_held", "project_agreed")
# Pipeline order, for boards and funnels.
ORDER: tuple[State, ...] = (
    "suggested", "approved", "introduced", "mutual", "meeting_held", "project_agreed",
    "project_completed", "rejected", "declined", "closed",
)


# Where each reply takes the match ("interested" waits for both parties, then `mutual`).
TARGETS: dict[str, State] = {
    "not_now": "declined", "met": "meeting_held", "agreed": "project_agreed",
    "completed": "project_completed", "stop": "closed",
}
STOP_REASON = "not_going_ahead"
# The replies each state asks its parties for (one-click links in emails, buttons on the match page).
REPLIES: dict[str, tuple[Action, ...]] = {
    "introduced": ("interested", "not_now"),
    "mutual": ("met", "stop"),
    "meeting_held": ("agreed", "stop"),
    "project_agreed": ("completed", "stop"),
}


def next_states(state: State) -> tuple[State, ...]:
    """Where a match in `state` may go next (`closed` from every open state)."""
    if state in TERMINAL:
        return ()
    return (*_FORWARD.get(state, ()), "closed")


def sources(target: State) -> tuple[State, ...]:
    """The states from which `target` may be reached."""
    return tuple(s for s in STATES if target in next_states(s))


def can_move(current: State, target: State) -> bool:
    """Whether `current → target` is a legal transition."""
    return target in next_states(current)


def passed(current: str, target: str) -> bool:
    """Whether a match in `current` has already reached `target` on the way to a project."""
    path = ORDER[: ORDER.index("project_completed") + 1]
    return current == target or (current in path and target in path and path.index(current) > path.index(target))


def settled(state: str, action: str) -> bool:
    """Whether a match in `state` has already got where `action` would take it (nothing left to do)."""
    return passed(state, TARGETS.get(action, "mutual"))


class IllegalTransition(Conflict):
    """A transition the lifecycle does not allow from the match's current state (HTTP 409)."""

    def __init__(self, match_id: int, current: str, target: str) -> None:
        super().__init__("Match %(match_id)s is %(current)s; it cannot become %(target)s",
                         match_id=match_id, current=current, target=target)
        self.match_id = match_id
        self.current = current
        self.target = target

    def message(self) -> str:
        """The refusal in words, naming the state the match is in now."""
        return labels.refusal(self.current, self.target)

    def api_detail(self) -> dict[str, Any]:
        """The 409 names the current state, so the second of two deciders learns what happened."""
        return {"msg": self.message(), "current_state": self.current, "match_id": self.match_id}


class MatchNotFound(NotFound):
    """No match with that id (HTTP 404)."""

    template = "No match with id %(match_id)s"

    def __init__(self, match_id: int) -> None:
        super().__init__(match_id=match_id)
        self.match_id = match_id
