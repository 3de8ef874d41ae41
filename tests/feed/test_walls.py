"""Issue 12, walls 1 and 2 through the app: the session keeps the card order (Undo brings back exactly the
card answered, a reload shows the card on screen, "2 of 3"), the dead ends say what to do (tips from the
profile, the capacity link), and the weekly digest of new people is opt-in, once a week, only with news,
exactly once, with a one-click unsubscribe."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg
import httpx
from arq.connections import ArqRedis
from asyncpg import Connection

from service.feed import digest
from service.feed import tasks as feed_tasks
from service.kit.config import Settings
from service.mail import service as mail
from service.matching import service as matching
from tests.conftest import post_form
from tests.factories import MakeParticipant
from tests.support import sign_in_participant

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)


def card_name(page: str) -> str | None:
    """The name on the card the page shows, or None when the card is hidden."""
    article = re.search(r'<article class="card" data-card[^>]*>', page)
    found = re.search(r'<h2 id="card-name"[^>]*>([^<]*)</h2>', page)
    return None if article is None or " hidden" in article.group(0) or found is None else found.group(1)


def progress(page: str) -> str | None:
    found = re.search(r'<span data-field="progress">([^<]*)</span>', page)
    return found.group(1) if found else None


async def answer(client: httpx.AsyncClient, page: str, choice: str) -> str:
    """Press one of the card's buttons (the plain form) and return the page it leads to."""
    action = re.search(r'action="(/me/suggestions/[^"]+)" class="card-answers"', page)
    assert action, page
    await post_form(client, action.group(1).replace("&#34;", '"'), {"answer": choice})
    return (await client.get("/me/suggestions")).text


async def push_down(conn: Connection, participant_id: int) -> None:
    """Many showings of one candidate meanwhile: the ranker's exposure term moves them down for everyone."""
    config = matching.ranker_config(matching.model_name(Settings()))
    for _ in range(30):
        await matching.record_exposure(conn, [participant_id], config)


async def test_undo_brings_back_exactly_the_card_answered_and_a_reload_shows_the_card_on_screen(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record], make_participant: MakeParticipant,
) -> None:
    student, _company, _municipality = people
    await make_participant("company", name="Toten Sikkerhet AS", domains=["cyber_ict"],
                           offers=["Masteroppgave om sikkerhet i SCADA og industrielle nettverk"],
                           seeks=["Studenter som kan Python"])
    await sign_in_participant(client, conn, student["id"])
    page = (await client.get("/me/suggestions")).text
    first = card_name(page)
    assert first is not None and progress(page) == "1 av 3"
    assert card_name((await client.get("/me/suggestions")).text) == first  # a reload: the same card

    page = await answer(client, page, "not_now")
    second = card_name(page)
    assert second not in (None, first) and progress(page) == "2 av 3"
    first_id = await conn.fetchval("SELECT id FROM participants WHERE name = $1", first)
    await push_down(conn, first_id)
    assert card_name((await client.get("/me/suggestions")).text) == second  # the order holds for the session

    await post_form(client, "/me/suggestions/undo", {})
    page = (await client.get("/me/suggestions")).text
    assert card_name(page) == first and progress(page) == "1 av 3"
    assert f"Svaret ditt til {first} er trukket tilbake" in page
    assert card_name((await client.get("/me/suggestions")).text) == first


async def test_the_json_feed_keeps_the_same_order_and_undo_returns_the_card(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record],
) -> None:
    student, _, _ = people
    await sign_in_participant(client, conn, student["id"])
    api = "/api/v1/participants/me/feed"
    shown = (await client.get(api)).json()
    assert shown["progress"]["label"] == "1 av 2" and shown["progress"]["total"] == 2
    first = shown["card"]["external_id"]
    assert (await client.get(api)).json()["card"]["external_id"] == first
    answered = (await client.post(f"{api}/answers", json={"candidate": first, "answer": "not_now"})).json()
    assert answered["next"]["card"]["external_id"] != first and answered["next"]["progress"]["position"] == 2
    undone = (await client.post(f"{api}/undo", json={})).json()
    assert undone["next"]["card"]["external_id"] == first and undone["next"]["progress"]["position"] == 1


async def test_an_empty_feed_gives_the_tips_that_apply_and_offers_the_digest(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record],
) -> None:
    student, _, _ = people
    await sign_in_participant(client, conn, student["id"])
    page = (await client.get("/me/suggestions")).text
    page = await answer(client, page, "not_now")
    page = await answer(client, page, "not_now")
    assert card_name(page) is None and "Slik kan du møte flere" in page
    # Sigrid seeks only a thesis, in one domain, with two interests written in Norwegian.
    tips = re.findall(r'data-tip="(\w+)"', page)
    assert tips == ["engagements", "domains", "language", "interests"]
    assert "Send meg e-post om nye som passer meg" in page

    assert (await post_form(client, "/me/digest", {"action": "on"})).status_code == 303
    page = (await client.get("/me/suggestions")).text
    assert "Ferdig: vi sender deg en e-post" in page and "Stopp disse e-postene" in page
    assert await conn.fetchval("SELECT count(*) FROM participant_digests WHERE participant_id = $1", student["id"])
    download = (await client.get("/me/data.json")).json()
    assert download["digest"]["subscribed_at"] and download["digest"]["last_sent_at"] is None
    await post_form(client, "/me/digest", {"action": "off"})
    assert (await client.get("/me/data.json")).json()["digest"] is None
    assert not await conn.fetchval("SELECT count(*) FROM participant_digests")
    bad = await post_form(client, "/me/digest", {"action": "maybe"})
    assert bad.status_code == 422 and "action" in bad.text


async def test_the_digest_names_only_new_people_at_most_weekly_exactly_once(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record], settings: Settings,
    make_participant: MakeParticipant, arq_redis: ArqRedis,
) -> None:
    student, _, _ = people
    await digest.subscribe(conn, settings, student)  # the two who fit now are known: not news
    ctx = {"pool": _OnePool(conn), "settings": settings, "redis": arq_redis}
    assert await feed_tasks.send_digests(ctx, NOW) == 0

    await make_participant("company", name="Mjøsa OT AS", email="ot@mjosa.example", domains=["cyber_ict"],
                           offers=["Masteroppgave om sikkerhet i industrielle styringssystemer"],
                           seeks=["Studenter med Python"])
    assert await feed_tasks.send_digests(ctx, NOW) == 1
    assert await feed_tasks.send_digests(ctx, NOW) == 0  # run again (another worker): nothing twice
    rows = await conn.fetch("SELECT * FROM outbox WHERE template = 'feed_digest'")
    assert len(rows) == 1 and rows[0]["to_address"] == "sigrid@example.no"
    assert "Mjøsa OT AS" in rows[0]["body_text"] and "Raufoss OT" not in rows[0]["body_text"]
    assert rows[0]["subject"] == "Nye som passer deg i Koble"
    message = mail.to_message("koble@example.no", rows[0], rows[0]["unsubscribe_url"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    await make_participant("company", name="Gjøvik Nett AS", domains=["cyber_ict"],
                           offers=["Masteroppgave om nettverkssikkerhet i SCADA"], seeks=["Studenter med Python"])
    assert await feed_tasks.send_digests(ctx, NOW + dt.timedelta(days=3)) == 0  # at most weekly
    assert await feed_tasks.send_digests(ctx, NOW + dt.timedelta(days=8)) == 1
    assert await feed_tasks.send_digests(ctx, NOW + dt.timedelta(days=16)) == 0  # nobody new since

    url = rows[0]["unsubscribe_url"]
    path = url[url.index("/api/"):]
    assert (await client.post(path.replace("/digest/", "/digest/x"))).status_code == 404
    assert (await client.post(path)).status_code == 200  # one click, no cookie, no CSRF token (RFC 8058)
    assert not await conn.fetchval("SELECT count(*) FROM participant_digests")


async def test_the_digest_links_page_asks_before_it_stops(
    client: httpx.AsyncClient, conn: Connection, people: list[asyncpg.Record], settings: Settings,
) -> None:
    student, _, _ = people
    await digest.subscribe(conn, settings, student)
    token = digest.sign(settings, student["id"])
    page = await client.get(f"/unsubscribe/digest/{token}")
    assert page.status_code == 200 and "Stopp e-post om nye" in page.text
    assert await conn.fetchval("SELECT count(*) FROM participant_digests") == 1  # a GET changes nothing
    assert (await client.get("/unsubscribe/digest/forged")).status_code == 404
    done = await post_form(client, f"/unsubscribe/digest/{token}", {})
    assert done.status_code == 200 and "er slått av" in done.text
    assert await conn.fetchval("SELECT count(*) FROM participant_digests") == 0


class _OnePool:
    """The worker context's pool, backed by the test's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def acquire(self) -> _OnePool:
        return self

    async def __aenter__(self) -> Connection:
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        return None
