"""Do explanations quote the real reason? On a generated set with subjects (`koble generate` writes
`subjects.jsonl`, docs/contracts.md §7): for each relevant pair among a query's top k (a card), the
interest pairs its explanation quotes, chosen exactly as the service chooses them
(`service.matching.explain.strongest_per_direction`, with the page's variety), from the same interest
vectors the scratch database holds.

A quoted pair *belongs to the gold subject* when its sought and its offered text were both written
about one subject: that subject is then one the seeker seeks and the offerer offers, i.e. a reason of
the gold relation. Per card, `subject_rate` asks it of every direction gold says holds (forward: the
candidate offers a subject the query seeks; backward: the other way): each of them must be quoted and
belong to the subject. `quote_rate` counts quotes instead of cards (only those in a gold direction).
`before_rate`: the same cards as explained before issue 12, one pair, the closest of all pairs across
both directions by raw cosine, correct when it belongs to a gold subject (it cannot cover a second
direction). The service compares interests centred and in context (`in_explanation_space`,
`service.matching.interest_space`); the measure does the same with centres from the whole set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.matching import explain, interest_space
from service.matching.explain import PairOption

Side = str
InterestKey = tuple[str, Side, int]  # (external id, side, index)


@dataclass(frozen=True)
class Interests:
    """One participant's interest vectors: (side, position) and unit vectors (n, dim)."""

    keys: list[tuple[Side, int]]
    vectors: np.ndarray


@dataclass(frozen=True)
class ExplanationMeasure:
    """How often explanations quote interests of the gold subject (see the module docstring)."""

    cards: int
    subject_rate: float
    quotes: int
    quote_rate: float
    before_rate: float
    examples: tuple[str, ...] = ()  # a few cards that missed, for the report

    def as_dict(self) -> dict[str, Any]:
        """The numbers as JSON-ready values."""
        return {"cards": self.cards, "subject_rate": round(self.subject_rate, 4), "quotes": self.quotes,
                "quote_rate": round(self.quote_rate, 4), "before_rate": round(self.before_rate, 4)}


def load_subjects(path: Path) -> dict[InterestKey, str]:
    """`subjects.jsonl` as (external id, side, index) -> subject."""
    found: dict[InterestKey, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            found[(row["external_id"], row["side"], int(row["index"]))] = row["subject"]
    return found


def subjects_beside(participants: str) -> Path | None:
    """The `subjects.jsonl` in the participant file's folder, if there is one (as `koble generate` writes)."""
    path = Path(participants).with_name("subjects.jsonl")
    return path if path.is_file() else None


def group_vectors(
    participant_ids: np.ndarray, sides: Sequence[str], positions: np.ndarray, vectors: np.ndarray,
    external_of: Mapping[int, str],
) -> dict[str, Interests]:
    """Interest vectors (matching.service.InterestVectors' arrays) per participant's external id, unit length."""
    rows: dict[str, list[int]] = {}
    for i, pid in enumerate(participant_ids.tolist()):
        rows.setdefault(external_of[int(pid)], []).append(i)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(vectors) else vectors
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0) if len(vectors) else vectors
    return {eid: Interests([(sides[i], int(positions[i])) for i in idx], unit[idx]) for eid, idx in rows.items()}


def in_explanation_space(
    vectors: Mapping[str, Interests], kind_language: Mapping[str, tuple[str, str]]
) -> dict[str, Interests]:
    """The interest vectors as the service compares them for explanations (`interest_space.read`: centred
    per (kind, side, language) group, centres from all of them, then in each participant's context)."""
    owners = [eid for eid, found in vectors.items() for _ in found.keys]
    keys = [key for found in vectors.values() for key in found.keys]
    raw = np.concatenate([found.vectors for found in vectors.values()]) if vectors else np.zeros((0, 0))
    groups = [interest_space.group_of(*kind_language[eid][:1], side, kind_language[eid][1])
              for eid, (side, _) in zip(owners, keys, strict=True)]
    codes = np.unique(np.array(owners), return_inverse=True)[1] if owners else np.zeros(0, dtype=np.int64)
    x = interest_space.read(raw, groups, codes, interest_space.centres_of(raw, groups))
    found, start = {}, 0
    for eid, interests in vectors.items():
        found[eid] = Interests(interests.keys, x[start:start + len(interests.keys)])
        start += len(interests.keys)
    return found


def options(
    a: Interests, b: Interests, texts_a: Mapping[Side, Sequence[str]], texts_b: Mapping[Side, Sequence[str]]
) -> list[PairOption]:
    """Every (a interest, b interest) pair of opposite sides with its cosine (the SQL's options, all of them)."""
    cosines = a.vectors @ b.vectors.T
    found = []
    for i, (side_a, pos_a) in enumerate(a.keys):
        for j, (side_b, pos_b) in enumerate(b.keys):
            if side_a != side_b:
                found.append(PairOption(side_a == "seeks", pos_a, pos_b, texts_a[side_a][pos_a],
                                        texts_b[side_b][pos_b], float(cosines[i, j])))
    return found


def _subject(subjects: Mapping[InterestKey, str], who: str, side: Side, index: int) -> str | None:
    return subjects.get((who, side, index))


def belongs(option: PairOption, query: str, candidate: str, subjects: Mapping[InterestKey, str]) -> bool:
    """Whether the option's two texts were written about one subject."""
    query_side = "seeks" if option.query_seeks else "offers"
    candidate_side = "offers" if option.query_seeks else "seeks"
    mine = _subject(subjects, query, query_side, option.query_index)
    theirs = _subject(subjects, candidate, candidate_side, option.candidate_index)
    return mine is not None and mine == theirs


def gold_directions(query: str, candidate: str, subjects_of: Mapping[tuple[str, Side], set[str]]) -> set[bool]:
    """The directions that hold by subject: True = the query seeks what the candidate offers."""
    found = set()
    if subjects_of.get((query, "seeks"), set()) & subjects_of.get((candidate, "offers"), set()):
        found.add(True)
    if subjects_of.get((query, "offers"), set()) & subjects_of.get((candidate, "seeks"), set()):
        found.add(False)
    return found


@dataclass
class _Tally:
    cards: int = 0
    right: int = 0
    quotes: int = 0
    right_quotes: int = 0
    before: int = 0

    def rate(self, numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else 0.0


def measure(
    rankings: Mapping[str, Sequence[str]], gold: Mapping[str, Mapping[str, float]], k: int,
    vectors: Mapping[str, Interests], texts: Mapping[str, Mapping[Side, Sequence[str]]],
    subjects: Mapping[InterestKey, str], raw: Mapping[str, Interests] | None = None,
) -> ExplanationMeasure:
    """The measure over every query's top k (module docstring); `before_rate` from the `raw` vectors
    when given (the old single pair was chosen by raw cosine), else from `vectors`."""
    subjects_of: dict[tuple[str, Side], set[str]] = {}
    for (who, side, _), subject in subjects.items():
        subjects_of.setdefault((who, side), set()).add(subject)
    tally, misses = _Tally(), list[str]()
    for query, ranking in rankings.items():
        quoted: set[str] = set()
        for candidate in ranking[:k]:
            if query not in vectors or candidate not in vectors:
                continue
            found = options(vectors[query], vectors[candidate], texts[query], texts[candidate])
            chosen = explain.strongest_per_direction(found, quoted)
            before = explain.strongest(found if raw is None else options(
                raw[query], raw[candidate], texts[query], texts[candidate]), near=0.0)
            quoted |= {o.query_text for o in chosen}
            relevant = gold.get(query, {}).get(candidate, 0) > 0
            right = not relevant or _card(tally, query, candidate, before, chosen, subjects, subjects_of)
            if not right and len(misses) < 5:
                misses.append(_miss(query, candidate, chosen))
    return ExplanationMeasure(tally.cards, tally.rate(tally.right, tally.cards), tally.quotes,
                              tally.rate(tally.right_quotes, tally.quotes), tally.rate(tally.before, tally.cards),
                              tuple(misses))


def _card(
    tally: _Tally, query: str, candidate: str, closest: PairOption | None, chosen: Sequence[PairOption],
    subjects: Mapping[InterestKey, str], subjects_of: Mapping[tuple[str, Side], set[str]],
) -> bool:
    """Count one card; whether it quotes the gold subject in every gold direction."""
    directions = gold_directions(query, candidate, subjects_of)
    by_direction = {o.query_seeks: o for o in chosen}
    good = [d in by_direction and belongs(by_direction[d], query, candidate, subjects) for d in directions]
    tally.cards += 1
    tally.right += bool(directions) and all(good)
    tally.quotes += sum(1 for d in directions if d in by_direction)
    tally.right_quotes += sum(good)
    tally.before += closest is not None and closest.query_seeks in directions and belongs(
        closest, query, candidate, subjects)
    return bool(directions) and all(good)


def _miss(query: str, candidate: str, chosen: Iterable[PairOption]) -> str:
    quotes = "; ".join(f"“{o.query_text}” ↔ “{o.candidate_text}”" for o in chosen)
    return f"{query} → {candidate}: {quotes}"


def markdown(result: ExplanationMeasure, k: int) -> str:
    """The measure as a report section."""
    lines = [
        "## Explanations: do they quote the reason?",
        "",
        f"Relevant pairs among the top {k} (cards): {result.cards}. The quoted interests belong to the gold "
        f"subject in every direction gold says holds: **{result.subject_rate:.1%}** of cards "
        f"(per quote: {result.quote_rate:.1%} of {result.quotes}). Before issue 12 (one pair, the closest "
        f"across both directions): {result.before_rate:.1%} of cards. Definitions: `evaluation/explanations.py`.",
    ]
    if result.examples:
        lines += ["", "Cards that missed (first few):", "", *(f"- {line}" for line in result.examples)]
    return "\n".join(lines) + "\n"
