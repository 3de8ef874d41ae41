"""The event scheduler at event size: the objective against the proven upper bound, and the greedy.

    .venv/bin/python bench/schedule.py [--participants 500] [--meetings 3000] [--slots 12] [--tables 40]
                                       [--time-limit 60] [--seed 7] [--write-problem FILE]

A seeded synthetic event day (issue 14's target: 500 attendees, 3,000 accepted meetings, 12 slots,
40 tables, objective ≥ 99 % of the proven upper bound within 60 s on this machine):
- 30 % of the attendees are companies and public bodies, who are asked far more often (a request's
  receiver is drawn by a log-normal popularity, its sender uniformly), so a few popular attendees
  have 40+ accepted requests and the tail has one or two;
- presence: 60 % come for the whole day, the others arrive or leave at a random slot (at least 4
  slots present); 25 % block one or two slots (a talk they give, a stand shift); limits of 4-8 meetings;
- weights as the events domain gives them: 1 + the ranker's score (0.2-0.95) + 0.5 when mutual (30 %).
So the 480 table places (40 x 12) are far fewer than the meetings, and the popular attendees' limits
and presence bind too: neither all-schedulable nor decided by one constraint.
Prints one Markdown table with the 1-minute load average (the machine has 2 cores and may be shared).
`--write-problem` saves the instance as a `koble schedule` file (docs/contracts.md §2) to try other solvers.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import load_avg  # noqa: E402
from service.events import scheduling  # noqa: E402
from service.events.scheduling import Meeting, Person, Problem, Slot  # noqa: E402


def presence(rng: random.Random, slots: list[str]) -> frozenset[str]:
    """The slots one attendee is present and free in: whole day or a window, minus a few blocked slots."""
    n = len(slots)
    first, last = 0, n - 1
    if rng.random() >= 0.6:
        length = rng.randint(min(4, n), n)
        first = rng.randint(0, n - length)
        last = first + length - 1
    present = set(slots[first : last + 1])
    if rng.random() < 0.25:
        present -= set(rng.sample(sorted(present), min(rng.randint(1, 2), len(present) - 1)))
    return frozenset(present)


def event(n_people: int, n_meetings: int, n_slots: int, tables: int, seed: int) -> Problem:
    """The synthetic event day described in the module docstring."""
    rng = random.Random(seed)
    slots = [f"s{k:02d}" for k in range(n_slots)]
    hosts = set(rng.sample(range(n_people), int(0.3 * n_people)))
    people = [Person(f"p{i:04d}", presence(rng, slots), rng.randint(4, 8)) for i in range(n_people)]
    popularity = [rng.lognormvariate(1.0 if i in hosts else 0.0, 0.9) for i in range(n_people)]
    pairs: set[tuple[int, int]] = set()
    meetings: list[Meeting] = []
    while len(meetings) < n_meetings:
        sender = rng.randrange(n_people)
        receiver = rng.choices(range(n_people), popularity)[0]
        if sender == receiver or (sender, receiver) in pairs or (receiver, sender) in pairs:
            continue
        pairs.add((sender, receiver))
        weight = 1.0 + rng.uniform(0.2, 0.95) + (0.5 if rng.random() < 0.3 else 0.0)
        meetings.append(Meeting(f"m{len(meetings):05d}", people[sender].id, people[receiver].id, round(weight, 4)))
    return Problem(tuple(Slot(s) for s in slots), tables, tuple(people), tuple(meetings))


def describe(problem: Problem) -> list[tuple[str, str]]:
    """Sizes that say how constrained the event is."""
    available = {p.id: p.available for p in problem.people}
    options = [len(available[m.a] & available[m.b]) for m in problem.meetings]
    asked: dict[str, int] = {}
    for m in problem.meetings:
        asked[m.a] = asked.get(m.a, 0) + 1
        asked[m.b] = asked.get(m.b, 0) + 1
    over = sum(1 for p in problem.people if asked.get(p.id, 0) > p.max_meetings)
    return [
        ("booleans x[meeting, slot] (both present)", f"{sum(options):,}"),
        ("meetings with no common slot", f"{sum(1 for o in options if o == 0):,}"),
        ("table places (tables x slots)", f"{problem.tables * len(problem.slots):,}"),
        ("half the sum of meeting limits", f"{sum(p.max_meetings for p in problem.people) // 2:,}"),
        ("attendees with more accepted meetings than their limit", f"{over}"),
        ("most accepted meetings of one attendee", f"{max(asked.values(), default=0)}"),
    ]


def row(name: str, schedule: scheduling.Schedule, bound: float) -> str:
    share = schedule.objective / bound if bound else 1.0
    return (
        f"| {name} | {len(schedule.assignments)} | {schedule.objective:.2f} | {share:.2%} | "
        f"{schedule.gaps} | {schedule.seconds:.1f} s | {load_avg()} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--meetings", type=int, default=3000)
    parser.add_argument("--slots", type=int, default=12)
    parser.add_argument("--tables", type=int, default=40)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write-problem", type=Path, help="save the event as a `koble schedule` file")
    args = parser.parse_args()
    started = time.perf_counter()
    problem = event(args.participants, args.meetings, args.slots, args.tables, args.seed)
    built = time.perf_counter() - started
    if args.write_problem:
        args.write_problem.write_text(json.dumps(to_json(problem)), encoding="utf-8")
    for name, value in [("event built in", f"{built:.1f} s"), *describe(problem)]:
        print(f"- {name}: {value}")
    greedy = scheduling.greedy(problem)
    solved = scheduling.solve(problem, time_limit=args.time_limit, seed=0)
    print(
        f"\nsolve: objective {solved.objective:.3f}, proven upper bound {solved.upper_bound:.3f}, "
        f"gap {scheduling.optimality_gap(solved):.3%}, optimal {solved.optimal}\n"
    )
    print("| scheduler | meetings | weight | of the upper bound | idle gaps | time | load |")
    print("|---|---|---|---|---|---|---|")
    print(row("solve: LP + CP-SAT (weight, then gaps)", solved, solved.upper_bound))
    print(row("greedy (request order, first free slot)", greedy, solved.upper_bound))
    broken = scheduling.check(problem, solved) + scheduling.check(problem, greedy)
    print(f"\nrules broken: {len(broken)}" + (f" (first: {broken[0]})" if broken else ""))


def to_json(problem: Problem) -> dict[str, object]:
    """The event as a `koble schedule` file."""
    return {
        "slots": [{"id": s.id} for s in problem.slots],
        "tables": problem.tables,
        "participants": [
            {"id": p.id, "available": sorted(p.available), "max_meetings": p.max_meetings} for p in problem.people
        ],
        "meetings": [{"id": m.id, "a": m.a, "b": m.b, "weight": m.weight} for m in problem.meetings],
    }


if __name__ == "__main__":
    main()
