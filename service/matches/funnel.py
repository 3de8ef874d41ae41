"""The follow-up funnel: how many matches reach each stage, conversion between stages, time in stage.

Pure computation over (group, first stage, furthest stage) rows from repository.reached; a match born
in a later stage (participant-first matches start `mutual`) counts only from that stage on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from service.matches.lifecycle import State

PATH: tuple[State, ...] = (
    "suggested", "approved", "introduced", "mutual", "meeting_held", "project_agreed", "project_completed",
)
GROUPS = ("all", "domain", "kinds", "month")
MAX_GROUPS = 24


@dataclass(frozen=True)
class Stage:
    """One stage of a funnel: matches that were in it, how many went on, and the median days spent."""

    state: State
    reached: int
    went_on: int
    median_days: float | None

    @property
    def conversion(self) -> float | None:
        """Share of the matches in this stage that reached the next one (None for the last stage)."""
        return self.went_on / self.reached if self.reached and self.state != PATH[-1] else None


@dataclass(frozen=True)
class Funnel:
    """The stages of one group (a domain, a kind pair, a month, or everything)."""

    key: str
    stages: list[Stage]

    @property
    def total(self) -> int:
        """Matches in the group."""
        return max((stage.reached for stage in self.stages), default=0)


def build(rows: Iterable[tuple[str, int, int]], medians: dict[str, float]) -> list[Funnel]:
    """Funnels per group from (key, born, furthest) with 1-based positions on PATH; largest groups first."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for key, born, furthest in rows:
        spans[key].append((born - 1, furthest - 1))
    funnels = [Funnel(key, _stages(group, medians)) for key, group in spans.items()]
    return sorted(funnels, key=lambda funnel: (-funnel.total, funnel.key))[:MAX_GROUPS]


def _stages(spans: list[tuple[int, int]], medians: dict[str, float]) -> list[Stage]:
    stages = []
    for index, state in enumerate(PATH):
        reached = sum(1 for born, furthest in spans if born <= index <= furthest)
        went_on = sum(1 for born, furthest in spans if born <= index < furthest)
        stages.append(Stage(state, reached, went_on, medians.get(state)))
    return stages
