"""`koble schedule FILE.json` (docs/contracts.md §2): the answer, and bad input named with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.events.scheduling import Assignment, Schedule, check, problem_from_json

runner = CliRunner()


def event(**changes: Any) -> dict[str, Any]:
    """Three slots, two tables; ann is asked by bob and cat, dan meets cat."""
    data: dict[str, Any] = {
        "slots": [
            {"id": "s1", "start": "2026-03-12T09:00:00+01:00", "end": "2026-03-12T09:20:00+01:00"},
            {"id": "s2", "start": "2026-03-12T09:30:00+01:00", "end": "2026-03-12T09:50:00+01:00"},
            {"id": "s3", "start": "2026-03-12T10:00:00+01:00", "end": "2026-03-12T10:20:00+01:00"},
        ],
        "tables": 2,
        "participants": [
            {"id": "ann", "available": ["s1", "s2", "s3"], "max_meetings": 1},
            {"id": "bob", "available": ["s1", "s2"], "max_meetings": 2},
            {"id": "cat", "available": ["s2", "s3"], "max_meetings": 2},
            {"id": "dan", "available": ["s3"], "max_meetings": 2},
        ],
        "meetings": [
            {"id": "ab", "a": "ann", "b": "bob", "weight": 0.4},
            {"id": "ac", "a": "ann", "b": "cat", "weight": 0.9},
            {"id": "cd", "a": "cat", "b": "dan", "weight": 0.5},
        ],
    }
    return {**data, **changes}


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "event.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1), encoding="utf-8")
    return str(path)


def test_the_schedule_goes_to_stdout(tmp_path: Path) -> None:
    file = write(tmp_path, event())
    result = runner.invoke(app, ["schedule", file, "--time-limit", "5"])
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {(a["meeting"], a["slot"]) for a in answer["assignments"]} == {("ac", "s2"), ("cd", "s3")}
    assert answer["unscheduled"] == ["ab"]
    assert answer["objective"] == pytest.approx(1.4) and answer["upper_bound"] == pytest.approx(1.4)
    assert "scheduled 2 of 3 meetings" in result.stderr


def test_out_writes_a_file_that_keeps_the_rules(tmp_path: Path) -> None:
    file, out = write(tmp_path, event()), tmp_path / "schedule.json"
    result = runner.invoke(app, ["schedule", file, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    answer = json.loads(out.read_text(encoding="utf-8"))
    assert answer["assignments"] and all(1 <= a["table"] <= 2 for a in answer["assignments"])
    placed = tuple(Assignment(a["meeting"], a["slot"], a["table"]) for a in answer["assignments"])
    assert check(problem_from_json(event()), Schedule(placed, (), 0.0, 0.0, 0.0, False)) == []


def meeting(id_: str, a: str, b: str, weight: Any) -> dict[str, Any]:
    return {"id": id_, "a": a, "b": b, "weight": weight}


BAD = [
    ({"tables": 0}, "tables: must be a whole number at least 1"),
    ({"meetings": [meeting("ab", "ann", "zoe", 1)]}, "meetings.0.b: no participant 'zoe' (meeting 'ab')"),
    ({"meetings": [meeting("aa", "ann", "ann", 1)]}, "meetings.0.b: meeting 'aa' is of 'ann' with themselves"),
    ({"meetings": [meeting("ab", "ann", "bob", -0.5)]}, "meetings.0.weight: must be at least 0"),
    ({"meetings": [meeting("ab", "ann", "bob", "high")]}, "meetings.0.weight: must be a number"),
    ({"meetings": [meeting("ab", "ann", "bob", 1), meeting("ab", "bob", "cat", 1)]}, "meetings.1.id: 'ab' repeats"),
    (
        {"participants": [{"id": "ann", "available": [], "max_meetings": 1}] * 2},
        "participants.1.id: 'ann' repeats participants.0",
    ),
    ({"slots": [{"id": "s1"}, {"id": "s1"}]}, "slots.1.id: 's1' repeats slots.0"),
    (
        {"participants": [{"id": "ann", "available": ["s9"], "max_meetings": 1}], "meetings": []},
        "participants.0.available: no slot 's9' (participant 'ann')",
    ),
    ({"participants": [{"id": "ann", "available": ["s1"]}]}, "participants.0.max_meetings: missing"),
]


@pytest.mark.parametrize(("changes", "message"), BAD)
def test_bad_input_names_the_item_and_exits_2(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    file, out = write(tmp_path, event(**changes)), tmp_path / "schedule.json"
    result = runner.invoke(app, ["schedule", file, "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{file}: {message}")
    assert not out.exists()


def test_malformed_json_names_its_line(tmp_path: Path) -> None:
    file = write(tmp_path, '{"slots": [\n  {"id": "s1"},\n  ]\n}')
    result = runner.invoke(app, ["schedule", file])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{file}:3: -: not JSON:")


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schedule", str(tmp_path / "none.json")])
    assert result.exit_code == 2
    assert "none.json: -: cannot read" in result.stderr
