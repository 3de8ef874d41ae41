"""The participants JSON API against real Postgres, Redis, SMTP and the worker."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from asyncpg import Connection

from service.app import create_app
from service.kit.api import NOT_JSON_DETAIL
from service.kit.config import Settings
from service.profiles.router import COMPANY, EMAIL_TAKEN, REGISTERED, STUDENT
from service.profiles.schemas import STUDENT_CAPACITY
from tests.conftest import API_TOKEN, Mailbox, link_in, post_form, run_jobs, run_worker
from tests.factories import MakeParticipant

API = "/api/v1/participants"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
KARI = {
    "kind": "student", "name": "Kari Nordmann", "email": "kari@example.no", "domains": ["bioeconomy"],
    "engagements": ["thesis"], "seeks": ["Masteroppgave om bærekraftig skogbruk"], "consent": True,
}
ASE_EMAIL = "ase@example.no"


@pytest.fixture
async def ase(make_participant: MakeParticipant) -> asyncpg.Record:
    """Åse, verified, with what she seeks and no offers (a patch emptying `seeks` must be refused)."""
    return await make_participant(
        name="Åse Bjørnstad", email=ASE_EMAIL, domains=["cyber_ict"], available_until=dt.date(2026, 6, 30),
        seeks=["Masteroppgave om OT-sikkerhet"], offers=[], external_id="ase-1", embed=False,
    )


@contextlib.asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app started with other settings than the `client` fixture's."""
    application = create_app(settings)
    async with LifespanManager(application) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def follow_link(client: httpx.AsyncClient, mailbox: Mailbox, address: str) -> None:
    """Open the link in the newest email to `address` and confirm it, as a browser would."""
    link = link_in(mailbox.to(address)[-1]).replace("http://testserver", "")
    assert (await client.get(link)).status_code == 200
    # Asked for through the API, not in this browser: the link page asks "this device?" (issue 15, finding 6).
    confirmed = await post_form(client, link, {"this_device": "yes"})
    assert confirmed.status_code == 303, confirmed.text


async def signed_in_as_ase(client: httpx.AsyncClient, settings: Settings, mailbox: Mailbox) -> None:
    """The client holds the session of Åse (the `ase` fixture)."""
    assert (await post_form(client, "/signin", {"email": "ase@example.no"})).status_code == 200
    await run_worker(settings)
    await follow_link(client, mailbox, "ase@example.no")


def fields_named(response: httpx.Response) -> set[str]:
    """The fields a 422 answer names."""
    assert response.status_code == 422, response.text
    return {error["field"] for error in response.json()["detail"]}


async def row_of(conn: Connection, external_id: str) -> dict[str, Any] | None:
    """A participant's row, or None."""
    row = await conn.fetchrow("SELECT * FROM participants WHERE external_id = $1", external_id)
    return None if row is None else dict(row)


async def test_self_registration_verifies_by_email_then_manages_own_data(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox
) -> None:
    response = await client.post(API, json=KARI)
    assert response.status_code == 202 and response.json() == {"detail": REGISTERED}
    await run_jobs()  # the worker decides what a registration does (issue 15, finding 8)
    row = await conn.fetchrow("SELECT * FROM participants WHERE email = 'kari@example.no'")
    assert row["verified_at"] is None and row["consent_at"] is not None and row["source"] == "web"

    await run_worker(settings)
    await follow_link(client, mailbox, "kari@example.no")

    me = await client.get(f"{API}/me")
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    assert me.json()["verified"] is True and me.json()["name"] == "Kari Nordmann"
    assert me.json()["capacity"] == STUDENT_CAPACITY and me.json()["external_id"] == row["external_id"]

    patched = await client.patch(f"{API}/me", json={"organisation": "NTNU Gjøvik", "offers": "Feltarbeid og R"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["organisation"] == "NTNU Gjøvik" and patched.json()["offers"] == ["Feltarbeid og R"]
    assert patched.json()["seeks"] == KARI["seeks"]  # untouched fields are kept
    stored = await conn.fetchrow("SELECT organisation, offers FROM participants WHERE id = $1", row["id"])
    assert stored["organisation"] == "NTNU Gjøvik" and stored["offers"] == ["Feltarbeid og R"]

    data = await client.get(f"{API}/me/data")
    assert data.status_code == 200 and data.json()["profile"]["email"] == "kari@example.no"
    assert data.json()["source"] == "web" and [e["status"] for e in data.json()["emails"]] == ["sent"]

    deleted = await client.delete(f"{API}/me")
    assert deleted.status_code == 204
    assert await conn.fetchval("SELECT count(*) FROM participants") == 0
    assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    assert (await client.get(f"{API}/me")).status_code == 401


async def test_registering_a_known_address_answers_the_same_and_sends_a_sign_in_link(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, ase: asyncpg.Record
) -> None:
    response = await client.post(API, json={**KARI, "email": "ASE@example.no"})
    assert response.status_code == 202 and response.json() == {"detail": REGISTERED}
    assert await conn.fetchval("SELECT count(*) FROM participants") == 1
    await run_worker(settings)
    [message] = mailbox.to("ase@example.no")
    await follow_link(client, mailbox, "ase@example.no")
    assert (await client.get(f"{API}/me")).json()["name"] == "Åse Bjørnstad"
    assert message["Subject"]


async def test_registration_refuses_bad_input_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox
) -> None:
    assert fields_named(await client.post(API, json={**KARI, "consent": False})) == {"consent"}
    assert fields_named(await client.post(API, json={**KARI, "favourite_colour": "blue"})) == {"favourite_colour"}
    assert fields_named(await client.post(API, json={**KARI, "email": "kari.example.no"})) == {"email"}
    assert fields_named(await client.post(API, json={**KARI, "domains": ["astrology"]})) == {"domains.0"}
    late = {**KARI, "available_from": "2026-09-01", "available_until": "2026-01-01"}
    assert fields_named(await client.post(API, json=late)) == {"available_until"}
    assert fields_named(await client.post(API, json={**KARI, "seeks": []})) == {"offers"}
    no_kind = {key: value for key, value in KARI.items() if key != "kind"}
    assert fields_named(await client.post(API, json=no_kind)) == {"kind"}
    # Only JSON bodies: a cross-site HTML form cannot post here.
    form = await client.post(API, content=json.dumps(KARI), headers={"content-type": "text/plain"})
    assert form.status_code == 415 and form.json() == {"detail": NOT_JSON_DETAIL}
    broken = await client.post(API, content=b'{"kind": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"][0]["msg"]
    listed = await client.post(API, json=[KARI])
    assert listed.status_code == 422 and listed.json()["detail"][0]["msg"] == "The body must be a JSON object"
    assert await conn.fetchval("SELECT count(*) FROM participants") == 0
    await run_worker(settings)
    assert mailbox.messages == []


async def test_registration_is_rate_limited_per_client(settings: Settings, conn: Connection) -> None:
    async with client_for(settings.model_copy(update={"rate_limit_register": "2/hour"})) as http:
        for n in range(2):
            answer = await http.post(API, json={**KARI, "email": f"kari{n}@example.no"})
            assert answer.status_code == 202
        limited = await http.post(API, json={**KARI, "email": "kari9@example.no"})
    assert limited.status_code == 429 and "wait a while" in limited.json()["detail"]
    await run_jobs()
    assert await conn.fetchval("SELECT count(*) FROM participants") == 2


async def test_own_data_needs_a_session(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/me"), ("PATCH", "/me"), ("DELETE", "/me"), ("GET", "/me/data")):
        body = {"name": "X"} if method == "PATCH" else None
        response = await client.request(method, API + path, json=body, headers=BEARER)
        assert response.status_code == 401, (method, path)
        assert response.json() == {"detail": "Sign in first: no valid session cookie"}


async def test_patch_with_bad_data_names_the_field_and_changes_nothing(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, ase: asyncpg.Record
) -> None:
    await signed_in_as_ase(client, settings, mailbox)
    before = await row_of(conn, "ase-1")
    assert fields_named(await client.patch(f"{API}/me", json={"domains": [], "name": "Åse B."})) == {"domains"}
    assert fields_named(await client.patch(f"{API}/me", json={"kind": None})) == {"kind"}
    assert fields_named(await client.patch(f"{API}/me", json={"capacity": 0})) == {"capacity"}
    assert fields_named(await client.patch(f"{API}/me", json={"hidden": True})) == {"hidden"}
    # Valid alone, invalid merged with the stored `available_until`.
    assert fields_named(await client.patch(f"{API}/me", json={"available_from": "2026-09-01"})) == {"available_until"}
    assert fields_named(await client.patch(f"{API}/me", json={"seeks": []})) == {"offers"}
    as_form = await client.patch(f"{API}/me", data={"name": "Mallory"})
    assert as_form.status_code == 415
    as_text = await client.patch(f"{API}/me", content='{"name": "Mallory"}', headers={"content-type": "text/plain"})
    assert as_text.status_code == 415
    assert (await client.patch(f"{API}/me", content='{"name": "Åse B."}')).status_code == 415
    assert await row_of(conn, "ase-1") == before


async def test_patch_to_a_new_email_waits_for_confirmation_and_a_taken_one_looks_the_same(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, ase: asyncpg.Record,
    make_participant: MakeParticipant,
) -> None:
    await signed_in_as_ase(client, settings, mailbox)
    await make_participant(email="bo@example.no", embed=False)
    taken = await client.patch(f"{API}/me", json={"email": "BO@example.no", "name": "Åse B."})
    # Never a 409 revealing who is registered (issue 15, finding 2): Bo is told by email instead.
    assert taken.status_code == 200 and taken.json()["pending_email"] == "BO@example.no"
    assert (await row_of(conn, "ase-1") or {})["name"] == "Åse B."

    moved = await client.patch(f"{API}/me", json={"email": "ase.b@example.no"})
    # The verified address stays in use until the new one is confirmed.
    assert moved.status_code == 200
    assert moved.json()["email"] == ASE_EMAIL and moved.json()["pending_email"] == "ase.b@example.no"
    assert moved.json()["verified"] is True
    await run_worker(settings)
    assert len(mailbox.to("ase.b@example.no")) == 1
    await follow_link(client, mailbox, "ase.b@example.no")
    confirmed = (await client.get(f"{API}/me")).json()
    assert confirmed["email"] == "ase.b@example.no" and confirmed["pending_email"] is None
    assert confirmed["verified"] is True


async def test_bearer_token_is_required_and_checked(client: httpx.AsyncClient, settings: Settings) -> None:
    missing = await client.get(f"{API}/ase-1")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {"detail": "Missing bearer token"}
    wrong = await client.put(f"{API}/ase-1", json=STUDENT, headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403 and wrong.json() == {"detail": "Invalid bearer token"}
    async with client_for(settings.model_copy(update={"koble_api_token": None})) as unconfigured:
        refused = await unconfigured.delete(f"{API}/ase-1", headers=BEARER)
        assert refused.status_code == 403 and refused.json() == {"detail": "Invalid bearer token"}
        assert (await unconfigured.get(f"{API}/ase-1")).status_code == 401


async def test_integration_creates_replaces_reads_and_deletes_by_external_id(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox
) -> None:
    created = await client.put(f"{API}/ntnu-48213", json=STUDENT, headers=BEARER)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{API}/ntnu-48213"
    assert created.json()["verified"] is True and created.json()["external_id"] == "ntnu-48213"
    row = await row_of(conn, "ntnu-48213")
    assert row and row["source"] == "api" and row["verified_at"] and row["consent_at"] is None

    changed = {**STUDENT, "name": "Ingrid M. Haugen", "seeks": ["Sommerjobb 2026"]}
    del changed["location"]
    replaced = await client.put(f"{API}/ntnu-48213", json=changed, headers=BEARER)
    assert replaced.status_code == 200 and "location" not in replaced.headers
    assert replaced.json()["name"] == "Ingrid M. Haugen" and replaced.json()["location"] is None
    after = await row_of(conn, "ntnu-48213")
    assert after and after["id"] == row["id"] and after["created_at"] == row["created_at"]
    assert after["seeks"] == ["Sommerjobb 2026"]

    read = await client.get(f"{API}/ntnu-48213", headers=BEARER)
    assert read.status_code == 200 and read.json() == replaced.json()
    await run_worker(settings)
    assert mailbox.messages == []  # the integration vouches for the address

    assert (await client.delete(f"{API}/ntnu-48213", headers=BEARER)).status_code == 204
    assert await row_of(conn, "ntnu-48213") is None
    gone = await client.delete(f"{API}/ntnu-48213", headers=BEARER)
    assert gone.status_code == 404 and gone.json() == {"detail": "external_id: no participant with id 'ntnu-48213'"}


async def test_integration_errors_name_the_field(client: httpx.AsyncClient, conn: Connection) -> None:
    missing = await client.get(f"{API}/nobody-7", headers=BEARER)
    assert missing.status_code == 404 and "nobody-7" in missing.json()["detail"]
    assert missing.json()["detail"].startswith("external_id:")

    assert (await client.put(f"{API}/company-1", json=COMPANY, headers=BEARER)).status_code == 201
    taken = await client.put(f"{API}/other", json={**STUDENT, "email": COMPANY["email"].upper()}, headers=BEARER)
    assert taken.status_code == 409 and taken.json() == {"detail": EMAIL_TAKEN}
    stolen = await client.put(f"{API}/ntnu-1", json=STUDENT, headers=BEARER)
    assert stolen.status_code == 201
    clash = await client.put(f"{API}/company-1", json={**COMPANY, "email": STUDENT["email"]}, headers=BEARER)
    assert clash.status_code == 409 and clash.json() == {"detail": EMAIL_TAKEN}
    assert (await row_of(conn, "company-1") or {})["email"] == COMPANY["email"]

    with_id = await client.put(f"{API}/x-1", json={**STUDENT, "external_id": "y-1"}, headers=BEARER)
    assert fields_named(with_id) == {"external_id"}
    assert fields_named(await client.put(f"{API}/me", json=COMPANY, headers=BEARER)) == {"external_id"}
    assert fields_named(await client.put(f"{API}/{'x' * 101}", json=COMPANY, headers=BEARER)) == {"external_id"}
    assert fields_named(await client.put(f"{API}/%20x", json=COMPANY, headers=BEARER)) == {"external_id"}
    assert await conn.fetchval("SELECT count(*) FROM participants") == 2


async def test_bodies_over_one_mebibyte_are_refused(client: httpx.AsyncClient, conn: Connection) -> None:
    huge = {**KARI, "seeks": ["x" * (1024 * 1024 + 1)]}
    assert (await client.post(API, json=huge)).status_code == 413
    response = await client.put(f"{API}/big-1", json=huge, headers=BEARER)
    assert response.status_code == 413 and response.json() == {"detail": "Request body too large"}
    assert await conn.fetchval("SELECT count(*) FROM participants") == 0


async def test_openapi_documents_the_endpoints_with_examples_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        API: {"post"}, f"{API}/me": {"get", "patch", "delete"}, f"{API}/me/data": {"get"},
        f"{API}/{{external_id}}": {"get", "put", "delete"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["tags"] == ["participants"] and operation["summary"] and operation["description"]
    register = paths[API]["post"]
    examples = register["requestBody"]["content"]["application/json"]["examples"]
    assert examples["student"]["value"]["language"] == "nb" and examples["company"]["value"]["language"] == "en"
    assert {"202", "413", "415", "422", "429"} <= set(register["responses"])
    put = paths[f"{API}/{{external_id}}"]["put"]
    assert {"200", "201", "401", "403", "409", "422"} <= set(put["responses"])
    assert put["security"] == [{"HTTPBearer": []}]
    assert {"401", "422", "429"} <= set(paths[f"{API}/me"]["patch"]["responses"])
    assert "404" in paths[f"{API}/{{external_id}}"]["get"]["responses"]
    error = spec["components"]["schemas"]["FieldError"]["properties"]
    assert set(error) == {"loc", "field", "msg", "type"}


def examples_of(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The request body examples of one operation in the OpenAPI document."""
    examples: dict[str, Any] = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["examples"]
    return examples


async def test_the_documented_registration_examples_are_accepted(client: httpx.AsyncClient, conn: Connection) -> None:
    spec = (await client.get("/openapi.json")).json()
    for example in examples_of(spec, API, "post").values():
        assert (await client.post(API, json=example["value"])).status_code == 202
    await run_jobs()
    assert await conn.fetchval("SELECT count(*) FROM participants WHERE verified_at IS NULL") == 2


async def test_the_documented_integration_examples_are_accepted(client: httpx.AsyncClient, conn: Connection) -> None:
    spec = (await client.get("/openapi.json")).json()
    for name, example in examples_of(spec, f"{API}/{{external_id}}", "put").items():
        assert (await client.put(f"{API}/{name}", json=example["value"], headers=BEARER)).status_code == 201
    assert await conn.fetchval("SELECT count(*) FROM participants WHERE verified_at IS NOT NULL") == 2
    patched = examples_of(spec, f"{API}/me", "patch")
    assert set(patched) == {"new_topic", "english"}
