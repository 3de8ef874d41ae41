"""The answers the hardening promises for each malformed input of issue 15 (findings 5 and 12), one by one."""

from __future__ import annotations

import base64

import httpx
from asyncpg import Connection

from service.kit.config import Settings
from service.kit.security import clean_cookie_header
from tests.conftest import API_TOKEN, post_form
from tests.factories import MakeMatch, MakeParticipant, MakeStaff
from tests.support import sign_in_as

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_malformed_cookie_pairs_are_dropped_and_the_rest_kept() -> None:
    assert clean_cookie_header(b"a=b; $x=1; koble_session=abc.def==") == b"a=b; koble_session=abc.def=="
    assert clean_cookie_header(b"lang=\xff\xfe; csrftoken=x") == b"csrftoken=x"
    assert clean_cookie_header(b"path=/; secure") is None


async def test_a_bad_cookie_header_is_treated_as_those_cookies_absent(client: httpx.AsyncClient) -> None:
    answer = await client.get("/", headers={"cookie": "a=b; $x=1; lang=en"})
    assert answer.status_code == 200 and 'lang="en"' in answer.text


async def test_ids_past_the_bound_are_422_and_unknown_ones_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/matches/9223372036854775808", "/api/v1/matches/9007199254740992", "/api/v1/matches/0"):
        answer = await client.get(path, headers=AUTH)
        assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "match_id", path
    assert (await client.get("/api/v1/matches/9007199254740991", headers=AUTH)).status_code == 404


async def test_ids_and_cursors_on_pages_are_bounded(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_staff: MakeStaff,
) -> None:
    await sign_in_as(client, conn, settings, staff_id=(await make_staff("admin"))["id"])
    assert (await client.get("/staff/audit?before=²")).status_code == 200
    assert (await client.get("/staff/matches/99999999999999999999")).status_code == 422
    cursor = base64.urlsafe_b64encode(b"1e39:1").decode()
    assert (await client.get(f"/staff/queue?cursor={cursor}")).status_code == 200
    assert (await client.get("/api/v1/review/queue?cursor=1e39:1")).status_code == 422


async def test_control_characters_are_refused_naming_where(client: httpx.AsyncClient) -> None:
    in_query = await client.get("/api/v1/review/queue?q=a%00b", headers=AUTH)
    assert in_query.status_code == 400 and in_query.json()["detail"].startswith("query: q:")
    in_path = await client.get("/api/v1/participants/a%00b", headers=AUTH)
    assert in_path.status_code == 400 and in_path.json()["detail"].startswith("path:")
    body = {"kind": "student", "name": "Ola\x00", "email": "ola@example.no", "domains": ["cyber_ict"],
            "offers": ["Python\nog\tSQL"], "consent": True}
    in_body = await client.post("/api/v1/participants", json=body)
    assert in_body.status_code == 422
    assert [(e["field"], e["type"]) for e in in_body.json()["detail"]] == [("name", "control_character")]


async def test_the_registration_form_is_shown_again_naming_the_field(client: httpx.AsyncClient) -> None:
    answer = await post_form(client, "/register?lang=en", {
        "kind": "student", "name": "Ola\x07", "email": "ola@example.no", "domains": "cyber_ict",
        "offers": "Python", "consent": "yes",
    })
    assert answer.status_code == 422 and 'value="ola@example.no"' in answer.text
    assert "Remove the invisible control characters" in answer.text and 'href="#name"' in answer.text


async def test_bodies_that_are_not_utf8_or_are_uploads_are_4xx(client: httpx.AsyncClient) -> None:
    json_body = await client.post("/api/v1/review/bulk-approve", content=b"\xff", headers={
        **AUTH, "content-type": "application/json"})
    assert json_body.status_code == 422 and json_body.json()["detail"][0]["loc"] == ["body"]
    await client.get("/signin")
    form = await client.post("/signin", content=b"email=\xff", headers={
        "content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 400 and "UTF-8" in form.json()["detail"]
    upload = await client.post("/signin", files={"file": ("a.txt", b"x")})
    assert upload.status_code == 415


async def test_strict_types_where_the_schema_says_so(
    client: httpx.AsyncClient, make_participant: MakeParticipant, make_match: MakeMatch,
) -> None:
    match = await make_match(await make_participant(embed=False), await make_participant("company", embed=False))
    coerced = await client.post("/api/v1/review/bulk-approve", json={"match_ids": [False, str(match["id"])]},
                                headers=AUTH)
    assert coerced.status_code == 422 and {e["field"] for e in coerced.json()["detail"]} == {"match_ids.0",
                                                                                              "match_ids.1"}
    dated = await client.put("/api/v1/participants/x1", headers=AUTH, json={
        "kind": "student", "name": "Ola", "email": "ola@example.no", "domains": ["cyber_ict"], "offers": "Python",
        "available_from": 0})
    assert dated.status_code == 422 and dated.json()["detail"][0]["field"] == "available_from"


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    answer = await client.request("OPTIONS", "/api/v1/participants/me")
    assert answer.status_code == 405 and answer.headers["allow"] == "DELETE, GET, PATCH"


async def test_the_schema_states_the_rules_it_enforces(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    models = schema["components"]["schemas"]
    assert models["ParticipantCreate"]["properties"]["consent"]["const"] is True
    assert {branch.get("type") for branch in models["ParticipantCreate"]["properties"]["seeks"]["anyOf"]} == {
        "string", "array"}
    assert models["TransitionIn"]["then"]["required"] == ["reason"]
    responses = schema["paths"]["/api/v1/matches/{match_id}"]["get"]["responses"]
    assert {"401", "403", "404", "422", "400"} <= set(responses)


async def test_sign_in_and_staff_forms_are_shown_again_with_the_error(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_staff: MakeStaff,
    make_participant: MakeParticipant, make_match: MakeMatch,
) -> None:
    signin = await post_form(client, "/signin?lang=en", {"email": "ola\x00@example.no"})
    assert signin.status_code == 422 and "Enter a valid email address" in signin.text
    match = await make_match(await make_participant(embed=False), await make_participant("company", embed=False))
    await sign_in_as(client, conn, settings, staff_id=(await make_staff())["id"])
    rejected = await post_form(client, f"/staff/queue/{match['id']}/reject?lang=en", {"reason": "No\x00 fit"})
    assert rejected.status_code == 422 and "Remove the invisible control characters" in rejected.text
    assert await conn.fetchval("SELECT state FROM matches WHERE id = $1", match["id"]) == "suggested"
