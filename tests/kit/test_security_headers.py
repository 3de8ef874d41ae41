"""Personal answers carry `Cache-Control: no-store`; public pages stay cacheable."""

from __future__ import annotations

import httpx
import pytest
from asyncpg import Connection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from service.kit.security import SecurityHeaders, is_personal
from tests.conftest import API_TOKEN
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_staff


@pytest.mark.parametrize("path", ["/me", "/me/matches/7", "/me/email-preferences", "/staff/outbox", "/staff/funnel",
                                  "/api/v1/matches/7", "/api/v1/participants/me/feed", "/reply/abc", "/auth/abc"])
def test_personal_paths(path: str) -> None:
    assert is_personal(path)


@pytest.mark.parametrize("path", ["/", "/privacy", "/register", "/static/style.css", "/metrics", "/meetings"])
def test_public_paths(path: str) -> None:
    assert not is_personal(path)


async def test_the_middleware_adds_no_store_unless_the_route_chose_its_own_caching() -> None:
    def page(request: Request) -> PlainTextResponse:
        cacheable = request.query_params.get("cacheable") == "1"
        return PlainTextResponse("ok", headers={"Cache-Control": "max-age=60"} if cacheable else None)

    app = SecurityHeaders(Starlette(routes=[Route("/me/x", page), Route("/privacy", page)]), hsts=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://koble") as client:
        assert (await client.get("/me/x")).headers["cache-control"] == "no-store"
        assert (await client.get("/me/x?cacheable=1")).headers["cache-control"] == "max-age=60"
        assert "cache-control" not in (await client.get("/privacy")).headers


async def test_the_app_sends_no_store_on_a_match_and_the_staff_outbox(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, make_match: MakeMatch,
    make_staff: MakeStaff,
) -> None:
    student = await make_participant("student", embed=False)
    match = await make_match(student, await make_participant("company", embed=False))
    api = await client.get(f"/api/v1/matches/{match['id']}", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert api.status_code == 200 and api.headers["cache-control"] == "no-store"
    await sign_in_staff(client, conn, (await make_staff())["email"])
    outbox = await client.get("/staff/outbox")
    assert outbox.status_code == 200 and outbox.headers["cache-control"] == "no-store"
    front = await client.get("/")
    assert front.status_code == 200 and "no-store" not in front.headers.get("cache-control", "")
