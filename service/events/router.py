"""Event days' JSON API under /api/v1 (staff rights): an event's schedule numbers and its report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from service.auth.dependencies import ApiStaff
from service.events import service
from service.kit.deps import ConnDep

router = APIRouter(prefix="/api/v1", tags=["events"])
EventId = Annotated[int, Path(ge=1, description="The event's id")]


class ReportRow(BaseModel):
    """One group of the report (`all`, `domain:<domain>` or `kind:<kind>`) and its counts."""

    group: str
    signed_up: int
    requests: int
    accepted: int
    scheduled: int
    held: int
    useful: int
    followed: int


class EventOut(BaseModel):
    """An event's last schedule (objective, the solver's upper bound, the relative gap) and its report."""

    id: int
    name: str
    objective: float | None
    upper_bound: float | None
    gap: float | None
    published: bool
    closed: bool
    report: list[ReportRow]


@router.get("/events/{event_id}", response_model=EventOut)
async def get_event(event_id: EventId, actor: ApiStaff, conn: ConnDep) -> EventOut:
    """An event's schedule numbers and report; 404 if unknown."""
    event = await service.event_or_404(conn, event_id)
    bound, objective = event["upper_bound"], event["objective"]
    gap = max(0.0, (bound - objective) / bound) if bound else None
    rows = [ReportRow(group=key, **counts) for key, counts in await service.report(conn, event_id)]
    return EventOut(id=event["id"], name=event["name"], objective=objective, upper_bound=bound, gap=gap,
                    published=event["published_at"] is not None, closed=event["closed_at"] is not None, report=rows)
