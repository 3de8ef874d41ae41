"""Who may open what: every staff page and staff API route, found by walking `app.routes`.

Routes other helpers add later are covered too: anything under /staff (except the sign-in pages) and
any route depending on a staff guard. Anonymous → staff sign-in (pages) or 401 (API); a participant →
403; an analyst → 403 wherever people are shown (allowed on figures-only routes); a reviewer → allowed,
except admin-only routes (403); an admin → allowed everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asyncpg import Connection
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.app import create_app
from service.auth import dependencies as deps
from service.auth import service as auth_service
from service.kit.config import Settings
from tests.conftest import csrf_of
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_staff

ROLES = ("anonymous", "participant", "analyst", "reviewer", "admin")
PUBLIC = {"/staff/signin", "/staff/auth/{token}", "/staff/signout", "/staff/signout/everywhere"}
PEOPLE_GUARDS = {deps.require_staff, deps.require_admin, deps.require_api_staff}
STAFF_GUARDS = PEOPLE_GUARDS | {deps.require_any_staff, deps.require_api_any_staff}


@dataclass(frozen=True)
class StaffRoute:
    """One method of one staff route, and whether only admins may use it."""

    method: str
    path: str
    admin_only: bool
    api: bool
    people: bool  # shows or moves people: analysts are refused


def _guards(dependant: Dependant) -> set[Any]:
    found = {dependant.call} & STAFF_GUARDS
    for sub in dependant.dependencies:
        found |= _guards(sub)
    return found


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI ≥ 0.165 keeps included routers lazily
            for context in route.effective_route_contexts():
                if isinstance(context.original_route, APIRoute):
                    yield context.path, set(context.methods), context.original_route
        elif isinstance(route, APIRoute):
            yield route.path, set(route.methods or ()), route


def staff_routes(app: FastAPI) -> list[StaffRoute]:
    """Every (method, path) behind a staff guard; fails on a /staff route that has none."""
    found = []
    for path, methods, route in _api_routes(app):
        guards = _guards(route.dependant)
        if path.startswith("/staff") and path not in PUBLIC:
            assert guards & STAFF_GUARDS, f"{path} is under /staff but has no staff guard"
        if guards & STAFF_GUARDS:
            found += [StaffRoute(method, path, deps.require_admin in guards, path.startswith("/api/"),
                                 bool(guards & PEOPLE_GUARDS)) for method in sorted(methods - {"HEAD"})]
    return found


@dataclass
class World:
    """Ids to fill path parameters with, and one client per role."""

    ids: dict[str, int]
    clients: dict[str, httpx.AsyncClient]


async def _client(app: Any) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await client.get("/staff/signin")  # a CSRF cookie, so forms are judged on rights, not on CSRF
    return client


@pytest.fixture
async def world(
    app: Any, conn: Connection, make_participant: MakeParticipant, make_staff: MakeStaff, make_match: MakeMatch
) -> Any:
    """A pair, a match, staff of each role (plus one to act on), and signed-in clients for each role."""
    student = (await make_participant(embed=False))["id"]
    match_id = (await make_match(student, await make_participant("company", embed=False)))["id"]
    reviewer, admin = (await make_staff("reviewer"))["email"], (await make_staff("admin"))["email"]
    analyst = (await make_staff("analyst"))["email"]
    target = (await make_staff("reviewer", "target@brighthouse.example"))["id"]
    clients = {role: await _client(app) for role in ROLES}
    token = await auth_service.issue(conn, student, "login", dt.timedelta(minutes=5))
    await clients["participant"].post(f"/auth/{token}", data={"csrftoken": csrf_of(clients["participant"])})
    await sign_in_staff(clients["reviewer"], conn, reviewer)
    await sign_in_staff(clients["admin"], conn, admin)
    await sign_in_staff(clients["analyst"], conn, analyst)
    yield World({"match_id": match_id, "participant_id": student, "staff_id": target}, clients)
    for client in clients.values():
        await client.aclose()


def _url(path: str, ids: dict[str, int]) -> str:
    """The path with known parameters filled in from `ids`, any other one as 1."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(ids.get(m.group(1), 1)), path)


async def _call(client: httpx.AsyncClient, route: StaffRoute, ids: dict[str, int]) -> httpx.Response:
    url = _url(route.path, ids)
    if route.method == "GET":
        return await client.get(url)
    if route.api:
        return await client.request(route.method, url, json={})
    return await client.request(route.method, url, data={"csrftoken": csrf_of(client)})


def _allowed(response: httpx.Response) -> bool:
    # Rights granted: anything but a refusal or a detour to sign-in (a form may still say 422 or 409).
    signin = response.status_code == 303 and response.headers["location"].startswith("/staff/signin")
    return response.status_code not in (401, 403) and response.status_code < 500 and not signin


def _expected(role: str, route: StaffRoute, response: httpx.Response) -> bool:
    if role == "anonymous":
        if route.api:
            return response.status_code == 401
        return response.status_code == 303 and response.headers["location"] == "/staff/signin"
    if role == "participant" or (role == "reviewer" and route.admin_only) or (role == "analyst" and route.people):
        return response.status_code == 403
    return _allowed(response) and (route.method != "GET" or response.status_code in (200, 303))


async def test_every_staff_route_answers_each_role_as_it_should(world: World, settings: Settings) -> None:
    routes = staff_routes(create_app(settings))  # the route table only: no lifespan needed
    paths = {route.path for route in routes}
    assert {"/staff/queue", "/staff/audit", "/staff/admin", "/staff/export.csv", "/api/v1/review/queue"} <= paths
    assert any(route.admin_only for route in routes) and not all(route.admin_only for route in routes)
    wrong = []
    # Reads first, then writes, admin last: a write never takes away the rights a later check needs.
    for role in ROLES:
        for route in sorted(routes, key=lambda r: (r.method != "GET", "disable" in r.path)):
            response = await _call(world.clients[role], route, world.ids)
            if not _expected(role, route, response):
                wrong.append(f"{role} {route.method} {route.path} → {response.status_code}")
    assert wrong == []


async def test_the_bearer_token_has_reviewer_rights_on_the_review_api(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/api/v1/review/queue")).status_code == 401
    wrong = await client.get("/api/v1/review/queue", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 403
    right = await client.get("/api/v1/review/queue", headers={"Authorization": f"Bearer {settings.koble_api_token}"})
    assert right.status_code == 200 and right.json()["items"] == []
