"""The match lifecycle (architecture.md) as data: states, legal transitions, which states count.

suggested → approved | rejected → introduced → mutual | declined → meeting_held → project_agreed
→ project_completed, and `closed` (with a reason) from any open state. In participant-first mode a
match is born `mutual` (both said interested before anyone was introduced).
"""

from __future__ import annotations

from typing import Literal, get_args

State = Literal[
    "suggested", "approved", "rejected", "introduced", "mutual", "declined",
    "meeting_held", "project_agreed", "project_completed", "closed",
]
STATES: tuple[State, ...] = get_args(State)
Origin = Literal["ranker", "hand_picked", "participants"]

_FORWARD: dict[State, tuple[State, ...]] = {
    "suggested": ("approved", "rejected"),
    "approved": ("introduced",),
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


class IllegalTransition(Exception):
    """A transition the lifecycle does not allow from the match's current state (HTTP 409)."""

    def __init__(self, match_id: int, current: str, target: str) -> None:
        super().__init__(f"Match {match_id} is {current}; it cannot become {target}")
        self.match_id = match_id
        self.current = current
        self.target = target


class MatchNotFound(Exception):
    """No match with that id (HTTP 404)."""

    def __init__(self, match_id: int) -> None:
        super().__init__(f"No match with id {match_id}")
        self.match_id = match_id
