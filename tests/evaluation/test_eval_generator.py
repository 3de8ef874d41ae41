"""The labelled-data generator (`koble generate`): seeded, valid, gold by the documented rule, traps."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from evaluation import generator, labelled
from evaluation.constraints import broken, facts_of
from evaluation.gold import parse_gold
from evaluation.topics import SUBJECTS
from service.flows import importer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small() -> generator.Generated:
    """A 300-participant set (every participant a query)."""
    return generator.generate(300, seed=11)


def test_the_same_seed_writes_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    paths = [generator.write(generator.generate(150, seed), tmp_path / str(i)) for i, seed in enumerate((5, 5, 6))]
    first, again, other = ([p.read_bytes() for p in found.values()] for found in paths)
    assert first == again
    assert first[0] != other[0]


def test_participants_pass_the_import_validation_and_cover_kinds_languages_domains(
    small: generator.Generated,
) -> None:
    data = generator.as_json_lines([p.row for p in small.people]).encode()
    entries, errors = importer.validate(data)
    assert errors == []
    rows = [e.participant for e in entries if e.participant is not None]
    assert len(rows) == 300
    assert set(Counter(r.kind for r in rows)) == {"student", "researcher", "company", "public_body"}
    assert set(Counter(r.language for r in rows)) == {"nb", "en"}
    assert {d for r in rows for d in r.domains} == {"bioeconomy", "cyber_ict", "industrial_tech"}
    assert any(len(t) > 300 for r in rows for t in r.offers)  # researchers' long English profiles
    windows = [(r.available_from, r.available_until) for r in rows]
    assert any(w == (None, None) for w in windows) and any(w[0] and w[1] is None for w in windows)


def test_vectorised_gold_is_the_documented_rule_pair_by_pair(small: generator.Generated) -> None:
    """The numpy gold equals labelled.relevance (2 two-sided, 1 one-sided, 0 if a constraint breaks)."""
    facts = {p.id: facts_of(p.row) for p in small.people}
    expected = [
        {"a": a.id, "b": b.id, "relevance": rel}
        for a in small.people
        for rel, b in sorted(((labelled.relevance(a, b, facts), b) for b in small.people),
                             key=lambda found: (-found[0], found[1].id))
        if rel
    ]
    assert small.gold == expected


def test_gold_is_valid_symmetric_cross_lingual_and_never_breaks_a_constraint(small: generator.Generated) -> None:
    rows = {p.id: p.row for p in small.people}
    gold, errors = parse_gold(generator.as_json_lines(small.gold).encode(), set(rows))
    assert errors == []
    pairs = {(a, b): rel for a, relevant in gold.queries.items() for b, rel in relevant.items()}
    assert all(pairs[(b, a)] == rel for (a, b), rel in pairs.items())
    assert all(not broken(facts_of(rows[a]), facts_of(rows[b])) for a, b in pairs)
    assert any(rows[a]["language"] != rows[b]["language"] for a, b in pairs)


def test_traps_are_near_duplicates_of_a_two_sided_fit_that_break_one_constraint(small: generator.Generated) -> None:
    by_id = {p.id: p for p in small.people}
    relevant = {(g["a"], g["b"]): g["relevance"] for g in small.gold}
    assert Counter(t["breaks"] for t in small.traps) == {name: generator.trap_count(300) // 4
                                                         for name in generator.TRAP_TYPES}
    for trap in small.traps:
        query, copy, twin = by_id[trap["query"]], by_id[trap["trap"]], by_id[trap["twin"]]
        assert broken(facts_of(query.row), facts_of(copy.row)) == [trap["breaks"]]
        assert (query.id, copy.id) not in relevant and relevant[(query.id, twin.id)] == 2
        assert copy.row["seeks"] == twin.row["seeks"] and copy.row["offers"][:-1] == twin.row["offers"][:-1]


def test_large_sets_sample_queries_half_of_them_trap_targets() -> None:
    found = generator.generate(2500, seed=3, queries=40)
    queries = {line["a"] for line in found.gold}
    assert len(found.people) == 2500 and 30 <= len(queries) <= 40  # a sampled query may have no relevant pair
    targets = {t["query"] for t in found.traps}
    assert len(queries & targets) >= 15  # half the sample is drawn from trap targets


def test_sizes_outside_the_range_are_refused() -> None:
    with pytest.raises(ValueError, match="between 100 and 100000"):
        generator.generate(99, seed=1)


def test_koble_generate_writes_the_three_files(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "service", "generate", "--n", "120", "--seed", "4",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "120 participants" in result.stdout
    lines = (tmp_path / "traps.jsonl").read_text().splitlines()
    assert set(json.loads(lines[0])) == {"query", "trap", "twin", "breaks"}
    assert (tmp_path / "participants.jsonl").read_text().count("\n") == 120
    people = [json.loads(line) for line in (tmp_path / "participants.jsonl").read_text().splitlines()]
    subjects = [json.loads(line) for line in (tmp_path / "subjects.jsonl").read_text().splitlines()]
    assert {(s["external_id"], s["side"], s["index"]) for s in subjects} == {
        (p["external_id"], side, i) for p in people for side in ("offers", "seeks") for i in range(len(p[side]))}
    assert {s["subject"] for s in subjects} <= set(SUBJECTS)
