"""An independent re-check of the hard constraints (docs/contracts.md §6) for `koble evaluate`.

Deliberately separate from the ranker's own filter (service.matching): evaluation must catch a
ranker that suggests a pair it should not. Capacity is not applicable inside `koble evaluate`
(docs/contracts.md §4), and a scratch database holds no declines or matches, so those two are not checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Facts:
    """What the hard constraints look at, for one participant."""

    kind: str
    domains: frozenset[str]
    engagements: frozenset[str]  # empty: any engagement
    available_from: dt.date | None  # None: open at that end
    available_until: dt.date | None
    hidden: bool = False


def _date(value: Any) -> dt.date | None:
    """A date from a date, an ISO string or None."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def facts_of(row: Mapping[str, Any]) -> Facts:
    """Facts from a participant-file object or a `participants` row (hidden when `hidden_at` is set)."""
    return Facts(
        kind=str(row["kind"]),
        domains=frozenset(row["domains"]),
        engagements=frozenset(row.get("engagements") or ()),
        available_from=_date(row.get("available_from")),
        available_until=_date(row.get("available_until")),
        hidden=row.get("hidden_at") is not None,
    )


def windows_overlap(a: Facts, b: Facts) -> bool:
    """Whether the availability windows share a day; a missing bound is open-ended (dates inclusive)."""
    starts_ok = a.available_from is None or b.available_until is None or a.available_from <= b.available_until
    ends_ok = b.available_from is None or a.available_until is None or b.available_from <= a.available_until
    return starts_ok and ends_ok


def broken(a: Facts, b: Facts) -> list[str]:
    """The names of the hard constraints the pair breaks; empty when it may be suggested."""
    checks = {
        "same_kind": a.kind != b.kind,
        "hidden": not (a.hidden or b.hidden),
        "no_shared_domain": bool(a.domains & b.domains),
        "no_overlapping_window": windows_overlap(a, b),
        "no_shared_engagement": _engagements_fit(a.engagements, b.engagements),
    }
    return [name for name, ok in checks.items() if not ok]


def _engagements_fit(a: Collection[str], b: Collection[str]) -> bool:
    # docs/contracts.md §6: only when both list engagements must they share one (an empty list means any).
    return not a or not b or bool(set(a) & set(b))


def allowed(a: Facts, b: Facts) -> bool:
    """Whether the pair passes every hard constraint checked in evaluation."""
    return not broken(a, b)
