"""Per-participant cache of ranked candidate lists, valid for one version of the participants' data.

No I/O: `service.suggest` reads the version (table matching_version, bumped at the commit of any
change to participants, side or interest vectors; migration 0008) together with the read-time state
of the cached candidates, and serves an entry only at the newest version this cache has seen. An entry
of an older version stays until it is read: then it is brought up to date by re-scoring the few
participants changed since (migration 0026's log; `service._patched`), or computed again.

An entry holds what is fixed while the version stands: the candidates in order of their *base*
score (the ranker's score without the exposure and freshness terms, and before the capacity and
decline checks) and a floor that bounds every candidate left out. What changes without a new
version (exposure counts, activity, active matches, declines, hiding) is applied when it is read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from service.matching.memory import ReadTimeMemory
from service.matching.repository.changes import Changes

# The candidate columns an answer and its explanation need (a card per candidate, shared by entries).
CARD_COLUMNS = ("id", "external_id", "kind", "name", "organisation", "domains", "engagements",
                "available_from", "available_until", "capacity")


@dataclass
class Entry:
    """One participant's ranked candidates at one version.

    ids int (m,), base float (m,) and capacity float (m,): candidates, best base score first (equal
    scores by id), and their capacity (for the exposure pressure).
    floor: a candidate not in `ids` is not expected to have a base score above this (-inf: there is
    none); when the k-th final score falls to it, the entry is computed again (`service._chosen`).
    width: how many times the usual number of candidates it was retrieved with (each recomputation for
    exposure takes four times as many, up to `service.MAX_WIDTH`).
    query: the participant's own card (explanations compare it with each candidate's).
    source: what scoring a candidate against the participant needs of their row (`SOURCE_COLUMNS`:
    constraints, location, side vectors), so that changed candidates can be re-scored (`service._patched`).
    pairs: candidate id -> its interest pair options (rows, `explain.pair_options`), filled as shown.
    explanations: (candidate id, language, by name, query texts quoted before) -> (parts, text, HTML,
    query texts it quotes), filled as they are rendered (`service._explained`).
    """

    version: int
    query: dict[str, Any]
    source: dict[str, Any]
    ids: np.ndarray
    base: np.ndarray
    capacity: np.ndarray
    floor: float
    width: int = 1
    exact: bool = True  # False: retrieved from an index pool, which `floor` bounds only (service.RESHAPED)
    pairs: dict[int, Any] = field(default_factory=dict)
    explanations: dict[tuple[int, str, bool, frozenset[str]], tuple[Any, str, str, frozenset[str]]] = field(
        default_factory=dict)


class SuggestionCache:
    """At most `max_entries` entries (least recently used dropped first); only those of the newest
    version seen are served, and only entries of that version are stored."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.version: int | None = None
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._cards: dict[int, dict[str, Any]] = {}
        self._ids: dict[str, int] = {}  # external id -> participant id, of the entries' participants
        # Lookups answered from a current entry, and the rest (computed afresh): /metrics' hit rate.
        self.hits = 0
        self.misses = 0
        self.patches = 0  # hits whose entry was brought up to a newer version first (`service._patched`)
        # Changes since an older version up to the current one, by that older version: every entry of it
        # is brought up to date with one read of the change log (`service._patched`).
        self._changes: dict[int, Changes] = {}
        # The read-time state in memory (`koble serve`: service.matching.listener keeps it exact), else
        # None: each read of an entry reads that state from the database.
        self.memory: ReadTimeMemory | None = None
        # Runs a job with a pooled connection in the background (`koble serve`: service.matching.listener);
        # None: what would run there runs in the request (an exact rescan, service.RESHAPED).
        self.run_later: Callable[[Callable[[Any], Awaitable[None]]], None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def observe(self, version: int | None) -> bool:
        """Note a version read from the database; True if entries of that version may be used and kept.

        A newer version becomes the one served (older entries wait to be brought up to it when read);
        an older one (read by a request that began before the change) changes nothing, and that request
        neither uses nor stores entries.
        """
        if version is None:  # no version row: nothing can be proven fresh
            self.clear()
            return False
        if self.version is None or version > self.version:
            self.version = version
            self._changes.clear()
        return version == self.version

    def count(self, hit: bool) -> None:
        """Count one lookup as a hit (a current entry answered) or a miss."""
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def clear(self) -> None:
        """Forget everything (no version to check against)."""
        self._entries.clear()
        self._cards.clear()
        self._ids.clear()
        self._changes.clear()
        self.version = None

    def get(self, participant_id: int) -> Entry | None:
        """The participant's entry, of whatever version (it becomes the most recently used)."""
        entry = self._entries.get(participant_id)
        if entry is not None:
            self._entries.move_to_end(participant_id)
        return entry

    def put(self, participant_id: int, entry: Entry, cards: Mapping[int, Mapping[str, Any]]) -> None:
        """Keep an entry and its candidates' cards (read at its version: they replace older ones), if it is
        of the current version."""
        if entry.version != self.version:
            return
        for candidate_id, card in cards.items():
            self._cards[candidate_id] = {name: card[name] for name in CARD_COLUMNS}
        self._entries[participant_id] = entry
        self._entries.move_to_end(participant_id)
        self._ids[entry.query["external_id"]] = participant_id
        while len(self._entries) > self.max_entries:
            _, dropped = self._entries.popitem(last=False)
            self._ids.pop(dropped.query["external_id"], None)
        # At most one card per participant: a changed one is replaced by the first entry brought up to date
        # (an older entry is never served before it is, `service._patched`); a deleted one's stays until clear().

    def participant_id(self, external_id: str) -> int | None:
        """The id of a participant with an entry, by external id (which may have changed since: a newer
        version, which the entry's read detects and its update refuses, since the participant changed)."""
        return self._ids.get(external_id)

    def cards(self, candidate_ids: Sequence[int]) -> dict[int, dict[str, Any]] | None:
        """The stored columns of these candidates of a cached entry, by id; None if the cache was emptied
        since the entry was taken (a request that read no single version clears it while others await)."""
        cards = self._cards
        if not all(i in cards for i in candidate_ids):
            return None
        return {i: cards[i] for i in candidate_ids}

    def changes_since(self, version: int) -> Changes | None:
        """The remembered changes since an older version up to the current one (`keep_changes`), if any."""
        return self._changes.get(version)

    def keep_changes(self, version: int, changes: Changes) -> None:
        """Remember the changes since `version`, if they reach up to the current version."""
        if changes.version == self.version:
            self._changes[version] = changes

    def add_pairs(self, entry: Entry, version: int | None, pairs: Mapping[int, Any]) -> None:
        """Remember interest pair options read at `version` (ignored if that is not the entry's)."""
        if version == entry.version:
            entry.pairs.update(pairs)
