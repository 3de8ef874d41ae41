"""The participant side of matching without JavaScript: one card at a time, Interested / Not now, undo,
mutual matches with emails through the real SMTP server, declines reviewed and reversed, capacity,
and the staff-first mode where the feed holds the introductions staff made."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from asyncpg import Connection
from pgvector.asyncpg import register_vector

from service.app import create_app
from service.feed import service as feed_service
from service.feed.schemas import AtCapacity
from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from tests.conftest import Mailbox, body_text, post_form, run_worker
from tests.factories import MakeParticipant, create_match
from tests.support import sign_in_participant

People = dict[str, Any]

@pytest.fixture
async def second(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same app (its own cookies)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


def card_name(page: str) -> str | None:
    """The name on the card the page shows, or None when the card is hidden."""
    article = re.search(r'<article class="card" data-card[^>]*>', page)
    if article is None or " hidden" in article.group(0):
        return None
    found = re.search(r'<h2 id="card-name"[^>]*>([^<]*)</h2>', page)
    return found.group(1) if found and found.group(1) else None


async def answer(client: httpx.AsyncClient, page: str, choice: str) -> httpx.Response:
    """Press one of the card's two buttons (a plain form post) and follow the redirect."""
    action = re.search(r'action="(/me/suggestions/[^"]+)" class="card-answers"', page)
    assert action, page
    response = await post_form(client, html.unescape(action.group(1)), {"answer": choice})
    assert response.status_code == 303 and response.headers["location"] == "/me/suggestions"
    return await client.get("/me/suggestions")


async def test_both_say_interested_and_both_see_the_match_and_get_an_email(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record],
    settings: Settings, mailbox: Mailbox,
) -> None:
    student, company, _ = people
    await sign_in_participant(client, conn, student["id"])
    page = (await client.get("/me/suggestions")).text
    first = card_name(page)
    assert first in ("Raufoss OT Security AS", "Vestre Toten kommune")
    assert "Interessert" in page and "Ikke nå" in page and not re.search(r"\d\.\d", page)  # no raw scores
    if first != "Raufoss OT Security AS":
        page = (await answer(client, page, "not_now")).text
    assert card_name(page) == "Raufoss OT Security AS"
    assert "Bedrift" in page and "Master thesis on securing industrial control systems" in page
    page = (await answer(client, page, "interested")).text
    assert "Du sa at du er interessert i Raufoss OT Security AS" in page
    assert card_name(page) != "Raufoss OT Security AS"

    await sign_in_participant(second, conn, company["id"])
    page = (await second.get("/me/suggestions?lang=en")).text
    assert card_name(page) == "Sigrid Haugen" and "Interested" in page and "Student" in page
    page = (await answer(second, page, "interested")).text
    assert "Match! You and Sigrid Haugen both said yes." in page

    mine = (await client.get("/me/matches")).text
    assert "Raufoss OT Security AS" in mine and "jobs@raufoss-ot.example" in mine and "Begge interessert" in mine
    theirs = (await second.get("/me/matches")).text
    assert "Sigrid Haugen" in theirs and "sigrid@example.no" in theirs and "Both interested" in theirs
    match = await conn.fetchrow("SELECT state, origin FROM matches")
    assert match is not None and (match["state"], match["origin"]) == ("mutual", "participants")

    await run_worker(settings)
    assert "jobs@raufoss-ot.example" in body_text(mailbox.to("sigrid@example.no")[0])
    assert mailbox.to("jobs@raufoss-ot.example")[0]["Subject"] == "You and Sigrid Haugen both said yes"


async def test_not_now_hides_for_good_until_taken_back_on_the_declines_page(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record]
) -> None:
    await sign_in_participant(client, conn, people[0]["id"])
    page = (await client.get("/me/suggestions")).text
    first = card_name(page)
    page = (await answer(client, page, "not_now")).text
    assert card_name(page) not in (first, None)
    page = (await answer(client, page, "not_now")).text
    assert card_name(page) is None and "Ingen flere forslag" in page
    assert first is not None and first not in (await client.get("/me/suggestions")).text.split('class="feed-links"')[0]

    declined = (await client.get("/me/declined")).text
    assert "Raufoss OT Security AS" in declined and "Vestre Toten kommune" in declined
    company = people[1]["external_id"]
    response = await post_form(client, f"/me/declined/{company}", {})
    assert response.status_code == 303 and response.headers["location"] == "/me/declined"
    declined = (await client.get("/me/declined")).text
    assert "Du trakk tilbake «Ikke nå» for Raufoss OT Security AS" in declined
    assert "Raufoss OT Security AS" not in declined.split('class="feed-rows"')[1]
    assert card_name((await client.get("/me/suggestions")).text) == "Raufoss OT Security AS"


async def test_undo_takes_back_the_last_answer_but_not_one_that_made_a_match(
    client: httpx.AsyncClient, second: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record]
) -> None:
    student, company, _ = people
    await sign_in_participant(client, conn, student["id"])
    page = (await client.get("/me/suggestions")).text
    first = card_name(page)
    assert 'class="feed-undo" data-undo hidden' in page  # nothing to undo yet
    page = (await answer(client, page, "interested")).text
    assert f"Angre «Interessert» for {first}" in page
    response = await post_form(client, "/me/suggestions/undo", {})
    assert response.status_code == 303
    page = (await client.get("/me/suggestions")).text
    assert card_name(page) == first and "er trukket tilbake" in page
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0

    await conn.execute("INSERT INTO answers (participant_id, candidate_id, answer) VALUES ($1, $2, 'interested')",
                       company["id"], student["id"])
    await post_form(client, f"/me/suggestions/{company['external_id']}", {"answer": "interested"})
    await client.get("/me/suggestions")
    await post_form(client, "/me/suggestions/undo", {})
    page = (await client.get("/me/suggestions")).text
    assert "kan ikke endres lenger" in page
    assert await conn.fetchval("SELECT state FROM matches") == "mutual"


async def test_at_capacity_there_are_no_new_suggestions_and_the_page_says_why(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record], settings: Settings
) -> None:
    student, company, municipality = people
    student = await conn.fetchrow("UPDATE participants SET capacity = 1 WHERE id = $1 RETURNING *", student["id"])
    await matches.create(conn, settings, (student["id"], municipality["id"]), "mutual", "participants",
                          Actor.system())
    await sign_in_participant(client, conn, student["id"])
    page = (await client.get("/me/suggestions")).text
    # Singular after 1 (issue 12, wall 2), the way to change the number, and the match that fills it.
    assert card_name(page) is None and "Du har 1 aktiv kobling, og" in page
    assert 'href="/me/edit#capacity"' in page and "Endre hvor mange du kan ta om gangen" in page
    assert "Koblingene dine som pågår" in page and "Vestre Toten kommune" in page
    await post_form(client, f"/me/suggestions/{company['external_id']}", {"answer": "interested"})
    assert "du kan ta 1 om gangen" in (await client.get("/me/suggestions")).text
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0
    with pytest.raises(AtCapacity):
        await feed_service.answer(conn, None, settings, student, company["external_id"], "interested")


async def test_the_capacity_message_agrees_with_its_number_in_both_languages(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record], settings: Settings
) -> None:
    student, company, municipality = people
    await conn.execute("UPDATE participants SET capacity = 2 WHERE id = $1", student["id"])
    for other in (company, municipality):
        await matches.create(conn, settings, (student["id"], other["id"]), "mutual", "participants", Actor.system())
    await sign_in_participant(client, conn, student["id"])
    assert "Du har 2 aktive koblinger, og du har sagt at du kan ta 2 om gangen" in (
        await client.get("/me/suggestions")).text
    english = (await client.get("/me/suggestions?lang=en")).text
    assert "You have 2 active matches, and you said you can take 2 at a time" in english
    assert "when one of them is finished" in english


async def test_two_yeses_at_the_same_moment_make_exactly_one_match(
    pg_url: str, conn: Connection, people: list[asyncpg.Record], settings: Settings
) -> None:
    student, company, _ = people
    first, other = await asyncpg.connect(pg_url), await asyncpg.connect(pg_url)
    for connection in (first, other):
        await register_vector(connection)  # as the app's pool does: the introductions read interest vectors
    try:
        outcomes = await asyncio.gather(
            feed_service.answer(first, None, settings, student, company["external_id"], "interested"),
            feed_service.answer(other, None, settings, company, student["external_id"], "interested"),
        )
    finally:
        await first.close()
        await other.close()
    assert [o.match is not None for o in outcomes].count(True) == 1
    assert await conn.fetchval("SELECT count(*) FROM matches WHERE state = 'mutual'") == 1


async def test_ids_with_slashes_and_spaces_can_be_answered_and_taken_back(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, sigrid: People,
    raufoss_ot: People,
) -> None:
    student = await make_participant(**sigrid, external_id="ntnu/stud 42", source="import")
    await make_participant(**raufoss_ot, external_id="brreg/9 876", source="import")
    await sign_in_participant(client, conn, student["id"])
    page = (await client.get("/me/suggestions")).text
    assert 'action="/me/suggestions/brreg/9%20876"' in page
    await answer(client, page, "not_now")
    assert "Raufoss OT Security AS" in (await client.get("/me/declined")).text
    response = await post_form(client, "/me/declined/brreg/9%20876", {})
    assert response.status_code == 303 and await conn.fetchval("SELECT count(*) FROM answers") == 0


async def test_my_page_links_to_the_cards_and_the_navigation_has_them(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record]
) -> None:
    await sign_in_participant(client, conn, people[0]["id"])
    page = (await client.get("/me")).text
    assert 'href="/me/suggestions"' in page and 'href="/me/matches"' in page
    assert 'class="suggestions"' not in page  # the old list is gone: suggestions are answered one by one
    assert (await client.get("/me/matches")).status_code == 200
    assert "Ingen koblinger ennå" in (await client.get("/me/matches")).text


async def test_pages_need_a_signed_in_participant(client: httpx.AsyncClient, people: list[asyncpg.Record]) -> None:
    for url in ("/me/suggestions", "/me/matches", "/me/declined"):
        response = await client.get(url)
        assert response.status_code == 303 and response.headers["location"] == "/signin"


async def test_answering_someone_who_cannot_be_suggested_is_not_found(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record], make_participant: MakeParticipant,
    sigrid: People,
) -> None:
    other_student = await make_participant(**{**sigrid, "email": "ola@example.no", "name": "Ola"})
    await sign_in_participant(client, conn, people[0]["id"])
    await client.get("/me/suggestions")
    for target in (other_student["external_id"], people[0]["external_id"], "nobody"):
        response = await post_form(client, f"/me/suggestions/{target}", {"answer": "interested"})
        assert response.status_code == 404
    response = await post_form(client, f"/me/suggestions/{people[1]['external_id']}", {"answer": "maybe"})
    assert response.status_code == 422
    assert await conn.fetchval("SELECT count(*) FROM answers") == 0


# --- staff_first: the feed holds introductions ---


@pytest.fixture
async def staff_first_app(settings: Settings) -> AsyncIterator[Any]:
    """The app in staff-first mode."""
    application = create_app(settings.model_copy(update={"match_mode": "staff_first"}))
    async with LifespanManager(application) as manager:
        yield manager.app


async def _introduced(conn: Connection, settings: Settings, x: int, y: int) -> int:
    row = await create_match(conn, settings, x, y, score=0.5)
    await matches.transition(conn, settings, row["id"], "approved", Actor.staff(None, "api token"))
    await matches.transition(conn, settings, row["id"], "introduced", Actor.system())
    match_id: int = row["id"]
    return match_id


async def test_staff_first_feed_shows_introductions_and_two_yeses_make_them_mutual(
    staff_first_app: Any, conn: Connection, people: list[asyncpg.Record], settings: Settings
) -> None:
    student, company, municipality = people
    to_company = await _introduced(conn, settings, student["id"], company["id"])
    to_municipality = await _introduced(conn, settings, student["id"], municipality["id"])
    transport = httpx.ASGITransport(app=staff_first_app)
    async with (httpx.AsyncClient(transport=transport, base_url="http://testserver") as mine,
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as theirs):
        await sign_in_participant(mine, conn, student["id"])
        page = (await mine.get("/me/suggestions")).text
        assert card_name(page) == "Raufoss OT Security AS" and "har satt deg i kontakt" in page
        page = (await answer(mine, page, "interested")).text
        assert card_name(page) == "Vestre Toten kommune"
        page = (await answer(mine, page, "not_now")).text
        # The introduction to the company waits for its answer; nobody else is introduced yet.
        assert card_name(page) is None and "Ingen nye introduksjoner akkurat nå" in page

        await sign_in_participant(theirs, conn, company["id"])
        page = (await theirs.get("/me/suggestions?lang=en")).text
        assert card_name(page) == "Sigrid Haugen"
        page = (await answer(theirs, page, "interested")).text
        assert "Match! You and Sigrid Haugen" in page
        # Someone never introduced is not in a staff-first feed, whatever the ranker thinks.
        response = await post_form(theirs, f"/me/suggestions/{municipality['external_id']}", {"answer": "interested"})
        assert response.status_code == 404

        states = dict(await conn.fetch("SELECT id, state FROM matches"))
        assert states == {to_company: "mutual", to_municipality: "declined"}
        matches = (await mine.get("/me/matches")).text
        assert "jobs@raufoss-ot.example" in matches and "post@vestre-toten.example" not in matches
        assert "Begge interessert" in matches and "Takket nei" in matches
