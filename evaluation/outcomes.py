"""Real outcomes as gold (`koble export-gold`), the follow-up funnel, and a seeded simulation of matches.

Relevance grades of an ordered pair (a, b), from the live database (evaluation/README.md):

- 3: their match reached `project_agreed` or `project_completed`;
- 2: their match reached `meeting_held`;
- 1: their match reached `approved`, `introduced` or `mutual` (staff or both parties said yes),
  or a answered `interested` to b (one direction only);
- nothing from the match: one that ended `rejected` (staff said no) or `declined` (a party said
  no), whatever it reached before; one only ever `suggested`; one `closed` before approval. (An
  `interested` answer still grades its own direction: a wanted b, even if b declined.)
- no line at all for (a, b) when a answered `not_now` to b, whatever the match reached.
"Reached" is any state in the match's transitions or its current state, so a match closed after a
meeting keeps grade 2. A match grades both directions; answers grade one. Pairs with a hidden
participant are left out (they cannot be suggested).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from evaluation import repository
from service.matches.lifecycle import ORDER, TERMINAL, can_move

GRADES: dict[str, float] = {
    "project_completed": 3.0, "project_agreed": 3.0, "meeting_held": 2.0,
    "mutual": 1.0, "introduced": 1.0, "approved": 1.0,
}
VETOES = frozenset({"rejected", "declined"})
PIPELINE = ("suggested", "approved", "introduced", "mutual", "meeting_held", "project_agreed", "project_completed")


@dataclass(frozen=True)
class History:
    """One match: its pair, visibility, and the states it entered with when (creation first)."""

    a: str
    b: str
    visible: bool
    state: str
    entered: list[tuple[str, dt.datetime]]

    @property
    def reached(self) -> set[str]:
        """Every state the match has been in."""
        return {state for state, _ in self.entered} | {self.state}


def history_of(row: Mapping[str, Any]) -> History:
    """A History from a `repository.match_histories` row (the creation event gives the birth state)."""
    events = list(zip(row["to_states"], row["event_times"], strict=True))
    if events and row["from_states"][0] is None:
        entered = events
    else:  # no creation event recorded: born in the first event's source state (or the current one)
        entered = [(row["from_states"][0] if events else row["state"], row["created_at"]), *events]
    return History(row["a"], row["b"], row["visible"], row["state"], entered)


def grade(history: History) -> float | None:
    """The relevance of the match's pair (module docstring), None when not relevant."""
    if history.state in VETOES or history.reached & VETOES:
        return None
    found = [GRADES[state] for state in history.reached if state in GRADES]
    return max(found) if found else None


def gold_lines(histories: Iterable[History], answers: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Gold lines (docs/contracts.md §4) from matches and answers, best first per query, sorted by query."""
    relevance: dict[tuple[str, str], float] = {}
    for history in histories:
        value = grade(history)
        if history.visible and value is not None:
            relevance[(history.a, history.b)] = relevance[(history.b, history.a)] = value
    answered = list(answers)
    for row in answered:
        if row["answer"] == "interested":
            relevance.setdefault((row["participant"], row["candidate"]), 1.0)
    for row in answered:
        if row["answer"] == "not_now":
            relevance.pop((row["participant"], row["candidate"]), None)
    ordered = sorted(relevance.items(), key=lambda item: (item[0][0], -item[1], item[0][1]))
    return [{"a": a, "b": b, "relevance": value} for (a, b), value in ordered]


async def read_histories(conn: asyncpg.Connection) -> list[History]:
    """Every match's history."""
    return [history_of(row) for row in await repository.match_histories(conn)]


# --- Funnel and time in stage ----------------------------------------------------------------------------


def funnel(histories: Sequence[History]) -> dict[str, int]:
    """How many matches reached each pipeline state, then how many ended rejected, declined or closed."""
    counts = Counter(state for h in histories for state in h.reached)
    return {state: counts[state] for state in ORDER}


def time_in_stage(histories: Sequence[History]) -> dict[str, list[float]]:
    """Days spent in each state before leaving it (stages still open are not counted: unfinished)."""
    days: dict[str, list[float]] = {state: [] for state in PIPELINE}
    for h in histories:
        for (state, start), (_, end) in zip(h.entered, h.entered[1:], strict=False):
            if state in days:
                days[state].append((end - start).total_seconds() / 86400)
    return days


# --- Simulation (CI and demos: the demo data has no matches) -------------------------------------------------

# (next state, probability) per state; what is left over stays in the state (still open).
MOVES: dict[str, tuple[tuple[str, float], ...]] = {
    "suggested": (("approved", 0.7), ("rejected", 0.25)),
    "approved": (("introduced", 0.9), ("closed", 0.05)),
    "introduced": (("mutual", 0.55), ("declined", 0.3), ("closed", 0.05)),
    "mutual": (("meeting_held", 0.7), ("closed", 0.15)),
    "meeting_held": (("project_agreed", 0.5), ("closed", 0.3)),
    "project_agreed": (("project_completed", 0.4),),
}
MEAN_DAYS = {"suggested": 3.0, "approved": 2.0, "introduced": 7.0, "mutual": 10.0, "meeting_held": 21.0,
             "project_agreed": 60.0}


def walk(rng: random.Random, start: dt.datetime, now: dt.datetime) -> list[tuple[str | None, str, dt.datetime]]:
    """A random path through the lifecycle from `suggested` at `start`: (from, to, when) steps up to now."""
    steps: list[tuple[str | None, str, dt.datetime]] = []
    state, when = "suggested", start
    while state not in TERMINAL and state in MOVES:
        roll, target = rng.random(), None
        for candidate, share in MOVES[state]:
            if roll < share:
                target = candidate
                break
            roll -= share
        when = when + dt.timedelta(days=rng.expovariate(1.0 / MEAN_DAYS[state]))
        if target is None or when > now:
            break
        assert can_move(state, target)  # type: ignore[arg-type]  # the simulation obeys the lifecycle
        steps.append((state, target, when))
        state = target
    return steps


def pairs_to_simulate(rng: random.Random, people: Sequence[Mapping[str, Any]], count: int) -> list[tuple[int, int]]:
    """Up to `count` distinct cross-kind pairs sharing a domain (ids ordered), drawn at random."""
    found: set[tuple[int, int]] = set()
    for _ in range(count * 20):
        if len(found) == count or len(people) < 2:
            break
        x, y = rng.sample(list(people), 2)
        if x["kind"] != y["kind"] and set(x["domains"]) & set(y["domains"]):
            found.add((min(x["id"], y["id"]), max(x["id"], y["id"])))
    return sorted(found)


async def simulate(conn: asyncpg.Connection, seed: int = 7, count: int = 60, days: int = 180,
                   now: dt.datetime | None = None) -> int:
    """Create up to `count` matches moving through the lifecycle over the past `days`; how many were made."""
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    made = 0
    async with conn.transaction():
        for a_id, b_id in pairs_to_simulate(rng, await repository.pairing_facts(conn), count):
            start = now - dt.timedelta(days=rng.uniform(0, days))
            match_id = await repository.insert_simulated_match(conn, a_id, b_id, round(rng.uniform(0.5, 1), 3),
                                                               start)
            if match_id is not None:
                await repository.insert_simulated_events(conn, match_id, walk(rng, start, now))
                made += 1
    return made


# --- koble export-gold -------------------------------------------------------------------------------------


def participant_line(row: Mapping[str, Any]) -> dict[str, Any]:
    """A participants row as a participant-file object (docs/contracts.md §1)."""
    line = {key: row[key] for key in ("external_id", "kind", "name", "email", "organisation", "language",
                                      "capacity", "location")}
    line.update(domains=list(row["domains"]), engagements=list(row["engagements"]),
                offers=list(row["offers"]), seeks=list(row["seeks"]))
    for key in ("available_from", "available_until"):
        line[key] = row[key].isoformat() if row[key] else None
    return line


async def export(conn: asyncpg.Connection, out: Path, participants_out: Path | None) -> tuple[int, int]:
    """Write the gold file (and the participant file); (gold lines, queries)."""
    lines = gold_lines(await read_histories(conn), await repository.answers(conn))
    write_lines(out, lines)
    if participants_out is not None:
        write_lines(participants_out, [participant_line(r) for r in await repository.visible_participants(conn)])
    return len(lines), len({line["a"] for line in lines})


def write_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """UTF-8 JSON Lines."""
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


async def _export_live(out: Path, participants_out: Path | None) -> tuple[int, int]:
    from service.kit.commandline import command_database
    from service.kit.config import get_settings

    async with command_database(get_settings()) as pool, pool.acquire() as conn:
        return await export(conn, out, participants_out)


def export_gold_command(out: str, participants_out: str | None) -> int:
    """`koble export-gold`: gold from the live database's outcomes; the exit code."""
    from service.kit.commandline import fail, first_line

    try:
        lines, queries = asyncio.run(_export_live(Path(out), Path(participants_out) if participants_out else None))
    except OSError as exc:
        return fail(f"{out}: cannot write ({exc.strerror or type(exc).__name__})")
    except Exception as exc:  # a database failure: one line, not a traceback
        return fail(f"export failed: {first_line(exc)}")
    print(f"{lines} gold pair(s) for {queries} quer{'y' if queries == 1 else 'ies'} written to {out}")
    if lines == 0:
        print("koble: no outcomes yet (no approved, mutual or further matches, no interested answers)",
              file=sys.stderr)
    return 0
