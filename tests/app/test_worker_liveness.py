"""The in-process worker's state on /healthz, and what happens when it stops for good."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from typer.testing import CliRunner

from service import cli
from service import worker as worker_module
from service.app import create_app
from service.kit.config import Settings, get_settings
from tests.mail.drills import free_port, until


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


def test_koble_serve_exits_1_when_its_worker_stops_for_good(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_startup(ctx: dict[str, Any]) -> None:
        raise RuntimeError("not a connection problem: the worker cannot go on")

    monkeypatch.setattr(worker_module, "startup", broken_startup)
    env = {"DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or "",
           "KOBLE_DATA_DIR": str(settings.koble_data_dir), "KOBLE_SECRET_KEY": "test", "KOBLE_RUN_WORKER": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve", "--port", str(free_port())])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "the worker stopped for good" in result.output, result.output
