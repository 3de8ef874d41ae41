"""The long-research labelled set (evaluation/research.py): valid files, the committed copy is current,
grades follow the documented rules, and the traps it promises are there."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation import research
from evaluation.gold import parse_gold
from service.flows import importer

DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "research_long"


def test_the_committed_files_are_what_the_generator_writes_and_import_cleanly() -> None:
    rows, gold = research.build()
    assert [json.loads(line) for line in (DATA / "participants.jsonl").read_text().splitlines()] == rows
    assert [json.loads(line) for line in (DATA / "gold.jsonl").read_text().splitlines()] == gold
    entries, errors = importer.validate((DATA / "participants.jsonl").read_bytes())
    assert errors == [] and len(entries) == len(rows)
    parsed, gold_errors = parse_gold((DATA / "gold.jsonl").read_bytes(), {r["external_id"] for r in rows})
    assert gold_errors == [] and len(parsed.queries) == 32


def test_grades_follow_the_rules() -> None:
    need = ("vision", 0)
    assert research.grade([("vision", 0), ("vision", 1)], need) == 3
    assert research.grade([("vision", 0), ("ot", 1), ("biogas", 0)], need) == 2
    assert research.grade([("vision", 1), ("robots", 0)], need) == 1
    assert research.grade([("robots", 0), ("robots", 1), ("additive", 0)], need) == 0  # same field: a near miss


def test_profiles_are_long_and_several_fits_hide_among_other_topics_or_past_the_first_window() -> None:
    rows, gold = research.build()
    researchers = [r for r in rows if r["kind"] == "researcher"]
    texts = [" ".join(r["offers"]) if isinstance(r["offers"], list) else r["offers"] for r in researchers]
    words = [len(text.split()) for text in texts]
    assert min(words) >= 140 and max(words) <= 300
    assert {r["language"] for r in rows} == {"nb", "en"}
    one_text = [r for r in researchers if isinstance(r["offers"], str)]
    assert 0 < len(one_text) < len(researchers)
    assert {g["relevance"] for g in gold} == {1, 2, 3}
