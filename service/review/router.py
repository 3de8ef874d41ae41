"""Review API under /api/v1/review: the queue and staff decisions, for integrations and staff sessions.

Callers: the operator's bearer token (`KOBLE_API_TOKEN`, reviewer rights, docs/contracts.md §3) or a signed-in
staff member's session. A decision on a pair that has moved meanwhile answers 409 naming its current
state (`{"detail": {"msg", "current_state", "match_id"}}`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from service.auth.dependencies import ApiStaff
from service.kit.api import INVALID, FieldNamingRoute, Message, SessionCookie, error_doc
from service.kit.deps import ConnDep, ResourcesDep
from service.kit.inputs import IdPath, IsoDate, SingleLine
from service.kit.vocabulary import Domain, Engagement
from service.matches.schemas import PAGE_SIZE, QueueFilter, QueueStatus
from service.review import service as review
from service.review.schemas import (
    BulkIn,
    BulkOut,
    MatchOut,
    PartyOut,
    QueueItemOut,
    QueueOut,
    RejectIn,
    SnoozeIn,
)

# JSON-only routes that name the field at fault (a body that is not JSON: 415; not UTF-8: 422 on `body`).
router = APIRouter(prefix="/api/v1/review", tags=["review"], dependencies=[SessionCookie],
                   route_class=FieldNamingRoute)


class ConflictDetail(BaseModel):
    """Why a decision was refused: the pair's current state."""

    msg: str = Field(examples=["This match is now “Approved”, so it cannot become “Rejected”."])
    current_state: str = Field(examples=["introduced"])
    match_id: int


class Conflict(BaseModel):
    """The pair moved before this decision (another reviewer decided first)."""

    detail: ConflictDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_doc(Message, "Neither a bearer token nor a staff session"),
    403: error_doc(Message, "Wrong bearer token, or a participant's session"),
    422: INVALID,
}
DECISION_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: error_doc(Message, "No match with this id"),
    409: {"model": Conflict, "description": "The match is no longer in a state this decision applies to"},
}


def _party(row: dict[str, Any]) -> PartyOut:
    return PartyOut(**{name: row[name] for name in PartyOut.model_fields})


@router.get("/queue", response_model=QueueOut, responses=ERRORS, summary="Suggested pairs waiting for staff")
async def queue(
    actor: ApiStaff, conn: ConnDep, resources: ResourcesDep, response: Response,
    status: QueueStatus = "pending",
    domain: Annotated[Domain | None, Query(description="Both share this domain.")] = None,
    kinds: Annotated[str | None, Query(pattern=r"^[a-z_]+,[a-z_]+$", description="A kind pair: `student,company`.")]
    = None,
    engagement: Annotated[Engagement | None, Query(description="Both accept this kind of collaboration.")] = None,
    language: Annotated[str | None, Query(pattern="^(nb|en)$", description="One of them uses this language.")] = None,
    date_from: Annotated[IsoDate | None, Query(description="Suggested on or after this day.")] = None,
    date_to: Annotated[IsoDate | None, Query(description="Suggested on or before this day.")] = None,
    q: Annotated[str | None, Query(max_length=100, pattern=SingleLine.pattern(),
                                   description="Name, organisation or email of either.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]*$",
                                        description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
) -> QueueOut:
    """The queue, best first, keyset-paged; explanations in the request's language (`?lang=`)."""
    pair = tuple(kinds.split(",")) if kinds else None
    f = QueueFilter(status=status, domain=domain, kinds=pair, engagement=engagement,  # type: ignore[arg-type]
                    language=language, date_from=date_from, date_to=date_to, q=q,
                    after=review.decode_cursor(cursor), limit=limit)
    items, next_cursor, total = await review.queue(conn, resources.settings, f, actor)
    response.headers["Cache-Control"] = "no-store"  # personal data
    return QueueOut(total=total, next_cursor=next_cursor, items=[QueueItemOut(
        match_id=i.match["id"], state=i.match["state"], score=i.match["score"], created_at=i.match["created_at"],
        snoozed_until=i.match["snoozed_until"], a=_party(i.a), b=_party(i.b), explanation=i.explanation,
    ) for i in items])


@router.post("/matches/{match_id}/approve", response_model=MatchOut, responses=DECISION_ERRORS,
             summary="Approve a suggested pair (both are introduced by email after the grace period)")
async def approve(match_id: IdPath, actor: ApiStaff, conn: ConnDep, resources: ResourcesDep) -> MatchOut:
    """Approve: the pair moves to `approved`; after `KOBLE_APPROVAL_GRACE_SECONDS` (at once when 0) Koble
    introduces both (state `introduced`). Until then the transition `approved → suggested` undoes it."""
    row = await review.approve(conn, resources.redis, resources.settings, match_id, actor)
    return MatchOut(match_id=row["id"], state=row["state"])


@router.post("/matches/{match_id}/reject", response_model=MatchOut, responses=DECISION_ERRORS,
             summary="Reject a suggested pair with a reason")
async def reject(match_id: IdPath, body: RejectIn, actor: ApiStaff, conn: ConnDep, resources: ResourcesDep) -> MatchOut:
    """Reject for good: the pair is never suggested again; the reason stays in the timeline."""
    row = await review.reject(conn, resources.settings, match_id, actor, body.reason.strip())
    return MatchOut(match_id=row["id"], state=row["state"])


@router.post("/matches/{match_id}/snooze", response_model=MatchOut, responses=DECISION_ERRORS,
             summary="Keep a suggested pair out of the queue until a day")
async def snooze(match_id: IdPath, body: SnoozeIn, actor: ApiStaff, conn: ConnDep) -> MatchOut:
    """Snooze: the pair stays suggested and comes back into the queue on `until`."""
    row = await review.snooze(conn, match_id, actor, body.until)
    return MatchOut(match_id=row["id"], state=row["state"], snoozed_until=row["snoozed_until"])


@router.post("/bulk-approve", response_model=BulkOut, responses=ERRORS, summary="Approve several pairs")
async def bulk_approve(body: BulkIn, actor: ApiStaff, conn: ConnDep, resources: ResourcesDep) -> BulkOut:
    """Approve each pair; those decided meanwhile are skipped with their current state."""
    result = await review.bulk_approve(conn, resources.redis, resources.settings, body.match_ids, actor)
    return BulkOut(approved=result.approved, skipped=result.skipped)
