"""The meeting scheduler's interface, with a greedy stand-in (the CP-SAT scheduler replaces this file).

A problem: time slots, T tables, people (the slots they can meet in, their meeting limit) and
weighted meetings between two people; `fixed` meetings keep their slot and table. A schedule puts
meetings into (slot, table) so that nobody has two meetings in one slot, both attendees are available,
no slot has more meetings than tables and nobody exceeds their limit; `check` names every broken rule.
Pure: no I/O.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Slot:
    """One time slot."""

    id: str
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Person:
    """An attendee: the slots they are present and free in, and the most meetings they take."""

    id: str
    available: frozenset[str]
    max_meetings: int


@dataclass(frozen=True)
class Meeting:
    """An accepted meeting between people a and b, worth `weight`."""

    id: str
    a: str
    b: str
    weight: float


@dataclass(frozen=True)
class Fixed:
    """A meeting that must stay in its slot at its table (published)."""

    meeting: str
    slot: str
    table: int


@dataclass(frozen=True)
class Problem:
    """Everything the scheduler needs."""

    slots: tuple[Slot, ...]
    tables: int
    people: tuple[Person, ...]
    meetings: tuple[Meeting, ...]
    fixed: tuple[Fixed, ...] = ()


@dataclass(frozen=True)
class Assignment:
    """A meeting in a slot at a table (tables numbered 1..T)."""

    meeting: str
    slot: str
    table: int


@dataclass(frozen=True)
class Schedule:
    """The scheduled meetings, the ones left out, the total weight and the proven bound on it."""

    assignments: tuple[Assignment, ...]
    unscheduled: tuple[str, ...]
    objective: float
    upper_bound: float
    seconds: float
    optimal: bool


def solve(problem: Problem, time_limit: float = 10.0, seed: int = 0) -> Schedule:
    """Fixed meetings first, then the heaviest meeting into the first slot that fits (greedy)."""
    started = time.perf_counter()
    people = {p.id: p for p in problem.people}
    busy: dict[str, set[str]] = defaultdict(set)
    tables: dict[str, set[int]] = defaultdict(set)
    chosen: list[Assignment] = []
    fixed = {f.meeting: f for f in problem.fixed}
    meetings = {m.id: m for m in problem.meetings}
    for f in problem.fixed:
        _take(chosen, busy, tables, meetings[f.meeting], f.slot, f.table)
    for meeting in sorted(problem.meetings, key=lambda m: (-m.weight, m.id)):
        if meeting.id not in fixed:
            _place(problem, people, busy, tables, chosen, meeting)
    placed = {a.meeting for a in chosen}
    objective = sum(m.weight for m in problem.meetings if m.id in placed)
    bound = sum(m.weight for m in problem.meetings)
    return Schedule(tuple(chosen), tuple(m.id for m in problem.meetings if m.id not in placed), objective, bound,
                    time.perf_counter() - started, objective >= bound)


def _place(problem: Problem, people: dict[str, Person], busy: dict[str, set[str]],
           tables: dict[str, set[int]], chosen: list[Assignment], meeting: Meeting) -> None:
    a, b = people[meeting.a], people[meeting.b]
    if len(busy[a.id]) >= a.max_meetings or len(busy[b.id]) >= b.max_meetings:
        return
    for slot in problem.slots:
        free = [t for t in range(1, problem.tables + 1) if t not in tables[slot.id]]
        if free and slot.id in a.available and slot.id in b.available and slot.id not in busy[a.id] | busy[b.id]:
            _take(chosen, busy, tables, meeting, slot.id, free[0])
            return


def _take(chosen: list[Assignment], busy: dict[str, set[str]], tables: dict[str, set[int]],
          meeting: Meeting, slot: str, table: int) -> None:
    chosen.append(Assignment(meeting.id, slot, table))
    busy[meeting.a].add(slot)
    busy[meeting.b].add(slot)
    tables[slot].add(table)


def check(problem: Problem, schedule: Schedule) -> list[str]:
    """Every rule the schedule breaks, in words (empty if it is valid)."""
    meetings = {m.id: m for m in problem.meetings}
    slots = {s.id for s in problem.slots}
    people = {p.id: p for p in problem.people}
    broken = [f"unknown meeting {a.meeting}" for a in schedule.assignments if a.meeting not in meetings]
    broken += [f"unknown slot {a.slot} for meeting {a.meeting}" for a in schedule.assignments if a.slot not in slots]
    broken += [f"table {a.table} of meeting {a.meeting} is not one of tables 1..{problem.tables}"
               for a in schedule.assignments if not 1 <= a.table <= problem.tables]
    known = [a for a in schedule.assignments if a.meeting in meetings]
    broken += _twice(known) + _fixed(problem, known) + _presence(known, meetings, people)
    broken += _places(known) + _limits(known, meetings, people)
    return broken


def _twice(assignments: list[Assignment]) -> list[str]:
    counts = Counter(a.meeting for a in assignments)
    return [f"meeting {m} is scheduled {n} times" for m, n in counts.items() if n > 1]


def _fixed(problem: Problem, assignments: list[Assignment]) -> list[str]:
    where = {a.meeting: (a.slot, a.table) for a in assignments}
    return [f"fixed meeting {f.meeting} must stay in slot {f.slot} at table {f.table}"
            for f in problem.fixed if where.get(f.meeting) != (f.slot, f.table)]


def _presence(assignments: list[Assignment], meetings: dict[str, Meeting], people: dict[str, Person]) -> list[str]:
    broken, seen = [], defaultdict(list)
    for a in assignments:
        for who in (meetings[a.meeting].a, meetings[a.meeting].b):
            person = people.get(who)
            if person is None or a.slot not in person.available:
                broken.append(f"{who} is not available in slot {a.slot} (meeting {a.meeting})")
            seen[(who, a.slot)].append(a.meeting)
    broken += [f"{who} has two meetings in slot {slot} ({', '.join(ms)})"
               for (who, slot), ms in seen.items() if len(ms) > 1]
    return broken


def _places(assignments: list[Assignment]) -> list[str]:
    at = Counter((a.slot, a.table) for a in assignments)
    return [f"table {table} has {n} meetings in slot {slot}" for (slot, table), n in at.items() if n > 1]


def _limits(assignments: list[Assignment], meetings: dict[str, Meeting], people: dict[str, Person]) -> list[str]:
    count: Counter[str] = Counter()
    for a in assignments:
        count.update((meetings[a.meeting].a, meetings[a.meeting].b))
    return [f"{who} has {n} meetings, more than their limit of {people[who].max_meetings}"
            for who, n in count.items() if who in people and n > people[who].max_meetings]
