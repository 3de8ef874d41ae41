"""The feed's JSON API (what static/feed.js calls): next card, answer, undo — the participant's session only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg import Connection

from tests.factories import MakeParticipant
from tests.support import sign_in_participant

FEED = "/api/v1/participants/me/feed"


@pytest.fixture
async def second(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app (its own cookies)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def test_without_a_session_the_feed_is_refused(client: httpx.AsyncClient, conn: Connection) -> None:
    assert (await client.get(FEED)).status_code == 401
    response = await client.post(f"{FEED}/answers", json={"candidate": "x", "answer": "interested"})
    assert response.status_code == 401


async def test_answer_undo_and_a_mutual_match_through_the_api(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record]
) -> None:
    student, company, _ = people
    await sign_in_participant(client, conn, student["id"])
    feed = (await client.get(f"{FEED}?lang=en")).json()
    card = feed["card"]
    assert feed["reason"] is None and feed["undo"] is None and "score" not in card
    assert card["kind_label"] in ("Company", "Public body") and card["answer_url"].startswith("/me/suggestions/")
    assert card["explanation"].startswith(("You look for", "They look for"))

    answered = (await client.post(f"{FEED}/answers", json={"candidate": card["external_id"], "answer": "interested"}))
    body = answered.json()
    assert answered.status_code == 200 and body["match"] is None
    assert body["next"]["card"]["external_id"] != card["external_id"]
    assert body["next"]["undo"]["external_id"] == card["external_id"]

    undone = (await client.post(f"{FEED}/undo", json={})).json()
    assert undone["next"]["card"]["external_id"] == card["external_id"] and undone["next"]["undo"] is None
    refused = await client.post(f"{FEED}/undo", json={})
    assert refused.status_code == 409 and refused.json()["detail"]["field"] == "answer"

    await client.post(f"{FEED}/answers", json={"candidate": company["external_id"], "answer": "interested"})
    await sign_in_participant(second, conn, company["id"])
    made = (await second.post(f"{FEED}/answers", json={"candidate": student["external_id"], "answer": "interested"}))
    assert made.json()["match"]["state"] == "mutual"
    cannot = await client.post(f"{FEED}/undo", json={})
    assert cannot.status_code == 409 and "Both interested" in cannot.json()["detail"]["msg"]


async def test_bad_answers_name_the_field(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, sigrid: dict[str, Any],
    raufoss_ot: dict[str, Any],
) -> None:
    rows = [await make_participant(**sigrid), await make_participant(**raufoss_ot)]
    await sign_in_participant(client, conn, rows[0]["id"])
    response = await client.post(f"{FEED}/answers", json={"candidate": rows[1]["external_id"], "answer": "maybe"})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "answer"
    response = await client.post(f"{FEED}/answers", json={"candidate": "nobody", "answer": "interested"})
    assert response.status_code == 404 and response.json()["detail"].startswith("candidate:")
    # A form from another site cannot send JSON without a preflight, so forms are refused here: with the
    # session cookie by the CSRF check (issue 15, finding 6), without it as not JSON.
    response = await client.post(f"{FEED}/answers", data={"candidate": rows[1]["external_id"], "answer": "interested"})
    assert response.status_code == 403 and response.json()["detail"].startswith("csrf:")
    client.cookies.clear()
    response = await client.post(f"{FEED}/answers", data={"candidate": rows[1]["external_id"], "answer": "interested"})
    assert response.status_code == 415
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0
