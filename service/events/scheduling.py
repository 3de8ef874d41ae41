"""The event scheduler: accepted meetings into time slots and tables (issue 14; `koble schedule`, docs/contracts.md §2).

Pure: no I/O. The rules: nobody has two meetings in one slot; a meeting is only in a slot both attendees
are available in; a slot holds at most `tables` meetings, one per table; nobody has more than their
`max_meetings`. The goal, lexicographically: the largest total weight of scheduled meetings, then the
fewest idle gaps (an available slot without a meeting between two of a person's meetings).

`solve` works over one boolean x[m, s] per meeting m and slot s that both attendees are available in
(M * S at most: 3,000 * 12 = 36,000 for a 500-person event, 26,572 on the bench's after availability):
1. the weight: the LP relaxation (OR-Tools GLOP) gives a proven upper bound and, rounded, a schedule;
   if that schedule reaches the bound it is optimal, else OR-Tools CP-SAT maximises the weight, first
   only where the LP and the rounding disagree, then over everything (weights scaled to integers, to
   1e-6 of the largest weight), starting from the best of the rounding and two first fits;
2. the gaps: with the weight held, CP-SAT re-slots the chosen meetings for the fewest idle gaps
   (three booleans per person and available slot: "a meeting before", "a meeting after", "a gap
   here"); small events then search over every meeting, which is exact.
The reported upper bound is the smaller of the LP's and CP-SAT's: gaps never trade away weight. Tables
are numbered after the slots are chosen (a slot's k meetings get tables 1..k), keeping the tables of
published placements. Measured with bench/schedule.py; the file format of `koble schedule` is in docs/contracts.md §2.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from service.kit.errors import KobleError

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

# OR-Tools (and pandas, which it imports) is loaded by the functions that solve, not with this module:
# the web app imports the types here on every start but solves only when staff ask.

# Weights above this are refused: scaled to integers they must keep the objective inside 64 bits.
MAX_WEIGHT = 1e9
# Phase 1 (the weight) may take this share of the time limit, phase 2 (the gaps) what is left. On the
# bench's event (bench/schedule.py) phase 1 proved the optimum in 6.6 s at load 10 (of 45 s allowed).
WEIGHT_SHARE = 0.75
# The solver's threads, fixed (with the seed) so that runs repeat; the machine has 2 cores. Measured on
# the bench's event (bench/schedule.py, load 8-10): phase 1 with one worker and the full LP relaxation
# (linearization_level 2) proved the optimum in 21-42 s, while CP-SAT's default 2-worker portfolio was
# at 78 % of its bound after 30 s (its LP is weaker and half the time went to local search); phase 2
# needs that local search (LNS): one worker left the 900 idle gaps it was given, two cut them to ~550.
WEIGHT_WORKERS = 1
GAP_WORKERS = 2
# The LP relaxation may take this share of phase 1's time. Its optimum is raised by LP_TOLERANCE
# (relative) to make the bound, and a schedule that close to the optimum counts as optimal.
LP_SHARE = 0.5
LP_TOLERANCE = 1e-9
# When the rounded LP falls short of its bound, the small CP-SAT model around it (_polish) may take this
# share of what is left of phase 1; the full model gets the rest.
POLISH_SHARE = 0.5
# Phase 2 re-slots the meetings phase 1 chose; up to this many x booleans it then also searches over
# every meeting (exact: the fewest gaps among all schedules of the best weight, when proven).
EXACT_GAPS_MAX_BOOLEANS = 1_000


@dataclass(frozen=True)
class Slot:
    """A time slot of the event; `start` orders the slots when every slot has one."""

    id: str
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Person:
    """An attendee: the slots they are present in and the most meetings they want."""

    id: str
    available: frozenset[str]
    max_meetings: int


@dataclass(frozen=True)
class Meeting:
    """An accepted meeting request between attendees `a` and `b`, worth `weight` (≥ 0) when scheduled."""

    id: str
    a: str
    b: str
    weight: float


@dataclass(frozen=True)
class Fixed:
    """A published placement, kept if it still keeps the rules (else dropped, and the meeting placed anew)."""

    meeting: str
    slot: str
    table: int


@dataclass(frozen=True)
class Problem:
    """An event to schedule: slots (in time order unless every slot has a start), tables, people, meetings."""

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
    """A solution: placements, the meetings left out, total weight and the proven bound on it.

    `optimal` means the weight is proven best (objective == upper_bound); `gaps` counts idle gaps;
    `moved` lists the meetings of `Problem.fixed` that are not where they were published.
    """

    assignments: tuple[Assignment, ...]
    unscheduled: tuple[str, ...]
    objective: float
    upper_bound: float
    seconds: float
    optimal: bool
    gaps: int = 0
    moved: tuple[str, ...] = ()


class ProblemError(KobleError, ValueError):
    """Bad input, e.g. `meetings.3.b: no participant 'p9' (meeting 'm4')`; `line` is set for JSON syntax."""

    status = 422
    template = "%(field)s: %(reason)s"

    def __init__(self, field: str, reason: str, line: int | None = None) -> None:
        super().__init__(None, field=field, reason=reason)
        self.field = field
        self.reason = reason
        self.line = line


# --- validation ---------------------------------------------------------------------------------


def validate(problem: Problem) -> None:
    """Raise ProblemError naming the first bad item (duplicate or unknown ids, self-meetings, weights, limits)."""
    if isinstance(problem.tables, bool) or not isinstance(problem.tables, int) or problem.tables < 1:
        raise ProblemError("tables", "must be a whole number at least 1")
    slots = _unique("slots", [slot.id for slot in problem.slots])
    people = _unique("participants", [person.id for person in problem.people])
    _unique("meetings", [meeting.id for meeting in problem.meetings])
    for i, slot in enumerate(problem.slots):
        if slot.start is not None and slot.end is not None and _comparable(slot) and slot.end <= slot.start:
            raise ProblemError(f"slots.{i}.end", f"must be after start (slot '{slot.id}')")
    for i, person in enumerate(problem.people):
        _check_person(i, person, slots)
    for i, meeting in enumerate(problem.meetings):
        _check_meeting(i, meeting, people)


def _unique(kind: str, ids: Sequence[str]) -> dict[str, int]:
    """Position of each id; ProblemError on an empty or repeated one."""
    seen: dict[str, int] = {}
    for i, item in enumerate(ids):
        if not isinstance(item, str) or not item:
            raise ProblemError(f"{kind}.{i}.id", "must be a non-empty text")
        if item in seen:
            raise ProblemError(f"{kind}.{i}.id", f"'{item}' repeats {kind}.{seen[item]}")
        seen[item] = i
    return seen


def _comparable(slot: Slot) -> bool:
    """Whether start and end can be compared (both with a time zone, or both without)."""
    return (slot.start is None or slot.end is None) or (slot.start.tzinfo is None) == (slot.end.tzinfo is None)


def _check_person(i: int, person: Person, slots: dict[str, int]) -> None:
    """A person's limit is a whole number ≥ 0 and their slots exist."""
    limit = person.max_meetings
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ProblemError(f"participants.{i}.max_meetings", f"must be a whole number at least 0 ('{person.id}')")
    unknown = sorted(person.available - slots.keys())
    if unknown:
        raise ProblemError(f"participants.{i}.available", f"no slot '{unknown[0]}' (participant '{person.id}')")


def _check_meeting(i: int, meeting: Meeting, people: dict[str, int]) -> None:
    """A meeting is between two different known people and has a weight 0 ≤ w ≤ MAX_WEIGHT."""
    for side in ("a", "b"):
        if getattr(meeting, side) not in people:
            who = getattr(meeting, side)
            raise ProblemError(f"meetings.{i}.{side}", f"no participant '{who}' (meeting '{meeting.id}')")
    if meeting.a == meeting.b:
        raise ProblemError(f"meetings.{i}.b", f"meeting '{meeting.id}' is of '{meeting.a}' with themselves")
    reason = _weight_error(meeting.weight)
    if reason:
        raise ProblemError(f"meetings.{i}.weight", f"{reason} (meeting '{meeting.id}')")


def _weight_error(weight: object) -> str | None:
    """Why a weight is refused (not a number, NaN, below 0, above MAX_WEIGHT), or None."""
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight != weight:
        return "must be a number"
    if weight < 0:
        return "must be at least 0"
    return f"must be at most {MAX_WEIGHT:.0e}" if weight > MAX_WEIGHT else None


# --- the rules as placements are made ------------------------------------------------------------


class _Index:
    """Lookups over a validated problem: slots in time order, people, meetings and their possible slots."""

    def __init__(self, problem: Problem, strict: bool = True) -> None:
        if strict:
            validate(problem)
        self.problem = problem
        self.order = [slot.id for slot in _time_order(problem.slots)]
        self.position = {slot: k for k, slot in enumerate(self.order)}
        self.people = {person.id: person for person in problem.people}
        self.meetings = {meeting.id: meeting for meeting in problem.meetings}
        # options[i]: slot positions both attendees of meeting i are present in (and may meet at all).
        self.options = [self._options(meeting) for meeting in problem.meetings]

    def _options(self, meeting: Meeting) -> list[int]:
        a, b = self.people.get(meeting.a), self.people.get(meeting.b)
        if a is None or b is None or min(a.max_meetings, b.max_meetings) < 1:
            return []
        return sorted(self.position[slot] for slot in a.available & b.available)


def _time_order(slots: Sequence[Slot]) -> list[Slot]:
    """Slots by start time when every slot has one (of one kind: with or without a zone), else as given."""
    starts = [slot.start for slot in slots]
    if not starts or any(start is None for start in starts):
        return list(slots)
    if len({start.tzinfo is None for start in starts if start is not None}) > 1:
        return list(slots)
    return sorted(slots, key=lambda slot: slot.start or datetime.min)


class _Board:
    """Placements made so far, with who is busy when, meeting counts and tables taken (the rules)."""

    def __init__(self, index: _Index) -> None:
        self.index = index
        self.busy: set[tuple[str, str]] = set()
        self.count: dict[str, int] = defaultdict(int)
        self.tables: dict[str, set[int]] = defaultdict(set)
        self.placed: dict[str, tuple[str, int]] = {}

    def fits(self, meeting: Meeting, slot: str, table: int | None = None) -> bool:
        """Whether the meeting can go into the slot (at this table, if given) without breaking a rule."""
        tables = self.index.problem.tables
        if meeting.id in self.placed or slot not in self.index.position or len(self.tables[slot]) >= tables:
            return False
        if table is not None and (not 1 <= table <= tables or table in self.tables[slot]):
            return False
        return self._free(meeting.a, slot) and self._free(meeting.b, slot)

    def _free(self, person_id: str, slot: str) -> bool:
        person = self.index.people[person_id]
        return (
            slot in person.available
            and (person_id, slot) not in self.busy
            and self.count[person_id] < (person.max_meetings)
        )

    def place(self, meeting: Meeting, slot: str, table: int | None = None) -> None:
        """Put the meeting into the slot, at the given table or the lowest free one."""
        table = table if table is not None else self.free_table(slot)
        for person_id in (meeting.a, meeting.b):
            self.busy.add((person_id, slot))
            self.count[person_id] += 1
        self.tables[slot].add(table)
        self.placed[meeting.id] = (slot, table)

    def free_table(self, slot: str) -> int:
        """The lowest table number not taken in the slot."""
        return next(t for t in range(1, self.index.problem.tables + 1) if t not in self.tables[slot])


def _keep_fixed(index: _Index) -> tuple[_Board, list[Fixed]]:
    """A board with the published placements that still keep the rules, in their order; the rest dropped."""
    board = _Board(index)
    kept: list[Fixed] = []
    for fixed in index.problem.fixed:
        meeting = index.meetings.get(fixed.meeting)
        if meeting is not None and board.fits(meeting, fixed.slot, fixed.table):
            board.place(meeting, fixed.slot, fixed.table)
            kept.append(fixed)
    return board, kept


def _result(index: _Index, placed: dict[str, tuple[str, int]], bound: float | None, started: float) -> Schedule:
    """The Schedule of these placements; `bound` None means proven optimal (objective, gaps, moved computed here)."""
    problem = index.problem
    objective = math.fsum(index.meetings[mid].weight for mid in placed)
    optimal = bound is None or objective >= bound
    bound = objective if bound is None else bound
    assignments = sorted(placed.items(), key=lambda item: (index.position[item[1][0]], item[1][1]))
    moved = [
        f.meeting for f in problem.fixed if f.meeting in index.meetings and placed.get(f.meeting) != (f.slot, f.table)
    ]
    return Schedule(
        assignments=tuple(Assignment(mid, slot, table) for mid, (slot, table) in assignments),
        unscheduled=tuple(m.id for m in problem.meetings if m.id not in placed),
        objective=objective,
        upper_bound=max(bound, objective),
        seconds=time.perf_counter() - started,
        optimal=optimal,
        gaps=_gaps(index, placed),
        moved=tuple(dict.fromkeys(moved)),
    )


def _gaps(index: _Index, placed: dict[str, tuple[str, int]]) -> int:
    """Idle gaps: per person, available slots without a meeting between their first and last meeting."""
    busy: dict[str, set[int]] = defaultdict(set)
    for mid, (slot, _table) in placed.items():
        meeting = index.meetings[mid]
        busy[meeting.a].add(index.position[slot])
        busy[meeting.b].add(index.position[slot])
    total = 0
    for person_id, positions in busy.items():
        available = {index.position[slot] for slot in index.people[person_id].available}
        total += sum(1 for k in range(min(positions), max(positions)) if k in available and k not in positions)
    return total


# --- greedy --------------------------------------------------------------------------------------


def greedy(problem: Problem) -> Schedule:
    """Meetings in request order, each into the first slot (in time) that keeps the rules, as self-booking does.

    Published placements that still keep the rules are placed first. Its `upper_bound` is only the total
    weight of all meetings (greedy proves nothing).
    """
    started = time.perf_counter()
    index = _Index(problem)
    board = _greedy_board(index)
    return _result(index, board.placed, math.fsum(m.weight for m in problem.meetings), started)


def _greedy_board(index: _Index, meetings: Iterable[Meeting] | None = None) -> _Board:
    """First fit of the meetings (request order unless given) after the published placements that stay."""
    board, _kept = _keep_fixed(index)
    for meeting in index.problem.meetings if meetings is None else meetings:
        slot = next((slot for slot in index.order if board.fits(meeting, slot)), None)
        if slot is not None:
            board.place(meeting, slot)
    return board


# --- CP-SAT --------------------------------------------------------------------------------------


def solve(problem: Problem, time_limit: float = 10.0, seed: int = 0) -> Schedule:
    """The schedule of largest total weight, then fewest idle gaps (LP, then CP-SAT), within about `time_limit` s.

    Published placements (`problem.fixed`) that still keep the rules are kept exactly (slot and table);
    the others are dropped and their meetings scheduled like any other. Raises ProblemError on bad input.
    """
    started = time.perf_counter()
    index = _Index(problem)
    board, kept = _keep_fixed(index)
    chosen, bound = _heaviest(index, kept, time_limit * WEIGHT_SHARE, seed)
    remaining = time_limit - (time.perf_counter() - started)
    if remaining > 0.05:
        chosen = _fewest_gaps(index, kept, chosen, remaining, seed)
    return _result(index, _tables(index, chosen, board), bound, started)


def _heaviest(index: _Index, kept: list[Fixed], seconds: float, seed: int) -> tuple[dict[int, int], float | None]:
    """Phase 1: the chosen slot per meeting index and the proven upper bound on the weight (None: optimal).

    The LP relaxation bounds it and, rounded, starts it; CP-SAT first where the LP and the rounding
    disagree (the rest held), which reaches the LP's bound in a small model, else over everything.
    """
    deadline = time.perf_counter() + seconds
    relaxed = _relaxation(index, kept, seconds * LP_SHARE)
    chosen = _as_chosen(index, _start(index, relaxed[1] if relaxed else None))
    if relaxed is None:
        return _Model(index, kept).maximise_weight(chosen, deadline - time.perf_counter(), seed)
    bound, values = relaxed
    if not _reaches(_weight(index, chosen), bound):
        chosen = _polish(index, kept, values, chosen, (deadline - time.perf_counter()) * POLISH_SHARE, seed)
    if _reaches(_weight(index, chosen), bound):
        return chosen, None  # the LP's bound is reached: optimal
    chosen, proven = _Model(index, kept).maximise_weight(chosen, deadline - time.perf_counter(), seed)
    return chosen, None if proven is None else min(proven, bound)


def _polish(
    index: _Index,
    kept: list[Fixed],
    values: dict[tuple[int, int], float],
    chosen: dict[int, int],
    seconds: float,
    seed: int,
) -> dict[int, int]:
    """CP-SAT with every x on which the LP and `chosen` agree held there (RINS); at least as heavy as `chosen`.

    Why: on the bench's event 22 of 26,572 LP values were fractional and the rounding 0.013 % short of
    the bound; the full model then ran its whole time without closing that at load 12.
    """
    model = _Model(index, kept)
    for (i, k), var in model.x.items():
        placed = chosen.get(i) == k
        if abs(values.get((i, k), 0.0) - placed) < 1e-6:
            model.model.add(var == int(placed))
    return model.maximise_weight(chosen, seconds, seed)[0]


def _weight(index: _Index, chosen: dict[int, int]) -> float:
    """The total weight of these meetings (by index)."""
    return math.fsum(index.problem.meetings[i].weight for i in chosen)


def _reaches(weight: float, bound: float) -> bool:
    """Whether a weight is the LP bound's optimum (the bound less twice its tolerance)."""
    return weight >= bound - 2 * LP_TOLERANCE * max(1.0, abs(bound))


def _as_chosen(index: _Index, placed: dict[str, tuple[str, int]]) -> dict[int, int]:
    """Placements as meeting index -> slot position."""
    positions = {meeting.id: i for i, meeting in enumerate(index.problem.meetings)}
    return {positions[mid]: index.position[slot] for mid, (slot, _table) in placed.items()}


def _relaxation(index: _Index, kept: list[Fixed], seconds: float) -> tuple[float, dict[tuple[int, int], float]] | None:
    """The LP relaxation (OR-Tools GLOP): a proven upper bound on the weight, and x to round; None if not solved.

    Why: on the bench's event it took 0.8-4.6 s at load 11-14 with 0-22 fractional values of 26,572
    (rounded: 99.99-100 % of the optimum), where CP-SAT needed 20-45 s to prove the same bound.
    """
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("GLOP")
    keys = [(i, k) for i, options in enumerate(index.options) for k in options]
    if solver is None or not keys:
        return None
    solver.SetTimeLimit(max(1, int(seconds * 1000)))
    x = {key: solver.NumVar(0.0, 1.0, "") for key in keys}
    positions = {meeting.id: i for i, meeting in enumerate(index.problem.meetings)}
    for fixed in kept:
        x[positions[fixed.meeting], index.position[fixed.slot]].SetLb(1.0)
    for group, limit in _rules(index, keys):
        constraint = solver.Constraint(-solver.infinity(), limit)
        for key in group:
            constraint.SetCoefficient(x[key], 1.0)
    objective = solver.Objective()
    for (i, _k), var in x.items():
        objective.SetCoefficient(var, index.problem.meetings[i].weight)
    objective.SetMaximization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    # GLOP's optimum is exact to its tolerances: raised by LP_TOLERANCE it is a bound to rely on.
    bound = objective.Value() + LP_TOLERANCE * max(1.0, abs(objective.Value()))
    return bound, {key: var.solution_value() for key, var in x.items()}


def _fewest_gaps(index: _Index, kept: list[Fixed], chosen: dict[int, int], seconds: float, seed: int) -> dict[int, int]:
    """Phase 2: re-slot phase 1's meetings for the fewest gaps; on small events then try every meeting (exact).

    Why both: holding phase 1's meetings (each scheduled, in any of its slots) is a model several times
    smaller and finds far fewer gaps in the same time (150 people, 600 meetings, 10 s: 59 gaps against
    149 over every meeting; on the bench's event the model over every meeting found no solution in 33 s,
    not even its hint). Only the model over every meeting can swap meetings of equal weight, so small
    events (up to EXACT_GAPS_MAX_BOOLEANS) get it too, hinted with the re-slotted schedule.
    """
    deadline = time.perf_counter() + seconds
    exact = sum(len(options) for options in index.options) <= EXACT_GAPS_MAX_BOOLEANS
    held = _reslot(index, kept, chosen, seconds / 2 if exact else seconds, seed)
    rest = deadline - time.perf_counter()
    if not exact or rest < 0.05:
        return held
    model = _Model(index, kept)
    found = model.minimise_gaps(held, rest, seed)
    # Lexicographic: more weight (phase 1 may not have proven its optimum), then fewer gaps; ties keep `held`.
    return min((held, found), key=lambda c: (-model.weight_of(c), _gaps(index, _slots_only(index, c))))


def _reslot(index: _Index, kept: list[Fixed], chosen: dict[int, int], seconds: float, seed: int) -> dict[int, int]:
    """The chosen meetings (meeting index -> slot position), each still scheduled, moved for the fewest gaps."""
    order = sorted(chosen)
    sub = _Index(replace(index.problem, meetings=tuple(index.problem.meetings[i] for i in order)), strict=False)
    held = _Model(sub, kept)
    options: dict[int, list[cp_model.IntVar]] = defaultdict(list)
    for (j, _k), var in held.x.items():
        options[j].append(var)
    for group in options.values():
        held.model.add_exactly_one(group)  # each was scheduled in phase 1, so this is feasible
    found = held.minimise_gaps({j: chosen[i] for j, i in enumerate(order)}, seconds, seed)
    return {order[j]: k for j, k in found.items()}


def _slots_only(index: _Index, chosen: dict[int, int]) -> dict[str, tuple[str, int]]:
    """Placements without tables (table 0), for counting gaps."""
    return {index.problem.meetings[i].id: (index.order[k], 0) for i, k in chosen.items()}


def _start(index: _Index, relaxed: dict[tuple[int, int], float] | None) -> dict[str, tuple[str, int]]:
    """Phase 1's start: the heaviest of first fits in request order, heaviest first, and by the LP's values.

    Why: heaviest first alone reached 99.7 % of the optimum on the bench's event in 0.2 s, a floor when
    the machine is so loaded that CP-SAT improves nothing in time (at load 13 it did not).
    """
    meetings = index.problem.meetings
    boards = [_greedy_board(index), _greedy_board(index, sorted(meetings, key=lambda m: -m.weight))]
    if relaxed is not None:
        boards.append(_rounded(index, relaxed))
    return max(boards, key=lambda b: math.fsum(index.meetings[mid].weight for mid in b.placed)).placed


def _rounded(index: _Index, relaxed: dict[tuple[int, int], float]) -> _Board:
    """First fit of the meetings by their largest LP value (then weight), each into its slots by LP value."""
    values: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for (i, k), value in relaxed.items():
        values[i].append((-value, k))
    board, _kept = _keep_fixed(index)
    for i in sorted(values, key=lambda i: (min(values[i])[0], -index.problem.meetings[i].weight)):
        meeting = index.problem.meetings[i]
        slot = next((index.order[k] for _v, k in sorted(values[i]) if board.fits(meeting, index.order[k])), None)
        if slot is not None:
            board.place(meeting, slot)
    return board


class _Model:
    """The CP-SAT model: x[i, k] = meeting i in slot position k, with the rules as constraints."""

    def __init__(self, index: _Index, kept: list[Fixed]) -> None:
        from ortools.sat.python import cp_model

        self.index = index
        self.model = cp_model.CpModel()
        self.x: dict[tuple[int, int], cp_model.IntVar] = {
            (i, k): self.model.new_bool_var(f"x{i}_{k}") for i, options in enumerate(index.options) for k in options
        }
        self.scale = _scale(m.weight for m in index.problem.meetings)
        self.weight = cp_model.LinearExpr.weighted_sum(
            list(self.x.values()), [round(index.problem.meetings[i].weight * self.scale) for i, _k in self.x]
        )
        self._rules()
        self._fix(kept)

    def _rules(self) -> None:
        """Each meeting once; one meeting per person and slot; tables per slot; each person's limit."""
        from ortools.sat.python import cp_model

        for keys, limit in _rules(self.index, self.x):
            group = [self.x[key] for key in keys]
            if limit == 1:
                self.model.add_at_most_one(group)
            else:
                self.model.add(cp_model.LinearExpr.sum(group) <= limit)

    def _fix(self, kept: list[Fixed]) -> None:
        """Published placements that keep the rules are hard constraints."""
        positions = {meeting.id: i for i, meeting in enumerate(self.index.problem.meetings)}
        for fixed in kept:
            self.model.add(self.x[positions[fixed.meeting], self.index.position[fixed.slot]] == 1)

    def _solve(self, seconds: float, seed: int, workers: int, linearization: int) -> tuple[cp_model.CpSolver, Any]:
        from ortools.sat.python import cp_model

        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(seconds, 0.01)
        solver.parameters.random_seed = seed
        solver.parameters.num_workers = workers
        solver.parameters.linearization_level = linearization
        return solver, solver.solve(self.model)

    def _hint(self, chosen: dict[int, int]) -> None:
        self.model.clear_hints()
        for (i, k), var in self.x.items():
            self.model.add_hint(var, chosen.get(i) == k)

    def _chosen(self, solver: cp_model.CpSolver) -> dict[int, int]:
        return {i: k for (i, k), var in self.x.items() if solver.boolean_value(var)}

    def maximise_weight(self, chosen: dict[int, int], seconds: float, seed: int) -> tuple[dict[int, int], float | None]:
        """Phase 1: the chosen slot per meeting index, and the proven upper bound on the weight (None: optimal).

        `chosen` is the hint, and the answer if the solver finds nothing better in time.
        """
        from ortools.sat.python import cp_model

        self._hint(chosen)
        self.model.maximize(self.weight)
        solver, status = self._solve(seconds, seed, WEIGHT_WORKERS, 2)
        if status == cp_model.OPTIMAL:
            return self._chosen(solver), None
        if status == cp_model.FEASIBLE and solver.objective_value >= self.weight_of(chosen):
            chosen = self._chosen(solver)
        # The bound (scaled back) may be below the hint's weight by the rounding of weights: never below it.
        bound = max(solver.best_objective_bound, self.weight_of(chosen)) / self.scale
        total = math.fsum(m.weight for m in self.index.problem.meetings)
        return chosen, min(bound, total)

    def weight_of(self, chosen: dict[int, int]) -> int:
        """The scaled weight of these meetings (the objective's units)."""
        return sum(round(self.index.problem.meetings[i].weight * self.scale) for i in chosen)

    def minimise_gaps(self, chosen: dict[int, int], seconds: float, seed: int) -> dict[int, int]:
        """Phase 2: with at least phase 1's weight, the fewest idle gaps (the same slots if none fewer is found)."""
        from ortools.sat.python import cp_model

        gaps = self._gap_terms()
        if not gaps:
            return chosen
        self.model.add(self.weight >= self.weight_of(chosen))
        self._hint(chosen)
        self.model.minimize(cp_model.LinearExpr.sum(gaps))
        solver, status = self._solve(seconds, seed, GAP_WORKERS, 1)
        return self._chosen(solver) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else chosen

    def _gap_terms(self) -> list[cp_model.IntVar]:
        """One boolean per person and inner available slot that is 1 when that slot is an idle gap."""
        from ortools.sat.python import cp_model

        index = self.index
        mine: dict[str, list[int]] = defaultdict(list)
        for i, meeting in enumerate(index.problem.meetings):
            mine[meeting.a].append(i)
            mine[meeting.b].append(i)
        terms: list[cp_model.IntVar] = []
        for person in index.problem.people:
            slots = sorted(index.position[slot] for slot in person.available)
            if len(slots) < 3 or person.max_meetings < 2 or len(mine[person.id]) < 2:
                continue  # nobody with fewer than two meetings or three slots can have a gap
            busy = [cp_model.LinearExpr.sum([self.x[i, k] for i in mine[person.id] if (i, k) in self.x]) for k in slots]
            terms += _person_gaps(self.model, busy)
        return terms


def _rules(index: _Index, keys: Iterable[tuple[int, int]]) -> list[tuple[list[tuple[int, int]], int]]:
    """The rules as (x keys, most of them that may be 1), leaving out groups that could never break theirs.

    Per meeting (1), per person and slot (1), per slot (tables), per person (max_meetings).
    """
    groups: dict[tuple[Any, ...], list[tuple[int, int]]] = defaultdict(list)
    for i, k in keys:
        meeting = index.problem.meetings[i]
        groups["meeting", i].append((i, k))
        groups["slot", k].append((i, k))
        for person_id in (meeting.a, meeting.b):
            groups["person slot", person_id, k].append((i, k))
            groups["person", person_id].append((i, k))
    limits = {"meeting": 1, "person slot": 1, "slot": index.problem.tables}
    rules = []
    for name, group in groups.items():
        limit = limits[name[0]] if name[0] in limits else index.people[name[1]].max_meetings
        if len(group) > limit:
            rules.append((group, limit))
    return rules


def _person_gaps(model: cp_model.CpModel, busy: list[Any]) -> list[cp_model.IntVar]:
    """Gap booleans for one person's available slots in order, `busy[k]` = meetings in the k-th (0 or 1).

    before[k] ≥ busy[j] for j < k, after[k] ≥ busy[j] for j > k (chains), gap[k] ≥ before + after - 1 - busy[k];
    minimising the gaps pushes each down to its true value. 3 booleans per slot.
    """
    n = len(busy)
    before: list[Any] = [0] * n
    after: list[Any] = [0] * n
    for k in range(1, n):
        before[k] = model.new_bool_var("")
        model.add(before[k] >= busy[k - 1])
        model.add(before[k] >= before[k - 1])
    for k in range(n - 2, -1, -1):
        after[k] = model.new_bool_var("")
        model.add(after[k] >= busy[k + 1])
        model.add(after[k] >= after[k + 1])
    gaps = []
    for k in range(1, n - 1):
        gap = model.new_bool_var("")
        model.add(gap >= before[k] + after[k] - 1 - busy[k])
        gaps.append(gap)
    return gaps


def _scale(weights: Iterable[float]) -> int:
    """10**d that turns the largest weight into an integer of at most 7 digits (weights to 1e-6 of the largest)."""
    top = max(weights, default=0.0)
    if top <= 0:
        return 1
    return int(10 ** max(0, 6 - math.ceil(math.log10(top))))


def _tables(index: _Index, chosen: dict[int, int], board: _Board) -> dict[str, tuple[str, int]]:
    """Tables for the chosen slots: kept placements keep theirs, a published table is reused when free, else lowest."""
    placed = dict(board.placed)
    published = {f.meeting: (f.slot, f.table) for f in index.problem.fixed}
    taken: dict[str, set[int]] = defaultdict(set)
    for slot, table in placed.values():
        taken[slot].add(table)
    new = [(index.problem.meetings[i].id, index.order[k]) for i, k in sorted(chosen.items())]
    new = [(mid, slot) for mid, slot in new if mid not in placed]
    for mid, slot in new:  # first: back at a published table in its published slot
        table = published.get(mid, ("", 0))[1]
        if published.get(mid, ("", 0))[0] == slot and 1 <= table <= index.problem.tables and table not in taken[slot]:
            placed[mid] = (slot, table)
            taken[slot].add(table)
    for mid, slot in new:
        if mid not in placed:
            table = next(t for t in range(1, index.problem.tables + 1) if t not in taken[slot])
            placed[mid] = (slot, table)
            taken[slot].add(table)
    return placed


# --- check ---------------------------------------------------------------------------------------


def check(problem: Problem, schedule: Schedule) -> list[str]:
    """Every broken rule of the schedule, one sentence each naming the meeting, slot, person or table.

    Only the placements are checked (not `unscheduled`, `objective` or the published placements): a staff
    member's move by hand is refused when this is not empty.
    """
    index = _Index(problem, strict=False)  # a refusal names what is wrong; it never raises
    broken: list[str] = []
    placed: dict[str, Assignment] = {}
    for assignment in schedule.assignments:
        reason = _placement_error(index, assignment, placed)
        if reason:
            broken.append(reason)
        else:
            placed[assignment.meeting] = assignment
    tables = problem.tables
    broken += [
        f"meeting '{a.meeting}': there is no table {a.table} in slot '{a.slot}' (tables 1 to {tables})"
        for a in placed.values()
        if not 1 <= a.table <= tables
    ]
    broken += _availability_errors(index, placed.values())
    return broken + _crowding_errors(index, placed.values())


def _placement_error(index: _Index, assignment: Assignment, placed: dict[str, Assignment]) -> str | None:
    """What makes a placement unusable: an unknown meeting or slot, or the meeting placed twice."""
    mid = assignment.meeting
    if mid not in index.meetings:
        return f"meeting '{mid}' does not exist"
    if mid in placed:
        return f"meeting '{mid}' is placed twice (slots '{placed[mid].slot}' and '{assignment.slot}')"
    if assignment.slot not in index.position:
        return f"meeting '{mid}': there is no slot '{assignment.slot}'"
    return None


def _availability_errors(index: _Index, placed: Iterable[Assignment]) -> list[str]:
    """Meetings in a slot one of their attendees is not present in."""
    broken = []
    for assignment in placed:
        meeting = index.meetings[assignment.meeting]
        for person_id in (meeting.a, meeting.b):
            person = index.people.get(person_id)
            if person is None:
                broken.append(f"meeting '{meeting.id}': participant '{person_id}' is not at the event")
            elif assignment.slot not in person.available:
                broken.append(
                    f"meeting '{meeting.id}' in slot '{assignment.slot}': participant '{person_id}' is not available"
                )
    return broken


def _crowding_errors(index: _Index, placed: Iterable[Assignment]) -> list[str]:
    """Two meetings of a person in one slot, two at one table, more meetings than tables or than a person's limit."""
    person_slot: dict[tuple[str, str], list[str]] = defaultdict(list)
    table: dict[tuple[str, int], list[str]] = defaultdict(list)
    slot: dict[str, list[str]] = defaultdict(list)
    person: dict[str, list[str]] = defaultdict(list)
    for assignment in placed:
        meeting = index.meetings[assignment.meeting]
        for person_id in (meeting.a, meeting.b):
            person_slot[person_id, assignment.slot].append(meeting.id)
            person[person_id].append(meeting.id)
        table[assignment.slot, assignment.table].append(meeting.id)
        slot[assignment.slot].append(meeting.id)
    tables = index.problem.tables
    return [
        *(
            f"slot '{s}': participant '{p}' has {len(ms)} meetings ({_names(ms)})"
            for (p, s), ms in person_slot.items()
            if len(ms) > 1
        ),
        *(f"slot '{s}', table {t}: {len(ms)} meetings ({_names(ms)})" for (s, t), ms in table.items() if len(ms) > 1),
        *(
            f"slot '{s}': {len(ms)} meetings for {tables} table{'s' if tables != 1 else ''}"
            for s, ms in slot.items()
            if len(ms) > tables
        ),
        *(
            f"participant '{p}': {len(ms)} meetings, more than their limit of {index.people[p].max_meetings}"
            for p, ms in person.items()
            if p in index.people and len(ms) > index.people[p].max_meetings
        ),
    ]


def _names(ids: Iterable[str]) -> str:
    return ", ".join(f"'{mid}'" for mid in ids)


# --- the `koble schedule` file (docs/contracts.md §2) --------------------------------------------

_KEYS = {
    "": ({"slots", "tables", "participants", "meetings"}, {"fixed"}),
    "slots": ({"id"}, {"start", "end"}),
    "participants": ({"id", "available", "max_meetings"}, set()),
    "meetings": ({"id", "a", "b", "weight"}, set()),
    "fixed": ({"meeting", "slot", "table"}, set()),
}


def problem_from_json(data: object) -> Problem:
    """The Problem of a parsed `koble schedule` file; ProblemError names the first bad item (`meetings.3.b`)."""
    root = _object(data, "", "")
    problem = Problem(
        slots=tuple(_slot(item, f"slots.{i}") for i, item in enumerate(_list(root["slots"], "slots"))),
        tables=_whole(root["tables"], "tables", 1),
        people=tuple(
            _person(item, f"participants.{i}") for i, item in enumerate(_list(root["participants"], "participants"))
        ),
        meetings=tuple(_meeting(item, f"meetings.{i}") for i, item in enumerate(_list(root["meetings"], "meetings"))),
        fixed=tuple(_fixed(item, f"fixed.{i}") for i, item in enumerate(_list(root.get("fixed", []), "fixed"))),
    )
    validate(problem)
    return problem


def _object(value: object, kind: str, where: str) -> dict[str, Any]:
    """A JSON object with exactly the keys of `_KEYS[kind]` (required ones present, no unknown ones)."""
    if not isinstance(value, dict):
        raise ProblemError(where or "-", "must be an object")
    required, optional = _KEYS[kind]
    prefix = f"{where}." if where else ""
    missing = sorted(required - value.keys())
    if missing:
        raise ProblemError(prefix + missing[0], "missing")
    unknown = sorted(value.keys() - required - optional)
    if unknown:
        raise ProblemError(prefix + unknown[0], "unknown key")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProblemError(where, "must be a list")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProblemError(where, "must be a non-empty text")
    return value


def _whole(value: object, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProblemError(where, f"must be a whole number at least {minimum}")
    return value


def _when(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(_text(value, where))
    except ValueError:
        raise ProblemError(where, "must be an ISO 8601 date and time, e.g. 2026-03-12T09:00") from None


def _slot(value: object, where: str) -> Slot:
    item = _object(value, "slots", where)
    return Slot(
        _text(item["id"], f"{where}.id"),
        _when(item.get("start"), f"{where}.start"),
        _when(item.get("end"), f"{where}.end"),
    )


def _person(value: object, where: str) -> Person:
    item = _object(value, "participants", where)
    available = _list(item["available"], f"{where}.available")
    return Person(
        id=_text(item["id"], f"{where}.id"),
        available=frozenset(_text(slot, f"{where}.available.{k}") for k, slot in enumerate(available)),
        max_meetings=_whole(item["max_meetings"], f"{where}.max_meetings", 0),
    )


def _meeting(value: object, where: str) -> Meeting:
    item = _object(value, "meetings", where)
    weight = item["weight"]
    reason = _weight_error(weight)
    if reason:
        raise ProblemError(f"{where}.weight", reason)
    return Meeting(
        _text(item["id"], f"{where}.id"), _text(item["a"], f"{where}.a"), _text(item["b"], f"{where}.b"), float(weight)
    )


def _fixed(value: object, where: str) -> Fixed:
    item = _object(value, "fixed", where)
    return Fixed(
        _text(item["meeting"], f"{where}.meeting"),
        _text(item["slot"], f"{where}.slot"),
        _whole(item["table"], f"{where}.table", 1),
    )


def optimality_gap(schedule: Schedule) -> float:
    """(upper bound - objective) / upper bound: 0 when proven optimal, 0.01 when within 1 %."""
    return (schedule.upper_bound - schedule.objective) / schedule.upper_bound if schedule.upper_bound > 0 else 0.0


def schedule_to_json(schedule: Schedule) -> dict[str, object]:
    """The `koble schedule` answer (docs/contracts.md §2)."""
    return {
        "assignments": [{"meeting": a.meeting, "slot": a.slot, "table": a.table} for a in schedule.assignments],
        "unscheduled": list(schedule.unscheduled),
        "objective": schedule.objective,
        "upper_bound": schedule.upper_bound,
        "optimality_gap": optimality_gap(schedule),
        "optimal": schedule.optimal,
        "idle_gaps": schedule.gaps,
        "moved": list(schedule.moved),
        "seconds": round(schedule.seconds, 3),
    }
