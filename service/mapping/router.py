"""`GET /api/v1/map`: the map's figures as JSON (docs/contracts.md §7), for integrations and staff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.auth.dependencies import ApiAnyStaff
from service.kit.api import TOKEN_ERRORS, FieldNamingRoute
from service.kit.deps import ConnDep
from service.mapping import figures
from service.mapping import service as mapping

router = APIRouter(prefix="/api/v1", tags=["map"], route_class=FieldNamingRoute)


@router.get("/map", responses=dict(TOKEN_ERRORS))
async def get_map(actor: ApiAnyStaff, conn: ConnDep) -> dict[str, Any]:
    """The latest figures: themes with their offering and seeking participants, cells per kind, domain,
    municipality and semester, and the gaps (empty, `computed_at` null, before the first recomputation).
    No names."""
    return await mapping.figures_document(conn) or figures.empty()
