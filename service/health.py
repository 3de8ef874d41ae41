"""GET /healthz: database, pgvector, Redis and in-process worker status (docs/contracts.md §3)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.kit.deps import get_resources

router = APIRouter(tags=["health"])


async def _database(request: Request) -> tuple[bool, str | None]:
    try:
        async with get_resources(request).pool.acquire(timeout=2) as conn:
            version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        return True, version
    except Exception:  # any failure at all means "down" for a health check
        return False, None


async def _redis(request: Request) -> bool:
    try:
        return bool(await asyncio.wait_for(get_resources(request).redis.ping(), timeout=2))
    except Exception:  # any failure at all means "down" for a health check
        return False


def worker_state(request: Request) -> str:
    """The in-process worker's state (service.worker.Supervisor): "off" when `koble serve` runs none, else
    starting, running, reconnecting (Redis is down), stopping, stopped or dead."""
    state = getattr(request.app.state, "worker_state", None)
    return "off" if state is None else str(state())


def worker_alive(state: str) -> bool:
    """Whether a worker in this state still delivers (or will once Redis is back)."""
    return state in ("off", "starting", "running", "reconnecting")


@router.get("/healthz", summary="Health of the database, pgvector and Redis")
async def healthz(request: Request) -> JSONResponse:
    """200 when the database (with pgvector) and Redis answer and the in-process worker (if any) is alive,
    else 503; the body says which."""
    db_ok, pgvector = await _database(request)
    redis_ok = await _redis(request)
    worker = worker_state(request)
    healthy = db_ok and pgvector is not None and redis_ok and worker_alive(worker)
    body: dict[str, Any] = {
        "status": "ok" if healthy else "degraded",
        "database": "ok" if db_ok else "down",
        "pgvector": pgvector or "missing",
        "redis": "ok" if redis_ok else "down",
        "worker": worker,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
