"""A seeded generator of labelled sets of any size (100 to 100,000 participants): `koble generate`.

It scales the recipe of the committed labelled set (evaluation.labelled, whose README section
"How the generator works" describes both): the same fifteen subjects and phrase bank
(evaluation.topics), the same texts per kind and writing style, availability windows around the
academic year, capacities, traps and gold rule. What changes with size:

- Kinds keep the labelled set's shares (41 % students, 21 % researchers, 26 % companies, 12 % public
  bodies); about 15 % of the participants are traps (near-duplicates that break one hard constraint
  towards one query), in equal numbers of the four types.
- Names stay unique past the name bank by a number ("Mjøs Data AS 2").
- About half of the organisations open with a sentence about themselves that says nothing about
  the subject (size, place), so texts are not all one template.
- Gold is computed with numpy over all participants for each query. With every participant a
  query, the gold file grows with n²; so above `ALL_QUERIES_UP_TO` participants only a seeded sample
  of queries (`--queries`, every trap's target included) gets gold lines.

Files written into the output folder: `participants.jsonl` (docs/contracts.md §1), `gold.jsonl`
(docs/contracts.md §4), `traps.jsonl` (`{"query", "trap", "twin", "breaks"}` per trap, for analysis)
and `subjects.jsonl` (`{"external_id", "side", "index", "subject"}` per interest, docs/contracts.md §4:
what the themes of the map are measured against, bench/themes.py).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation import labelled
from evaluation.constraints import broken, facts_of
from evaluation.labelled import Generator, Person
from evaluation.topics import SUBJECTS
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS, KINDS

MIN_N, MAX_N = 100, 100_000
TRAP_SHARE = 0.15
ALL_QUERIES_UP_TO = 2_000
SAMPLED_QUERIES = 500
TWIN_TRIES = 20
# The query's half of labelled.trap_fits, checked before any numpy work (the twin's half after).
QUERY_FITS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "same_kind": lambda a: a["kind"] == "company",
    "no_shared_domain": lambda a: len(a["domains"]) < 3,
    "no_shared_engagement": lambda a: bool(a["engagements"]) and len(a["engagements"]) <= 4,
    "no_overlapping_window": lambda a: a["available_from"] is not None,
}
TRAP_TYPES = ("same_kind", "no_shared_domain", "no_overlapping_window", "no_shared_engagement")
SUBJECT_INDEX = {name: i for i, name in enumerate(SUBJECTS)}
ORG_INTRO: dict[str, tuple[str, ...]] = {
    "nb": ("Vi er en bedrift med {m} ansatte på {p}.", "Vi holder til på {p} og har {m} ansatte.",
           "Vi er en liten organisasjon på {p}."),
    "en": ("We are a company of {m} people based in {p}.", "We are located in {p} and employ {m} people.",
           "We are a small organisation in {p}."),
}
ORG_INTRO_SHARE = 0.5


class ScaledGenerator(Generator):
    """The labelled set's random source, with names that stay unique past the name bank."""

    def unique(self, make: Any) -> str:
        """A name from `make()` not used before; after a few collisions, numbered."""
        for _ in range(5):
            if (name := str(make())) not in self.names:
                self.names.add(name)
                return name
        number = 2
        while f"{name} {number}" in self.names:
            number += 1
        self.names.add(f"{name} {number}")
        return f"{name} {number}"


@dataclass
class Generated:
    """A generated set: participants (traps last), gold lines and the traps' descriptions."""

    people: list[Person]
    gold: list[dict[str, Any]]
    traps: list[dict[str, str]]
    queries: int


# --- Participants ------------------------------------------------------------------------------------


def kind_counts(n: int) -> dict[str, int]:
    """Regular participants per kind for a set of n (traps come on top, to n in total)."""
    regular = n - trap_count(n)
    total = sum(labelled.COUNTS.values())
    counts = {kind: round(regular * share / total) for kind, share in labelled.COUNTS.items()}
    counts["student"] += regular - sum(counts.values())
    return counts


def trap_count(n: int) -> int:
    """Traps in a set of n: a multiple of the four types, about TRAP_SHARE of n."""
    return 4 * max(1, round(n * TRAP_SHARE / 4))


def with_intro(g: Generator, person: Person) -> None:
    """Open an organisation's first seek with a sentence about itself (no subject words in it)."""
    if person.row["kind"] not in ("company", "public_body") or g.rng.random() >= ORG_INTRO_SHARE:
        return
    intro = g.rng.choice(ORG_INTRO[person.row["language"]]).format(
        m=g.rng.choice((4, 12, 25, 60, 140, 400)), p=person.row["location"])
    seeks = person.row["seeks"]
    if seeks:
        seeks[0] = f"{intro} {seeks[0]}"


def regular_people(g: Generator, n: int) -> list[Person]:
    """The regular participants, subjects dealt round-robin per kind (as in the labelled set)."""
    people: list[Person] = []
    for kind, count in kind_counts(n).items():
        pool = list(labelled.PUBLIC_SUBJECTS if kind == "public_body" else SUBJECTS)
        g.rng.shuffle(pool)
        for i in range(count):
            person = labelled.make_person(g, kind, pool[i % len(pool)])
            with_intro(g, person)
            people.append(person)
    return people


# --- Vectorised constraints and relevance ----------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The participants as arrays (n,): kind index, domain/engagement bit masks (0 = any engagement),
    window start/end as day ordinals (-inf/+inf open), offered/sought subject bit masks."""

    kind: np.ndarray
    domains: np.ndarray
    engagements: np.ndarray
    start: np.ndarray
    end: np.ndarray
    offers: np.ndarray
    seeks: np.ndarray


def _bits(values: Sequence[str], order: dict[str, int]) -> int:
    return sum(1 << order[value] for value in values)


def _day(value: str | None, open_end: float) -> float:
    return float(dt.date.fromisoformat(value).toordinal()) if value else open_end


def table_of(people: Sequence[Person]) -> Table:
    """The arrays of `Table` for the people, in order."""
    domains: dict[str, int] = {d: i for i, d in enumerate(DOMAINS)}
    engagements: dict[str, int] = {e: i for i, e in enumerate(ENGAGEMENTS)}

    def column(value: Callable[[Person], float | int], dtype: type) -> np.ndarray:
        return np.array([value(p) for p in people], dtype=dtype)

    return Table(
        kind=column(lambda p: KINDS.index(p.row["kind"]), np.int64),
        domains=column(lambda p: _bits(p.row["domains"], domains), np.int64),
        engagements=column(lambda p: _bits(p.row["engagements"], engagements), np.int64),
        start=column(lambda p: _day(p.row["available_from"], -np.inf), np.float64),
        end=column(lambda p: _day(p.row["available_until"], np.inf), np.float64),
        offers=column(lambda p: _bits(sorted(p.offers), SUBJECT_INDEX), np.int64),
        seeks=column(lambda p: _bits(sorted(p.seeks), SUBJECT_INDEX), np.int64),
    )


def allowed_row(t: Table, i: int) -> np.ndarray:
    """bool (n,): the pairs (i, j) that pass docs/contracts.md §6 as checked in evaluation (i itself: False)."""
    ok = (t.kind != t.kind[i]) & ((t.domains & t.domains[i]) != 0)
    ok &= np.maximum(t.start, t.start[i]) <= np.minimum(t.end, t.end[i])
    ok &= (t.engagements == 0) | (t.engagements[i] == 0) | ((t.engagements & t.engagements[i]) != 0)
    return ok


def relevance_row(t: Table, i: int) -> np.ndarray:
    """int (n,): the gold relevance of (i, j) for every j: 2 two-sided fit, 1 one-sided, 0 none or not allowed."""
    forward = (t.seeks[i] & t.offers) != 0
    backward = (t.offers[i] & t.seeks) != 0
    return np.where(allowed_row(t, i), forward.astype(np.int64) + backward.astype(np.int64), 0)


# --- Traps ------------------------------------------------------------------------------------------------


def make_traps(g: Generator, people: list[Person], count: int) -> list[Person]:
    """`count` traps, a quarter of each type, each a near-duplicate of a two-sided fit of a distinct query."""
    t = table_of(people)
    order = list(range(len(people)))
    g.rng.shuffle(order)
    traps: list[Person] = []
    used: set[int] = set()
    for breaks in TRAP_TYPES:
        made = 0
        for i in order:
            if made == count // 4:
                break
            if i in used or not QUERY_FITS[breaks](people[i].row):
                continue
            b = _twin_for(g, t, people, i, breaks)
            if b is not None:
                used.add(i)
                traps.append(labelled.trap_copy(g, people[i], people[b], breaks))
                made += 1
    return traps


def _twin_for(g: Generator, t: Table, people: Sequence[Person], i: int, breaks: str) -> int | None:
    """A random two-sided fit of query i that a trap of this type can copy, or None.

    Random picks rather than filtering every fit: at 100,000 participants a query has thousands.
    """
    wanted = relevance_row(t, i) == 2
    if breaks == "same_kind":  # the copy becomes a company: only a student's or researcher's texts fit
        wanted &= np.isin(t.kind, [KINDS.index("student"), KINDS.index("researcher")])
    two_sided = np.flatnonzero(wanted)
    for _ in range(min(len(two_sided), TWIN_TRIES)):
        j = int(two_sided[g.rng.randrange(len(two_sided))])
        if labelled.trap_fits(people[i], people[j], breaks):
            return j
    return None


def check_traps(people: Sequence[Person]) -> None:
    """Every trap breaks exactly the constraint it was built to break towards its query."""
    rows = {p.id: p.row for p in people}
    for trap in people:
        if trap.trap_for is not None and broken(facts_of(rows[trap.trap_for]), facts_of(trap.row)) != [
            trap.trap_breaks
        ]:
            raise AssertionError(f"trap {trap.id} does not break exactly {trap.trap_breaks}")


# --- Gold ------------------------------------------------------------------------------------------------


def query_indices(g: Generator, people: Sequence[Person], queries: int | None) -> list[int]:
    """The participants that are queries: all up to ALL_QUERIES_UP_TO, else a sample, half of it trap targets."""
    n = len(people)
    wanted = queries if queries is not None else (n if n <= ALL_QUERIES_UP_TO else SAMPLED_QUERIES)
    if wanted >= n:
        return list(range(n))
    index = {p.id: i for i, p in enumerate(people)}
    # Half the sample at most are trap targets, so traps are measured without crowding out the rest.
    targets = sorted({index[p.trap_for] for p in people if p.trap_for})
    targets = g.rng.sample(targets, min(len(targets), wanted // 2))
    rest = [i for i in range(n) if i not in set(targets)]
    chosen = set(targets) | set(g.rng.sample(rest, wanted - len(targets)))
    return sorted(chosen)


def gold_lines(people: Sequence[Person], queries: Sequence[int]) -> Iterator[dict[str, Any]]:
    """Every relevant pair of each query, best first (relevance, then external id)."""
    t = table_of(people)
    ids = [p.id for p in people]
    for i in queries:
        rel = relevance_row(t, i)
        found = sorted((-int(rel[j]), ids[j]) for j in np.flatnonzero(rel))
        yield from ({"a": ids[i], "b": b, "relevance": -r} for r, b in found)


# --- The whole set ---------------------------------------------------------------------------------------


def generate(n: int, seed: int, queries: int | None = None) -> Generated:
    """A labelled set of n participants (traps included) with gold for the chosen queries."""
    if not MIN_N <= n <= MAX_N:
        raise ValueError(f"n must be between {MIN_N} and {MAX_N}, not {n}")
    if queries is not None and queries < 1:
        raise ValueError(f"queries must be at least 1, not {queries}")
    g = ScaledGenerator(random.Random(seed))
    people = regular_people(g, n)
    people += make_traps(g, people, trap_count(n))
    check_traps(people)
    chosen = query_indices(g, people, queries)
    gold = list(gold_lines(people, chosen))
    traps = [{"query": str(p.trap_for), "trap": p.id, "twin": str(p.twin), "breaks": str(p.trap_breaks)}
             for p in people if p.trap_for]
    return Generated(people, gold, traps, len({line["a"] for line in gold}))


def subject_lines(people: Sequence[Person]) -> Iterator[dict[str, Any]]:
    """One line per interest: the subject its text was written about."""
    for person in people:
        for side, subjects in (("offers", person.offer_subjects), ("seeks", person.seek_subjects)):
            yield from ({"external_id": person.id, "side": side, "index": index, "subject": subject}
                        for index, subject in enumerate(subjects))


def write(generated: Generated, folder: Path) -> dict[str, Path]:
    """Write participants.jsonl, gold.jsonl, traps.jsonl and subjects.jsonl into the folder; their paths."""
    paths = {name: folder / f"{name}.jsonl" for name in ("participants", "gold", "traps", "subjects")}
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("participants", (p.row for p in generated.people)), ("gold", generated.gold),
                       ("traps", generated.traps), ("subjects", subject_lines(generated.people))):
        with paths[name].open("w", encoding="utf-8") as out:  # streamed: gold runs to millions of lines
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return paths


def describe(generated: Generated) -> str:
    """One line of counts about a generated set."""
    kinds = Counter(p.row["kind"] for p in generated.people)
    grades = Counter(line["relevance"] for line in generated.gold)
    return (f"{len(generated.people)} participants {dict(kinds)}, {len(generated.traps)} traps; "
            f"{generated.queries} queries, {len(generated.gold)} gold pairs (relevance 2: {grades[2]}, 1: {grades[1]})")


def generate_command(n: int, seed: int, out: str, queries: int | None = None) -> int:
    """`koble generate`: write a set and print its counts; the exit code."""
    try:
        generated = generate(n, seed, queries)
        write(generated, Path(out))
    except (ValueError, OSError) as exc:
        print(f"koble: {exc}", file=sys.stderr)
        return 1
    print(describe(generated))
    return 0


def as_json_lines(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as JSON Lines text (tests and notebooks)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
