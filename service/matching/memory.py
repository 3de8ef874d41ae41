"""The ranker's read-time state in the process: a cache hit answers without a database round trip.

No I/O (the listener and the exposure writer are in `service.matching.listener`). What a cached ranking
applies when it is read (`repository.state.ReadTime`: visibility, activity, decayed exposure, active
matches, blocked pairs, and the matching version) is copied here per participant as it is first read
from the database, and kept exact by the notifications of migration 0025, which PostgreSQL delivers
after each commit and in commit order to every listening `koble serve`:

- exposure notifications carry the stored values, applied in place (a write every ~20 ms under traffic);
- visibility, activity, match and answer notifications drop the participants' copies (read again from
  the database the next time, exactly: rare changes);
- a new matching version is noted (`SuggestionCache` entries of another version are not served);
- while not listening (start-up, a lost connection) nothing is answered from memory, and on each
  (re)connection everything is forgotten after LISTEN, so no change can be missed.

A load that raced a notification (read before the commit, stored after its notification) would keep the
old value: each notification records which participants it touched while loads are in flight, and a load
does not store a participant touched since it began.

Showings counted by this process wait in `pending` until the writer takes them (`take_pending`), then
in `inflight` under the write's token until the notification of that write arrives with the stored
values: the count read here is the stored one, decayed, plus this process's showings not yet in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.matching.repository.state import ReadTime, StoredState

CHANNEL = "koble_read_time"
DAY = 86_400.0


@dataclass(slots=True)
class Person:
    """One participant's stored read-time columns (epoch seconds; NaN: never active / never shown)."""

    visible: bool
    active_at: float
    shown: float
    shown_at: float
    active: int


class ReadTimeMemory:
    """Participants' read-time state and the matching version, as of the notifications applied."""

    def __init__(self, half_life_days: float) -> None:
        self.half_life_days = half_life_days
        self.ready = False  # listening: the copies may be used
        self.version: int | None = None
        self.people: dict[int, Person] = {}
        self.blocked: dict[int, frozenset[int]] = {}
        self.pending: Counter[int] = Counter()
        self.inflight: dict[str, Counter[int]] = {}
        self.seq = 0  # notifications applied
        self._version_seq = 0
        self._touched: dict[int, int] = {}  # participant -> seq of the last notification about them, while loading
        self._loads = 0
        self._tokens = 0
        self.hits = 0  # read-time states answered from memory, and loaded from the database
        self.loads = 0

    def reset(self, ready: bool) -> None:
        """Forget every copy (a (re)connection, a TRUNCATE); `ready`: listening from now on."""
        self.people.clear()
        self.blocked.clear()
        self.inflight.clear()  # their writes are committed or lost: either way the database says
        self.version = None
        self.ready = ready
        self.seq += 1
        self._version_seq = self.seq
        self._touched = {}

    # --- reads ---

    def state(self, query_id: int, ids: Sequence[int], now: float) -> ReadTime | None:
        """`ReadTime` of these participants for this query, or None if some copy is missing."""
        people, blocked = self.people, self.blocked.get(query_id)
        if not self.ready or self.version is None or blocked is None:
            return None
        # One pass over the copies into one array, not five (one per column): py-spy under wrk at 10,000
        # participants had this method at 12 % of a hit's CPU, 11 % after (the arrays' math stays).
        try:
            table = np.array([(p.visible, p.active_at, p.shown, p.shown_at, p.active)
                              for p in map(people.__getitem__, ids)], dtype=np.float64).reshape(-1, 5)
        except KeyError:
            return None
        self.hits += 1
        return self._read_time(ids, blocked, table[:, 0] > 0, table[:, 1], table[:, 2], table[:, 3],
                               table[:, 4].astype(np.int64), self.version, now)

    def missing(self, query_id: int, ids: Sequence[int]) -> tuple[list[int], bool]:
        """What `state` lacks for this query: the participants without a copy, and whether its blocked set."""
        people = self.people
        return [i for i in dict.fromkeys(ids) if i not in people], query_id not in self.blocked

    def from_stored(self, query_id: int, ids: Sequence[int], stored: StoredState, now: float) -> ReadTime:
        """`ReadTime` from a database read of these participants (with this process's unwritten showings)."""
        blocked = stored.blocked if stored.blocked is not None else frozenset()
        return self._read_time(ids, blocked, stored.visible, stored.active_at, stored.shown, stored.shown_at,
                               stored.active, stored.version, now)

    def _read_time(
        self, ids: Sequence[int], blocked: frozenset[int], visible: np.ndarray, active_at: np.ndarray,
        shown: np.ndarray, shown_at: np.ndarray, active: np.ndarray, version: int | None, now: float,
    ) -> ReadTime:
        # As repository.state's statement computes them: no activity -> age 0, no exposure row -> 0.
        age = np.nan_to_num((now - active_at) / DAY, nan=0.0)
        decay = np.power(0.5, (now - np.nan_to_num(shown_at, nan=now)) / DAY / self.half_life_days)
        waiting = self._waiting()
        mine = np.array([waiting.get(i, 0) for i in ids] if waiting else np.zeros(len(ids)), dtype=np.float64)
        return ReadTime(version, visible, age, shown * decay + mine, active,
                        np.array([i in blocked for i in ids] if blocked else np.zeros(len(ids)), dtype=bool))

    def _waiting(self) -> Counter[int]:
        """Showings counted here and not yet in the stored counts, by participant."""
        if not self.inflight:
            return self.pending
        waiting = Counter(self.pending)
        for batch in self.inflight.values():
            waiting.update(batch)
        return waiting

    # --- loads from the database ---

    def begin_load(self) -> int:
        """Mark a database read starting now; pass the result to `store`."""
        self._loads += 1
        return self.seq

    def store(self, began: int, query_id: int | None, ids: Sequence[int], stored: StoredState) -> None:
        """Keep what a read begun at `began` saw, but for participants a notification touched since."""
        self._loads -= 1
        self.loads += 1
        if self.ready and began >= self._version_seq and stored.version is not None:
            self.version = stored.version
        if self.ready:
            touched = self._touched
            for n, participant_id in enumerate(ids):
                if touched.get(participant_id, -1) < began:
                    self.people[participant_id] = Person(
                        bool(stored.visible[n]), float(stored.active_at[n]), float(stored.shown[n]),
                        float(stored.shown_at[n]), int(stored.active[n]))
            if query_id is not None and stored.blocked is not None and touched.get(query_id, -1) < began:
                self.blocked[query_id] = stored.blocked
        if self._loads <= 0:
            self._loads, self._touched = 0, {}

    def cancel_load(self) -> None:
        """A read begun with `begin_load` failed."""
        self._loads -= 1
        if self._loads <= 0:
            self._loads, self._touched = 0, {}

    # --- showings counted here ---

    def show(self, participant_ids: Sequence[int]) -> None:
        """Count one showing of each (written by the writer within its interval)."""
        self.pending.update(participant_ids)

    def take_pending(self) -> tuple[str, list[int], list[float]] | None:
        """The showings to write now under a new token (None: nothing to write)."""
        if not self.pending:
            return None
        self._tokens += 1
        token, batch = f"{id(self):x}.{self._tokens}", self.pending
        self.pending = Counter()
        if self.ready:  # its notification will take it out; without a listener none will come
            self.inflight[token] = batch
        ids = sorted(batch)
        return token, ids, [float(batch[i]) for i in ids]

    def written(self, token: str) -> None:
        """A write failed or was refused: its counts are no longer waited for."""
        self.inflight.pop(token, None)

    # --- notifications ---

    def apply(self, payload: str) -> None:
        """Apply one notification of migration 0025 (unknown kinds forget everything, to stay exact)."""
        self.seq += 1
        kind, body = payload[:1], payload[1:]
        if kind == "e":
            self._exposure(body)
        elif kind in ("p", "m"):
            for participant_id in (int(x) for x in body.split(",") if x):
                self._forget(participant_id)
        elif kind == "v":
            self.version, self._version_seq = int(body), self.seq
        else:
            self.reset(self.ready)

    def _forget(self, participant_id: int) -> None:
        self.people.pop(participant_id, None)
        self.blocked.pop(participant_id, None)
        if self._loads:
            self._touched[participant_id] = self.seq

    def _exposure(self, body: str) -> None:
        token, _, rows = body.partition(";")
        mine = self.inflight.get(token) if token else None
        for row in rows.split(";"):
            if not row:
                continue
            participant_id_text, shown, at = row.split(":")
            participant_id = int(participant_id_text)
            person = self.people.get(participant_id)
            if person is not None:
                person.shown, person.shown_at = float(shown), float(at)
            if mine is not None:
                mine.pop(participant_id, None)
            if self._loads:
                self._touched[participant_id] = self.seq
        if mine is not None and not mine:
            del self.inflight[token]

