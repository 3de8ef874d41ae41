"""Issue 15, finding 7: the feed's answers accept only candidates the rules allow (docs/contracts.md §6).

A guessed external id of someone the ranker would never show (no shared domain, no common kind of
collaboration, at capacity, declined me) is refused exactly like an unknown id: the same 404, no
name, no answer stored, and two "interested" across such a pair never make a match.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asyncpg import Connection

from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from tests.conftest import post_form
from tests.factories import MakeParticipant
from tests.support import sign_in_participant

FEED = "/api/v1/participants/me/feed/answers"
People = dict[str, Any]


@pytest.fixture
async def second(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app (its own cookies)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def _refused_like_an_unknown_id(client: httpx.AsyncClient, candidate: asyncpg.Record) -> None:
    unknown = await client.post(FEED, json={"candidate": "nobody-at-all", "answer": "interested"})
    refused = await client.post(FEED, json={"candidate": candidate["external_id"], "answer": "interested"})
    assert (refused.status_code, unknown.status_code) == (404, 404)
    assert refused.json()["detail"] == unknown.json()["detail"].replace("nobody-at-all", candidate["external_id"])
    assert candidate["name"] not in refused.text
    page = await post_form(client, f"/me/suggestions/{candidate['external_id']}", {"answer": "interested"})
    assert page.status_code == 404 and candidate["name"] not in page.text


@pytest.mark.parametrize("change", [
    {"domains": ["bioeconomy"]},  # no shared domain
    {"engagements": ["summer_job"]},  # the student wants a thesis only
    {"available_from": "2030-01-01", "available_until": "2030-02-01"},
])
async def test_a_candidate_the_rules_exclude_is_refused_and_never_matched(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant,
    sigrid: People, raufoss_ot: People, change: People,
) -> None:
    student = await make_participant(**{**sigrid, "available_until": "2027-06-30"})
    company = await make_participant(**{**raufoss_ot, **change})
    await sign_in_participant(client, conn, student["id"])
    await sign_in_participant(second, conn, company["id"])
    await _refused_like_an_unknown_id(client, company)
    await _refused_like_an_unknown_id(second, student)
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0
    assert await conn.fetchval("SELECT count(*) FROM matches") == 0


async def test_a_candidate_at_capacity_or_who_declined_me_is_refused(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, make_participant: MakeParticipant,
    sigrid: People, raufoss_ot: People, vestre_toten: People,
) -> None:
    student = await make_participant(**sigrid)
    company = await make_participant(**{**raufoss_ot, "capacity": 1})
    municipality = await make_participant(**vestre_toten)
    other = await make_participant(**{**sigrid, "name": "Ola", "email": "ola@example.no"})
    await matches.create(conn, settings, (other["id"], company["id"]), "mutual", "participants", Actor.system())
    await matches.save_answer(conn, municipality["id"], student["id"], "not_now")
    await sign_in_participant(client, conn, student["id"])
    await _refused_like_an_unknown_id(client, company)
    await _refused_like_an_unknown_id(client, municipality)
    assert await conn.fetchval("SELECT count(*) FROM answers WHERE participant_id = $1", student["id"]) == 0


async def test_a_candidate_the_rules_allow_is_answered_as_before(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, sigrid: People,
    raufoss_ot: People,
) -> None:
    student = await make_participant(**sigrid)
    company = await make_participant(**raufoss_ot)
    await sign_in_participant(client, conn, student["id"])
    answered = await client.post(FEED, json={"candidate": company["external_id"], "answer": "interested"})
    assert answered.status_code == 200
    assert await conn.fetchval("SELECT answer FROM answers WHERE participant_id = $1", student["id"]) == "interested"
