"""The event scheduler against an independent brute force on tiny events (hypothesis), and its rules in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.events import scheduling
from service.events.scheduling import (
    Assignment,
    Fixed,
    Meeting,
    Person,
    Problem,
    ProblemError,
    Schedule,
    Slot,
    check,
    greedy,
    problem_from_json,
    schedule_to_json,
    solve,
)

# Tiny events: the brute force below tries every slot (or none) for every meeting.
MAX_PEOPLE, MAX_SLOTS, MAX_TABLES, MAX_MEETINGS = 8, 4, 3, 6
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """A random tiny event: availability, limits 0..3, integer weights 0..9 (ties are common)."""
    slots = tuple(Slot(f"s{k}") for k in range(draw(st.integers(1, MAX_SLOTS))))
    n_people = draw(st.integers(2, MAX_PEOPLE))
    people = tuple(
        Person(
            f"p{i}",
            frozenset(s.id for s in slots if draw(st.booleans()) or draw(st.booleans())),
            draw(st.integers(0, 3)),
        )
        for i in range(n_people)
    )
    pairs = st.tuples(st.integers(0, n_people - 1), st.integers(0, n_people - 1)).filter(lambda ab: ab[0] != ab[1])
    meetings = tuple(
        Meeting(f"m{j}", f"p{a}", f"p{b}", float(draw(st.integers(0, 9))))
        for j, (a, b) in enumerate(draw(st.lists(pairs, max_size=MAX_MEETINGS)))
    )
    return Problem(slots, draw(st.integers(1, MAX_TABLES)), people, meetings)


@st.composite
def crowded_problems(draw: st.DrawFn) -> Problem:
    """Few people with many meetings of weight 1 or 2 over 4 slots: many heaviest schedules, gaps among some."""
    slots = tuple(Slot(f"s{k}") for k in range(4))
    n_people = draw(st.integers(2, 4))
    people = tuple(
        Person(f"p{i}", frozenset(s.id for s in slots if draw(st.integers(0, 5)) > 0), draw(st.integers(2, 3)))
        for i in range(n_people)
    )
    pairs = st.tuples(st.integers(0, n_people - 1), st.integers(0, n_people - 1)).filter(lambda ab: ab[0] != ab[1])
    meetings = tuple(
        Meeting(f"m{j}", f"p{a}", f"p{b}", float(draw(st.integers(1, 2))))
        for j, (a, b) in enumerate(draw(st.lists(pairs, min_size=2, max_size=MAX_MEETINGS)))
    )
    return Problem(slots, draw(st.integers(1, 2)), people, meetings)


def idle_gaps(problem: Problem, slot_of: dict[str, str]) -> int:
    """Per person, available slots without a meeting between their first and last meeting (slots in given order)."""
    order = [s.id for s in problem.slots]
    meetings = {m.id: m for m in problem.meetings}
    total = 0
    for person in problem.people:
        mine = sorted(
            order.index(slot) for mid, slot in slot_of.items() if person.id in (meetings[mid].a, meetings[mid].b)
        )
        if mine:
            inner = order[mine[0] + 1 : mine[-1]]
            total += sum(1 for s in inner if s in person.available and order.index(s) not in mine)
    return total


def brute_force(problem: Problem, forced: dict[str, str] | None = None) -> tuple[float, int]:
    """The best (total weight, then fewest idle gaps) over every way to give each meeting a slot or none."""
    forced = forced or {}
    limit = {p.id: p.max_meetings for p in problem.people}
    available = {p.id: p.available for p in problem.people}
    best: tuple[float, int] = (-1.0, 0)

    def options(meeting: Meeting, slot_of: dict[str, str]) -> list[str | None]:
        if meeting.id in forced:
            return [forced[meeting.id]]
        return [None, *(s.id for s in problem.slots)]

    def allowed(meeting: Meeting, slot: str, slot_of: dict[str, str]) -> bool:
        others = [problem_meetings[mid] for mid in slot_of]
        for who in (meeting.a, meeting.b):
            mine = [m for m in others if who in (m.a, m.b)]
            if slot not in available[who] or len(mine) >= limit[who]:
                return False
            if any(slot_of[m.id] == slot for m in mine):
                return False
        return sum(1 for s in slot_of.values() if s == slot) < problem.tables

    def visit(i: int, slot_of: dict[str, str]) -> None:
        nonlocal best
        if i == len(problem.meetings):
            weight = sum(problem_meetings[mid].weight for mid in slot_of)
            candidate = (weight, -idle_gaps(problem, slot_of))
            if candidate > (best[0], -best[1]):
                best = (weight, idle_gaps(problem, slot_of))
            return
        meeting = problem.meetings[i]
        for slot in options(meeting, slot_of):
            if slot is None:
                visit(i + 1, slot_of)
            elif allowed(meeting, slot, slot_of):
                visit(i + 1, {**slot_of, meeting.id: slot})

    problem_meetings = {m.id: m for m in problem.meetings}
    visit(0, {})
    return best


def slots_of(schedule: Schedule) -> dict[str, str]:
    return {a.meeting: a.slot for a in schedule.assignments}


@FAST
@given(st.one_of(problems(), crowded_problems()))
def test_solve_keeps_the_rules_and_matches_brute_force(problem: Problem) -> None:
    schedule = solve(problem, time_limit=10)
    assert check(problem, schedule) == []
    weight, gaps = brute_force(problem)
    assert schedule.objective == pytest.approx(weight)
    assert schedule.optimal and schedule.upper_bound == pytest.approx(weight)
    assert schedule.gaps == gaps == idle_gaps(problem, slots_of(schedule))
    scheduled = {a.meeting for a in schedule.assignments}
    assert sorted(schedule.unscheduled) == sorted(m.id for m in problem.meetings if m.id not in scheduled)


@FAST
@given(crowded_problems())
def test_on_large_events_the_chosen_meetings_are_reslotted_for_the_fewest_gaps(problem: Problem) -> None:
    # Above EXACT_GAPS_MAX_BOOLEANS phase 2 keeps phase 1's meetings and only moves them between slots.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scheduling, "EXACT_GAPS_MAX_BOOLEANS", 0)
        schedule = solve(problem, time_limit=10)
    assert check(problem, schedule) == []
    assert schedule.objective == pytest.approx(brute_force(problem)[0])
    held = replace(problem, meetings=tuple(m for m in problem.meetings if m.id in slots_of(schedule)))
    assert schedule.gaps == brute_force(held)[1]


@FAST
@given(problems())
def test_greedy_keeps_the_rules_and_is_at_most_the_optimum(problem: Problem) -> None:
    schedule = greedy(problem)
    assert check(problem, schedule) == []
    assert schedule.objective <= brute_force(problem)[0] + 1e-9
    assert schedule.objective == pytest.approx(sum(m.weight for m in problem.meetings if m.id in slots_of(schedule)))


@FAST
@given(problems(), st.data())
def test_published_placements_that_keep_the_rules_stay(problem: Problem, data: st.DataObject) -> None:
    published = greedy(problem).assignments
    keep = data.draw(st.lists(st.sampled_from(published), unique=True) if published else st.just([]))
    problem = replace(problem, fixed=tuple(Fixed(a.meeting, a.slot, a.table) for a in keep))
    schedule = solve(problem, time_limit=10)
    assert check(problem, schedule) == []
    assert set(keep) <= set(schedule.assignments)
    assert schedule.moved == ()
    assert schedule.objective == pytest.approx(brute_force(problem, {a.meeting: a.slot for a in keep})[0])


def event(*fixed: Fixed) -> Problem:
    """Two slots, one table; ann meets bob (weight 1) and cat (weight 5)."""
    slots = (Slot("s1"), Slot("s2"))
    people = (
        Person("ann", frozenset({"s1", "s2"}), 2),
        Person("bob", frozenset({"s1", "s2"}), 2),
        Person("cat", frozenset({"s2"}), 2),
    )
    meetings = (Meeting("ab", "ann", "bob", 1.0), Meeting("ac", "ann", "cat", 5.0))
    return Problem(slots, 1, people, meetings, fixed)


def test_a_fixed_placement_is_kept_even_when_it_costs_weight() -> None:
    schedule = solve(event(Fixed("ab", "s2", 1)))
    assert schedule.assignments == (Assignment("ab", "s2", 1),)
    assert schedule.unscheduled == ("ac",)
    assert schedule.objective == 1.0


def test_a_fixed_placement_that_breaks_a_rule_is_dropped_and_the_meeting_placed_anew() -> None:
    problem = event(Fixed("ac", "s1", 1), Fixed("gone", "s2", 1), Fixed("ab", "s2", 3))
    schedule = solve(problem)
    assert check(problem, schedule) == []
    assert set(schedule.assignments) == {Assignment("ab", "s1", 1), Assignment("ac", "s2", 1)}
    assert schedule.objective == 6.0
    assert set(schedule.moved) == {"ac", "ab"}


def test_fixed_placements_that_clash_keep_the_first() -> None:
    problem = event(Fixed("ab", "s2", 1), Fixed("ac", "s2", 1))
    assert solve(problem).assignments == (Assignment("ab", "s2", 1),)


def test_slots_are_taken_in_time_order_when_every_slot_has_a_start() -> None:
    nine = datetime(2026, 3, 12, 9, 0)
    slots = tuple(Slot(f"s{h}", nine + timedelta(hours=h), nine + timedelta(hours=h, minutes=20)) for h in (2, 0, 1))
    people = (Person("ann", frozenset(s.id for s in slots), 3), Person("bob", frozenset(s.id for s in slots), 3))
    problem = Problem(slots, 1, people, (Meeting("m", "ann", "bob", 1.0),))
    assert greedy(problem).assignments == (Assignment("m", "s0", 1),)


def test_weight_is_never_traded_for_fewer_gaps() -> None:
    # ann can meet bob only first and cat only last: the best weight leaves one idle gap.
    slots = (Slot("s1"), Slot("s2"), Slot("s3"))
    people = (
        Person("ann", frozenset({"s1", "s2", "s3"}), 3),
        Person("bob", frozenset({"s1"}), 1),
        Person("cat", frozenset({"s3"}), 1),
    )
    meetings = (Meeting("ab", "ann", "bob", 1.0), Meeting("ac", "ann", "cat", 1.0))
    schedule = solve(Problem(slots, 1, people, meetings))
    assert schedule.objective == 2.0 and schedule.gaps == 1


@pytest.mark.parametrize(
    ("assignments", "named"),
    [
        ((Assignment("zz", "s1", 1),), "meeting 'zz' does not exist"),
        ((Assignment("ab", "s9", 1),), "no slot 's9'"),
        ((Assignment("ab", "s1", 2),), "no table 2"),
        ((Assignment("ab", "s1", 1), Assignment("ab", "s2", 1)), "meeting 'ab' is placed twice"),
        ((Assignment("ac", "s1", 1),), "participant 'cat' is not available"),
        ((Assignment("ab", "s2", 1), Assignment("ac", "s2", 1)), "participant 'ann' has 2 meetings ('ab', 'ac')"),
        ((Assignment("ab", "s2", 1), Assignment("ac", "s2", 1)), "slot 's2', table 1: 2 meetings"),
    ],
)
def test_check_names_each_broken_rule(assignments: tuple[Assignment, ...], named: str) -> None:
    broken = check(event(), Schedule(assignments, (), 0.0, 0.0, 0.0, False))
    assert any(named in rule for rule in broken), broken


def test_check_names_too_many_meetings_for_the_tables_and_for_a_person() -> None:
    problem = replace(event(), people=tuple(replace(p, max_meetings=1) for p in event().people))
    crowded = (Assignment("ab", "s2", 1), Assignment("ac", "s2", 2))
    broken = check(problem, Schedule(crowded, (), 0.0, 0.0, 0.0, False))
    assert "slot 's2': 2 meetings for 1 table" in broken
    assert "participant 'ann': 2 meetings, more than their limit of 1" in broken


def test_check_of_a_participant_who_left_names_them_instead_of_raising() -> None:
    problem = replace(event(), people=event().people[:2])
    broken = check(problem, Schedule((Assignment("ac", "s2", 1),), (), 0.0, 0.0, 0.0, False))
    assert broken == ["meeting 'ac': participant 'cat' is not at the event"]


def file(**changes: object) -> dict[str, object]:
    """A valid `koble schedule` file, with some keys replaced."""
    data: dict[str, object] = {
        "slots": [{"id": "s1", "start": "2026-03-12T09:00", "end": "2026-03-12T09:20"}, {"id": "s2"}],
        "tables": 2,
        "participants": [
            {"id": "ann", "available": ["s1", "s2"], "max_meetings": 2},
            {"id": "bob", "available": ["s1"], "max_meetings": 1},
        ],
        "meetings": [{"id": "m1", "a": "ann", "b": "bob", "weight": 1.5}],
    }
    return {**data, **changes}


def test_a_file_round_trips_into_a_schedule() -> None:
    problem = problem_from_json(file())
    answer = schedule_to_json(solve(problem))
    assert answer["assignments"] == [{"meeting": "m1", "slot": "s1", "table": 1}]
    assert answer["unscheduled"] == [] and answer["objective"] == answer["upper_bound"] == 1.5


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"tables": 0}, "tables", "at least 1"),
        ({"slots": [{"id": "s1"}, {"id": "s1"}]}, "slots.1.id", "'s1'"),
        ({"meetings": [{"id": "m1", "a": "ann", "b": "zed", "weight": 1}]}, "meetings.0.b", "'zed'"),
        ({"meetings": [{"id": "m1", "a": "ann", "b": "ann", "weight": 1}]}, "meetings.0.b", "'m1'"),
        ({"meetings": [{"id": "m1", "a": "ann", "b": "bob", "weight": -1}]}, "meetings.0.weight", "at least 0"),
        ({"meetings": [{"id": "m1", "a": "ann", "b": "bob", "weight": "1"}]}, "meetings.0.weight", "number"),
        ({"participants": [{"id": "ann", "available": ["s7"], "max_meetings": 1}]}, "participants.0.available", "'s7'"),
        ({"slots": [{"id": "s1", "start": "9 o'clock"}]}, "slots.0.start", "ISO 8601"),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_bad_files_name_the_item(changes: dict[str, object], field: str, named: str) -> None:
    with pytest.raises(ProblemError) as caught:
        problem_from_json(file(**changes))
    assert caught.value.field == field
    assert named in str(caught.value)
