"""The in-process worker's state on /healthz, and what happens when it stops for good."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service import worker as worker_module
from service.app import create_app
from service.kit.config import Settings
from tests.mail.drills import until


async def test_a_worker_that_stops_for_good_is_reported_and_stops_the_server(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_startup(ctx: dict[str, Any]) -> None:
        raise RuntimeError("not a connection problem: the worker cannot go on")

    monkeypatch.setattr(worker_module, "startup", broken_startup)
    application = create_app(settings.model_copy(update={"run_worker": True}))
    died: list[bool] = []
    application.state.on_worker_death = lambda: died.append(True)  # `koble serve` stops and exits 1 here
    async with LifespanManager(application) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
    ) as client:
        await until(lambda: died, "the worker to be declared dead", 15)
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["worker"] == "dead"


async def test_healthz_reports_a_running_in_process_worker(settings: Settings) -> None:
    application = create_app(settings.model_copy(update={"run_worker": True}))
    async with LifespanManager(application) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
    ) as client:
        async def running() -> bool:
            return bool((await client.get("/healthz")).json()["worker"] == "running")

        await until(running, "the worker to connect", 15)
        response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
