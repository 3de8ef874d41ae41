"""Real outcomes as gold (`koble export-gold`), the funnel, and the seeded simulation of matches."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from evaluation import outcomes, repository
from evaluation.gold import parse_gold
from service.flows import importer
from service.matches.lifecycle import can_move
from service.profiles import service as profiles

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)


async def add_people(conn: asyncpg.Connection, count: int) -> list[int]:
    """Students and companies p0..p{count-1} (alternating), all in cyber_ict."""
    ids = []
    for i in range(count):
        kind = "student" if i % 2 == 0 else "company"
        ids.append(await conn.fetchval(
            """INSERT INTO participants (external_id, kind, name, email, domains, capacity, offers, seeks, source)
               VALUES ($1, $2, $3, $4, '{cyber_ict}', 3, '{Python}', '{Security}', 'web') RETURNING id""",
            f"p{i}", kind, f"P {i}", f"p{i}@example.org"))
    return ids


async def add_match(conn: asyncpg.Connection, a: int, b: int, path: list[str]) -> None:
    """A match of (a, b) born in path[0] that then moved along the rest of the path, a day per step."""
    match_id = await conn.fetchval(
        """INSERT INTO matches (a_id, b_id, state, origin, created_at) VALUES ($1, $2, $3, 'ranker', $4)
           RETURNING id""", min(a, b), max(a, b), path[0], START)
    moves = enumerate(itertools.pairwise(path))
    steps = [(None, path[0], START)] + [(a, b, START + dt.timedelta(days=i + 1)) for i, (a, b) in moves]
    await repository.insert_simulated_events(conn, match_id, steps)


async def test_gold_grades_follow_the_furthest_state_and_vetoes(conn: asyncpg.Connection) -> None:
    p = await add_people(conn, 12)
    await add_match(conn, p[0], p[1], ["suggested", "approved", "introduced", "mutual", "meeting_held",
                                       "project_agreed", "project_completed"])
    await add_match(conn, p[2], p[3], ["mutual", "meeting_held", "closed"])  # met, then closed: 2
    await add_match(conn, p[4], p[5], ["suggested", "approved", "introduced", "declined"])  # vetoed
    await add_match(conn, p[6], p[7], ["suggested", "rejected"])  # vetoed
    await add_match(conn, p[8], p[9], ["suggested"])  # no decision yet
    await add_match(conn, p[10], p[11], ["suggested", "approved"])  # staff said yes: 1
    await conn.execute("""INSERT INTO answers (participant_id, candidate_id, answer) VALUES
                          ($1, $2, 'interested'), ($3, $4, 'not_now'), ($5, $6, 'interested')""",
                       p[8], p[9], p[10], p[11], p[4], p[5])
    await conn.execute("UPDATE participants SET hidden_at = now() WHERE id = $1", p[3])
    histories = await outcomes.read_histories(conn)
    lines = outcomes.gold_lines(histories, await repository.answers(conn))
    got = {(line["a"], line["b"]): line["relevance"] for line in lines}
    assert got == {
        ("p0", "p1"): 3.0, ("p1", "p0"): 3.0,  # a project
        ("p8", "p9"): 1.0,  # one interested answer: one direction
        ("p4", "p5"): 1.0,  # interested, although the match was declined by the other side
        ("p11", "p10"): 1.0,  # approved; p10 said not now, so only the other direction
    }
    assert outcomes.funnel(histories)["suggested"] == 5 and outcomes.funnel(histories)["declined"] == 1
    days = outcomes.time_in_stage(histories)
    assert days["suggested"] == [1.0, 1.0, 1.0, 1.0] and days["meeting_held"] == [1.0, 1.0]


def test_simulated_walks_obey_the_lifecycle_and_stop_at_now() -> None:
    rng = random.Random(3)
    now = START + dt.timedelta(days=120)
    for _ in range(200):
        steps = outcomes.walk(rng, START, now)
        states = ["suggested", *[target for _, target, _ in steps]]
        assert all(can_move(a, b) for a, b in itertools.pairwise(states))  # type: ignore[arg-type]
        assert all(when <= now for _, _, when in steps)


async def test_simulation_and_export_gold_on_the_demo_data(
    conn: asyncpg.Connection, pg_url: str, tmp_path: Path
) -> None:
    rows = importer.demo_participants()[:40]
    entries, errors = importer.validate("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())
    assert errors == []
    plan = profiles.plan_import([e.participant for e in entries if e.participant], {})
    await profiles.write_import(conn, plan, False)
    made = await outcomes.simulate(conn, seed=4, count=25)
    assert made == await conn.fetchval("SELECT count(*) FROM matches") > 10
    assert await outcomes.simulate(conn, seed=4, count=25) == 0  # the same pairs again: nothing new
    gold, people = tmp_path / "gold.jsonl", tmp_path / "people.jsonl"
    result = subprocess.run([sys.executable, "-m", "service", "export-gold", "--out", str(gold),
                             "--participants-out", str(people)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "DATABASE_URL": pg_url}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "gold pair(s)" in result.stdout
    entries, errors = importer.validate(people.read_bytes())
    assert errors == [] and len(entries) == 40
    parsed, gold_errors = parse_gold(gold.read_bytes(), {str(r["external_id"]) for r in rows})
    assert gold_errors == [] and parsed.queries
    assert {rel for relevant in parsed.queries.values() for rel in relevant.values()} <= {1.0, 2.0, 3.0}


def test_export_gold_to_an_unwritable_place_is_one_line(pg_url: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "service", "export-gold", "--out", str(tmp_path / "no" / "g")],
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "DATABASE_URL": pg_url},
                            timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("koble: ")


@pytest.mark.parametrize("state,expected", [("project_agreed", 3.0), ("introduced", 1.0), ("suggested", None)])
def test_grade_of_a_match_born_in_a_state(state: str, expected: float | None) -> None:
    history = outcomes.History("a", "b", True, state, [(state, START)])
    assert outcomes.grade(history) == expected
