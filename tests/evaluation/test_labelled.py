"""The labelled evaluation set, the gold-file reader and the independent constraint check."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from evaluation import labelled
from evaluation.constraints import Facts, broken, facts_of, windows_overlap
from evaluation.gold import parse_gold
from service.flows import importer

DATA = Path(labelled.__file__).parent / "data"


def facts(**changes: object) -> Facts:
    """A student open to anything in cyber_ict, changed as given."""
    base: dict[str, object] = {"kind": "student", "domains": ["cyber_ict"], "engagements": [],
                               "available_from": None, "available_until": None}
    return facts_of({**base, **changes})


def test_constraints_name_what_a_pair_breaks() -> None:
    company = facts(kind="company")
    assert broken(facts(), company) == []
    assert broken(facts(), facts()) == ["same_kind"]
    assert broken(facts(), facts(kind="company", domains=["bioeconomy"])) == ["no_shared_domain"]
    assert broken(facts(engagements=["thesis"]), facts(kind="company", engagements=["summer_job"])) == [
        "no_shared_engagement"
    ]
    # An empty engagement list means any engagement.
    assert broken(facts(engagements=["thesis"]), company) == []
    assert broken(facts(), facts_of({**vars_of(company), "hidden_at": dt.datetime(2027, 1, 1)})) == ["hidden"]


def vars_of(f: Facts) -> dict[str, object]:
    """A Facts back as a row."""
    return {"kind": f.kind, "domains": list(f.domains), "engagements": list(f.engagements),
            "available_from": f.available_from, "available_until": f.available_until}


def test_windows_overlap_with_open_ends_and_shared_single_day() -> None:
    spring = facts(available_from="2027-01-01", available_until="2027-06-15")
    assert windows_overlap(spring, facts(available_from="2027-06-15", available_until="2027-08-01"))
    assert not windows_overlap(spring, facts(available_from="2027-06-16", available_until="2027-08-01"))
    assert windows_overlap(spring, facts(available_from="2026-01-01"))  # open-ended until
    assert not windows_overlap(spring, facts(available_from="2027-07-01"))
    assert windows_overlap(spring, facts(available_until="2027-01-01"))  # open-ended from
    assert windows_overlap(spring, facts())  # no window given


def test_gold_reader_reports_each_problem_by_line() -> None:
    data = b"\n".join([
        b'{"a": "p1", "b": "p2", "relevance": 2}',
        b'{"a": "p1", "b": "nobody", "relevance": 1}',
        b'{"a": "p1", "b": "p3", "relevance": 0}',
        b'{"a": "p1", "b": "p3"',
        b"",
        b'{"a": "p2", "b": "p2", "relevance": true}',
        b'{"a": "p1", "b": "p2", "relevance": 1.5}',
        b'["p1", "p2"]',
        b'{"b": "p3", "relevance": -1}',
    ])
    gold, errors = parse_gold(data, {"p1", "p2", "p3"})
    assert [importer.LineError.format(e, "g.jsonl") for e in errors] == [
        "g.jsonl:2: b: unknown external_id (not in the participant file)",
        "g.jsonl:3: relevance: must be greater than 0",
        "g.jsonl:4: -: invalid JSON: Expecting ',' delimiter (column 22)",
        "g.jsonl:6: b: must differ from a",
        "g.jsonl:6: relevance: must be a number greater than 0",
        "g.jsonl:7: b: duplicate of line 1 (same a and b)",
        "g.jsonl:8: -: must be a JSON object",
        "g.jsonl:9: a: required",
        "g.jsonl:9: relevance: must be greater than 0",
    ]
    assert gold.queries == {"p1": {"p2": 2.0}}


def test_labelled_set_is_reproducible_and_as_committed(tmp_path: Path) -> None:
    labelled.main([str(tmp_path)])
    for name in ("participants.jsonl", "gold.jsonl", "subjects.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"regenerate {name}"


def test_labelled_participants_pass_the_import_validation() -> None:
    entries, errors = importer.validate((DATA / "participants.jsonl").read_bytes())
    assert errors == []
    rows = [e.participant for e in entries if e.participant is not None]
    assert 120 <= len(rows) <= 200
    assert Counter(r.language for r in rows).keys() == {"nb", "en"}
    assert {d for r in rows for d in r.domains} == {"bioeconomy", "cyber_ict", "industrial_tech"}
    long_texts = [t for r in rows for t in r.offers if len(t) > 300]
    assert len(long_texts) >= 8


def test_labelled_gold_is_allowed_symmetric_and_bilingual() -> None:
    people = {p["external_id"]: p for p in map(json.loads, (DATA / "participants.jsonl").read_text().splitlines())}
    gold, errors = parse_gold((DATA / "gold.jsonl").read_bytes(), set(people))
    assert errors == []
    pairs = {(a, b): rel for a, relevant in gold.queries.items() for b, rel in relevant.items()}
    assert all(pairs[(b, a)] == rel for (a, b), rel in pairs.items())
    assert all(not broken(facts_of(people[a]), facts_of(people[b])) for a, b in pairs)
    assert set(pairs.values()) == {1.0, 2.0}
    cross = [p for p in pairs if people[p[0]]["language"] != people[p[1]]["language"]]
    assert len(cross) > 100


def test_every_trap_breaks_its_constraint_towards_a_query_that_wants_its_twin() -> None:
    people, gold = labelled.build()
    traps = [p for p in people if p.trap_for]
    assert Counter(p.trap_breaks for p in traps) == {
        "same_kind": 6, "no_shared_domain": 6, "no_overlapping_window": 6, "no_shared_engagement": 6,
    }
    relevant = {(g["a"], g["b"]) for g in gold}
    for trap in traps:
        assert (trap.trap_for, trap.id) not in relevant
        # Its near-identical twin is a two-sided fit of the same query.
        twin = next(p for p in people if p.id == trap.twin)
        assert trap.row["seeks"] == twin.row["seeks"] and trap.row["offers"][:-1] == twin.row["offers"][:-1]
        assert {"a": trap.trap_for, "b": twin.id, "relevance": 2} in gold


@pytest.mark.parametrize("breaks", ["no_shared_domain", "no_shared_engagement", "no_overlapping_window"])
def test_trap_change_breaks_only_that_constraint(breaks: str) -> None:
    query = {"kind": "student", "domains": ["cyber_ict"], "engagements": ["thesis"],
             "available_from": "2027-01-06", "available_until": "2027-06-15"}
    twin = {**query, "kind": "company", "engagements": ["thesis", "project"], "available_from": None}
    trap = {**twin, **labelled.trap_change(query, breaks)}
    assert broken(facts_of(query), facts_of(twin)) == []
    assert broken(facts_of(query), facts_of(trap)) == [breaks]
