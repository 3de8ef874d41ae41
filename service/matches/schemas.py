"""What the match lifecycle hands its callers: timeline lines, reply outcomes and the review queue's filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

QueueStatus = Literal["pending", "snoozed", "rejected"]
STATUSES: tuple[QueueStatus, ...] = ("pending", "snoozed", "rejected")
PAGE_SIZE = 50


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a match's timeline: a transition or an email."""

    at: dt.datetime
    kind: str  # "transition" or "email"
    title: str  # the new state, or the email's subject
    detail: str | None  # reason/comment, or the delivery status
    actor: str | None


@dataclass
class Outcome:
    """What a reply did: 'done', 'waiting' (for the other party), 'already' (nothing to do) or 'refused'."""

    result: Literal["done", "waiting", "already", "refused"]
    state: str
    outbox: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class QueueFilter:
    """What the review queue shows: filters (None: any) and the keyset position (score, id) to continue after."""

    status: QueueStatus = "pending"
    domain: str | None = None
    kinds: tuple[str, str] | None = None
    engagement: str | None = None
    language: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = None
    after: tuple[float, int] | None = None
    limit: int = PAGE_SIZE
