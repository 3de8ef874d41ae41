"""`GET /api/v1/map`: the map's figures as JSON (docs/contracts.md §7), for integrations and staff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.auth.dependencies import ApiAnyStaff
from service.kit.api import TOKEN_ERRORS, FieldNamingRoute, Message, error_doc
from service.kit.deps import ConnDep
from service.mapping import service as mapping

router = APIRouter(prefix="/api/v1", tags=["map"], route_class=FieldNamingRoute)


@router.get("/map", responses={**TOKEN_ERRORS, 404: error_doc(Message, "The themes have not been computed yet")})
async def get_map(actor: ApiAnyStaff, conn: ConnDep) -> dict[str, Any]:
    """The latest figures: themes with their offering and seeking participants, cells per kind, domain,
    municipality and semester, and the gaps (404 before the first recomputation). No names."""
    document = await mapping.figures_document(conn)
    if document is None:
        raise mapping.NoThemesYet
    return document
