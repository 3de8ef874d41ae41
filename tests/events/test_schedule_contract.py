"""What the events domain relies on from `events.scheduling` (whichever solver is behind it): a
schedule passes `check`, keeps fixed meetings, reports its objective, and `check` names broken rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.events import scheduling as s


@st.composite
def problems(draw: st.DrawFn) -> s.Problem:
    """Small random problems: up to 6 people, 4 slots, 3 tables, 8 meetings."""
    slots = tuple(s.Slot(f"s{i}") for i in range(draw(st.integers(1, 4))))
    ids = [f"p{i}" for i in range(draw(st.integers(2, 6)))]
    people = tuple(s.Person(p, frozenset(draw(st.sets(st.sampled_from([x.id for x in slots])))),
                            draw(st.integers(1, 3))) for p in ids)
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda t: t[0] != t[1]),
                          max_size=8))
    meetings = tuple(s.Meeting(f"m{i}", a, b, draw(st.floats(0.5, 3))) for i, (a, b) in enumerate(pairs))
    return s.Problem(slots, draw(st.integers(1, 3)), people, meetings)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_a_solved_schedule_breaks_no_rule_and_adds_up(problem: s.Problem) -> None:
    schedule = s.solve(problem, time_limit=1)
    assert s.check(problem, schedule) == []
    placed = {a.meeting for a in schedule.assignments}
    assert placed.isdisjoint(schedule.unscheduled) and placed | set(schedule.unscheduled) == {
        m.id for m in problem.meetings}
    weight = sum(m.weight for m in problem.meetings if m.id in placed)
    assert abs(schedule.objective - weight) < 1e-6 and schedule.upper_bound >= schedule.objective - 1e-6


@settings(max_examples=20, deadline=None)
@given(problems())
def test_fixed_meetings_stay_where_they_were(problem: s.Problem) -> None:
    first = s.solve(problem, time_limit=1)
    fixed = tuple(s.Fixed(a.meeting, a.slot, a.table) for a in first.assignments[:2])
    again = s.solve(s.Problem(problem.slots, problem.tables, problem.people, problem.meetings, fixed), time_limit=1)
    assert {(f.meeting, f.slot, f.table) for f in fixed} <= {(a.meeting, a.slot, a.table) for a in again.assignments}


def test_check_names_the_rules_a_schedule_breaks() -> None:
    problem = s.Problem((s.Slot("s1"), s.Slot("s2")), 1,
                        (s.Person("ann", frozenset({"s1"}), 1), s.Person("bo", frozenset({"s1", "s2"}), 2),
                         s.Person("cy", frozenset({"s1", "s2"}), 2)),
                        (s.Meeting("m1", "ann", "bo", 1.0), s.Meeting("m2", "bo", "cy", 1.0)))
    bad = s.Schedule((s.Assignment("m1", "s2", 1), s.Assignment("m2", "s2", 1)), (), 2.0, 2.0, 0.0, True)
    broken = " | ".join(s.check(problem, bad))
    assert "ann" in broken and "s2" in broken  # ann is not there in s2
    assert "bo" in broken  # bo has two meetings in s2 (and one table holds two meetings)
