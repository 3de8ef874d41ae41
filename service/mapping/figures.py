"""The map's figures: counts of participants per theme, side and dimension, the gaps, and the public
version with small cells hidden. Pure (no I/O): service.mapping.service feeds it rows and stores the
document it returns (docs/contracts.md §7 describes its JSON).

Every number is a count of distinct participants: a company with two seeks in one theme counts once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DIMENSIONS = ("kind", "domain", "municipality", "semester")
SIDES = ("offers", "seeks", "any")
PUBLIC_MIN = 5  # no public cell counts fewer participants than this (issue 13: k >= 5)
GAPS_SHOWN = 10
OTHER = "other"  # a place outside the table of municipalities
UNKNOWN = "unknown"  # no location given
# Places (as people type them in `location`) to their municipality; a municipality's own name counts
# too. The region's six first, then the neighbours people in the data give (Lillehammer, Hamar).
PLACES: dict[str, str] = {
    "gjøvik": "Gjøvik",
    "hunndalen": "Gjøvik",
    "biri": "Gjøvik",
    "snertingdal": "Gjøvik",
    "bybrua": "Gjøvik",
    "østre toten": "Østre Toten",
    "lena": "Østre Toten",
    "kapp": "Østre Toten",
    "skreia": "Østre Toten",
    "vestre toten": "Vestre Toten",
    "raufoss": "Vestre Toten",
    "reinsvoll": "Vestre Toten",
    "eina": "Vestre Toten",
    "bøverbru": "Vestre Toten",
    "søndre land": "Søndre Land",
    "hov": "Søndre Land",
    "nordre land": "Nordre Land",
    "dokka": "Nordre Land",
    "land": "Land",
    "lillehammer": "Lillehammer",
    "hamar": "Hamar",
}


@dataclass(frozen=True)
class Interest:
    """One interest as the map counts it (no name, no text)."""

    participant_id: int
    side: str  # offers | seeks
    theme_id: int
    kind: str
    domains: tuple[str, ...]
    municipality: str
    semester: str
    unmet: bool  # a seek whose best offer anywhere is below the threshold


def municipality(location: str | None) -> str:
    """The municipality of a typed location: the longest known place name in it, else `other`/`unknown`."""
    if not location or not location.strip():
        return UNKNOWN
    text = location.strip().lower()
    found = [place for place in PLACES if place in text.replace(",", " ").split() or place in text]
    return PLACES[max(found, key=len)] if found else OTHER


def semester(when: dt.datetime | dt.date) -> str:
    """`YYYY-1` (spring, January to June) or `YYYY-2` (autumn) of a date: the academic half-year."""
    return f"{when.year}-{1 if when.month <= 6 else 2}"


def values_of(item: Interest, dimension: str) -> tuple[str, ...]:
    """The item's values in a dimension (a participant may have several domains)."""
    if dimension == "domain":
        return item.domains
    return (str(getattr(item, dimension)),)


def _count(keys_of: Iterable[tuple[Any, str, int]]) -> dict[Any, list[int]]:
    """key -> [offers, seeks, any] distinct participants, from (key, side, participant) triples."""
    sets: dict[Any, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    for key, side, participant in keys_of:
        sets[key][0 if side == "offers" else 1].add(participant)
    return {key: [len(o), len(s), len(o | s)] for key, (o, s) in sets.items()}


def theme_totals(items: Sequence[Interest]) -> dict[int, list[int]]:
    """theme id -> [offers, seeks, any] participants."""
    return _count((i.theme_id, i.side, i.participant_id) for i in items)


def cells(items: Sequence[Interest], dimension: str) -> dict[tuple[int, str], list[int]]:
    """(theme id, value) -> [offers, seeks, any] participants in one dimension."""
    return _count(((i.theme_id, v), i.side, i.participant_id) for i in items for v in values_of(i, dimension))


def margins(items: Sequence[Interest], dimension: str) -> dict[str, list[int]]:
    """value -> [offers, seeks, any] participants over all themes."""
    return _count((v, i.side, i.participant_id) for i in items for v in values_of(i, dimension))


def unmet(items: Sequence[Interest]) -> dict[int, int]:
    """theme id -> participants with at least one unmet seek in it."""
    found: dict[int, set[int]] = defaultdict(set)
    for item in items:
        if item.side == "seeks" and item.unmet:
            found[item.theme_id].add(item.participant_id)
    return {theme: len(people) for theme, people in found.items()}


def gaps(
    totals: Mapping[int, Sequence[int]],
    unmet_by_theme: Mapping[int, int],
    by_semester: Mapping[tuple[int, str], Sequence[int]],
) -> dict[str, list[dict[str, Any]]]:
    """The three kinds of gap, worst first: needs without supply (participants with an unmet seek),
    competence without demand (offers in themes nobody seeks) and demand growing faster than supply
    (between the two latest semesters)."""
    needs = sorted(((n, t) for t, n in unmet_by_theme.items() if n), key=lambda x: (-x[0], x[1]))
    idle = sorted(((c[0], t) for t, c in totals.items() if c[0] and not c[1]), key=lambda x: (-x[0], x[1]))
    return {
        "unmet": [{"theme": t, "participants": n} for n, t in needs[:GAPS_SHOWN]],
        "no_demand": [{"theme": t, "participants": n} for n, t in idle[:GAPS_SHOWN]],
        "growing": growing(by_semester)[:GAPS_SHOWN],
    }


def growing(by_semester: Mapping[tuple[int, str], Sequence[int]]) -> list[dict[str, Any]]:
    """Themes whose seekers grew more than their offerers from the second-latest to the latest semester."""
    semesters = sorted({s for _, s in by_semester})
    if len(semesters) < 2:
        return []
    before, latest = semesters[-2], semesters[-1]
    zero = (0, 0, 0)
    found = []
    for theme in sorted({t for t, _ in by_semester}):
        a, b = by_semester.get((theme, before), zero), by_semester.get((theme, latest), zero)
        demand, supply = b[1] - a[1], b[0] - a[0]
        if demand > 0 and demand > supply:
            found.append(
                {"theme": theme, "demand_growth": demand, "supply_growth": supply, "from": before, "to": latest}
            )
    return sorted(found, key=lambda g: (g["supply_growth"] - g["demand_growth"], g["theme"]))


def document(items: Sequence[Interest], themes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The map as a JSON-ready dict: themes with totals, cells and margins per dimension, gaps."""
    totals = theme_totals(items)
    unmet_by_theme = unmet(items)
    listed = [
        {
            **theme,
            "offers": totals.get(theme["id"], [0, 0, 0])[0],
            "seeks": totals.get(theme["id"], [0, 0, 0])[1],
            "participants": totals.get(theme["id"], [0, 0, 0])[2],
            "unmet": unmet_by_theme.get(theme["id"], 0),
        }
        for theme in themes
    ]
    listed.sort(key=lambda t: (-(t["offers"] + t["seeks"]), t["id"]))
    dims = {}
    for dimension in DIMENSIONS:
        found = cells(items, dimension)
        dims[dimension] = {
            "values": sorted({v for _, v in found}),
            "cells": [[t, v, *counts] for (t, v), counts in sorted(found.items())],
            "margins": margins(items, dimension),
        }
    by_semester = cells(items, "semester")
    everyone = _count(("all", i.side, i.participant_id) for i in items).get("all", [0, 0, 0])
    return {
        "participants": everyone[2],
        "offering": everyone[0],
        "seeking": everyone[1],
        "interests": len(items),
        "themes": listed,
        "dimensions": dims,
        "gaps": gaps(totals, unmet_by_theme, by_semester),
    }


def empty() -> dict[str, Any]:
    """The figures before the first recomputation: no themes, no cells, no gaps."""
    return {**document([], []), "computed_at": None}


# --- The public version: no cell below PUBLIC_MIN -------------------------------------------------------


def suppress(table: np.ndarray, k: int = PUBLIC_MIN) -> np.ndarray:
    """bool (r+1, c+1): which cells of a table with margins to hide.

    `table` int (r+1, c+1): counts (r, c), row totals in the last column, column totals in the last
    row, the grand total in the corner. Cells from 1 to k-1 are hidden (primary); then, so that no
    hidden cell can be worked out from its line's total, every row or column with exactly one hidden
    cell hides its smallest visible cell too (secondary), until none has exactly one.
    """
    hidden = (table > 0) & (table < k)
    changed = True
    while changed:
        changed = False
        for line in _lines(table.shape):
            if hidden[line].sum() == 1:
                _hide_smallest(table, hidden, line)
                changed = True
    return hidden


def _lines(shape: tuple[int, int]) -> list[tuple[Any, Any]]:
    """Index pairs of every row and column (each with its total cell) that must add up."""
    rows, cols = shape
    return [(i, slice(None)) for i in range(rows)] + [(slice(None), j) for j in range(cols)]


def _hide_smallest(table: np.ndarray, hidden: np.ndarray, line: tuple[Any, Any]) -> None:
    """Hide the smallest visible cell of a line (a count before a total, a later cell on ties)."""
    values = table[line].astype(np.float64)
    candidates = np.where(hidden[line], np.inf, values)
    # A line's total is its last cell: hide it only when no count is left to hide.
    candidates[-1] = np.inf if np.isfinite(candidates[:-1]).any() else candidates[-1]
    index = int(np.argmin(candidates))
    view = hidden[line]
    view[index] = True
    hidden[line] = view


def with_margins(counts: np.ndarray, row_totals: np.ndarray, col_totals: np.ndarray, grand: int) -> np.ndarray:
    """int (r+1, c+1): counts (r, c) with row totals (r,), column totals (c,) and the grand total."""
    top = np.concatenate([counts, row_totals[:, None]], axis=1)
    bottom = np.concatenate([col_totals, [grand]])[None, :]
    return np.concatenate([top, bottom], axis=0).astype(np.int64)


def public_table(table: np.ndarray, k: int = PUBLIC_MIN) -> list[list[int | None]]:
    """A table with margins (see `suppress`) as rows of numbers, None where hidden."""
    hidden = suppress(table, k)
    return [[None if hidden[i, j] else int(table[i, j]) for j in range(table.shape[1])] for i in range(table.shape[0])]
