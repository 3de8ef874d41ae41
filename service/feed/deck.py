"""The session's deck: the order in which one sitting shows its cards (issue 12, wall 1).

The ranker's order moves between requests (each card shown counts one exposure, which lowers that
candidate a little for everyone; new registrations and re-embeddings move others), so asking it
afresh for every card made Undo show another card than the one taken back, and a reload show another
card than the one on screen. The deck fixes the order for the sitting: it keeps the candidate ids in the
order they were first fetched; new ones join at the end; Undo moves the card taken back to the front.
The card on screen is always the first of the deck the ranker still allows and nobody has answered.
Pure functions over lists of ids, kept in the signed session cookie (a few hundred bytes).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

# Ids kept per session: 40 ids take about 300 bytes of the 4 KB cookie; older answered ids drop first.
DECK_MAX = 40
SESSION_KEY = "feed_deck"
# A sitting ends after this long without a card shown: the next visit takes the ranker's fresh order, so
# someone who registered overnight and fits best comes first rather than after yesterday's cards.
SITTING_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Progress:
    """Where the card on screen stands in this sitting: "3 of 10"."""

    position: int
    total: int


def arrange(deck: Sequence[int], available: Sequence[int]) -> list[int]:
    """The deck after a fetch: its order kept, candidates it did not hold appended in the ranker's order."""
    known = set(deck)
    merged = [*deck, *(i for i in available if i not in known)]
    return merged[-DECK_MAX:] if len(merged) > DECK_MAX else merged


def current(deck: Sequence[int], available: Collection[int]) -> int | None:
    """The card to show: the first of the deck that can still be shown (None when none can)."""
    return next((i for i in deck if i in available), None)


def to_front(deck: Sequence[int], candidate_id: int) -> list[int]:
    """The deck with a card taken back by Undo first, so it is the next one shown."""
    return [candidate_id, *(i for i in deck if i != candidate_id)]


def progress(deck: Sequence[int], available: Collection[int], answered: Collection[int]) -> Progress:
    """The card on screen's place: cards of this deck answered so far + 1, of those answered or still to show."""
    done = sum(1 for i in deck if i in answered)
    waiting = sum(1 for i in deck if i in available and i not in answered)
    return Progress(done + 1 if waiting else done, done + waiting)


def from_session(value: object, participant_id: int, now: float | None = None) -> list[int]:
    """The deck kept in a session for this participant ([] for another's, an ended sitting, or garbage)."""
    if not isinstance(value, dict) or value.get("p") != participant_id:
        return []
    at = value.get("t")
    if not isinstance(at, int | float) or (now if now is not None else time.time()) - at > SITTING_SECONDS:
        return []
    ids = value.get("ids")
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def to_session(deck: Sequence[int], participant_id: int, now: float | None = None) -> dict[str, object]:
    """What the session keeps: the deck, tagged with its participant and when it was last used."""
    return {"p": participant_id, "ids": list(deck), "t": int(now if now is not None else time.time())}
