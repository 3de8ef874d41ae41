"""The match page for both parties (issue 12, wall 5): the other party's profile, why they fit, the steps,
messages (batched emails, rate limit, data download, retention) and meetings (.ics by real SMTP).

Real Postgres, Redis, SMTP (aiosmtpd) and the arq worker (burst); clocks are passed in (`now`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from asyncpg import Connection
from icalendar import Calendar

from service.app import create_app
from service.kit.config import Settings
from service.matches import conversation
from service.matches import service as matches
from service.matches import tasks as matches_tasks
from service.matches.meetings import ConversationRefused
from service.profiles import service as profiles
from tests.conftest import Mailbox, body_text, post_form, run_jobs
from tests.factories import create_match, create_participant, create_parties, create_staff
from tests.support import sign_in_as, sign_in_staff

OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture
async def pair(conn: Connection, settings: Settings) -> tuple[int, int, int]:
    """Ola (nb student) and Raufoss Robotikk (en company), born `mutual` as two yeses in the feed make them."""
    ola, company = await create_parties(conn)
    match = await create_match(conn, settings, ola, company, "mutual", "participants")
    return ola, company, match["id"]


@pytest.fixture
async def other_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser: the other party."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def open_as(client: httpx.AsyncClient, conn: Connection, settings: Settings, participant_id: int,
                  path: str = "/me") -> None:
    """Sign in and open a page with a form (the CSRF cookie forms send back)."""
    await sign_in_as(client, conn, settings, participant_id=participant_id)
    await client.get(path)


def later(days: int = 3, hour: int = 14) -> dt.datetime:
    """A day ahead at a round hour, Oslo time."""
    day = dt.datetime.now(OSLO).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=OSLO)


def local(at: dt.datetime) -> str:
    """As a datetime-local field sends it."""
    return at.strftime("%Y-%m-%dT%H:%M")


def calendar_of(message: Message) -> Calendar:
    """The .ics attachment of an email, parsed."""
    parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_filename() == "koble-meeting.ics"
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


async def test_both_parties_see_the_profile_why_and_the_steps_and_go_back_to_their_matches(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, conn: Connection, settings: Settings,
    pair: tuple[int, int, int],
) -> None:
    ola, company, match_id = pair
    await open_as(client, conn, settings, ola)
    page = (await client.get(f"/me/matches/{match_id}")).text
    assert "<h1>Raufoss Robotikk AS</h1>" in page and "Students for robot cells" in page and "Summer jobs" in page
    assert '<p class="back"><a href="/me/matches">' in page  # back to the matches list, not the profile
    assert 'aria-current="step"' in page and "Begge interessert" in page
    assert re.search(r'step step-current" aria-current="step">\s*<span class="step-label">Begge interessert', page)
    assert re.search(r'<p class="match-why">\s*\S', page), "the explanation is shown"
    await open_as(other_client, conn, settings, company)
    english = (await other_client.get(f"/me/matches/{match_id}?lang=en")).text
    assert "<h1>Ola Nordmann</h1>" in english and "Python og maskinlæring" in english
    assert "Back to my matches" in english


async def test_a_third_person_gets_404_and_staff_see_counts_not_words(
    app: Any, client: httpx.AsyncClient, other_client: httpx.AsyncClient, conn: Connection, settings: Settings,
    pair: tuple[int, int, int],
) -> None:
    ola, _, match_id = pair
    await open_as(client, conn, settings, ola)
    sent = await post_form(client, f"/me/matches/{match_id}/messages", {"message": "Hei! Kan vi møtes?"})
    assert sent.status_code == 303
    stranger = await create_participant(conn, "student", embed=False)
    await open_as(other_client, conn, settings, stranger["id"])
    assert (await other_client.get(f"/me/matches/{match_id}")).status_code == 404
    for path, data in ((f"/me/matches/{match_id}/messages", {"message": "Hei"}),
                       (f"/me/matches/{match_id}/meetings", {"time": local(later()), "place": "Bright House"})):
        refused = await post_form(other_client, path, data)
        assert refused.status_code == 404 and "Hei! Kan vi møtes?" not in refused.text
    assert await conn.fetchval("SELECT count(*) FROM match_messages") == 1

    staff = await create_staff(conn, "reviewer", "per@brighthouse.example")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as desk:
        await sign_in_staff(desk, conn, staff["email"])
        assert (await desk.get(f"/me/matches/{match_id}", follow_redirects=False)).status_code in (303, 401)
        view = (await desk.get(f"/staff/matches/{match_id}")).text
    assert "1 melding" in view or "1 message" in view
    assert "Kan vi møtes" not in view


async def test_messages_show_to_the_other_party_and_their_emails_are_batched_exactly_once(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, conn: Connection, settings: Settings,
    pair: tuple[int, int, int], mailbox: Mailbox, pg_url: str, arq_redis: Any,
) -> None:
    ola, company, match_id = pair
    await open_as(client, conn, settings, ola)
    await open_as(other_client, conn, settings, company)
    for text in ("Hei! Når passer det?", "Vi kan møtes på Bright House.", "Linje en\nlinje to"):
        response = await post_form(client, f"/me/matches/{match_id}/messages", {"message": text})
        assert response.status_code == 303 and response.headers["location"].endswith("?sent=message#messages")
    page = (await other_client.get(f"/me/matches/{match_id}?lang=en")).text
    assert "Hei! Når passer det?" in page and "Linje en\nlinje to" in page
    await run_jobs()
    first = mailbox.to("post@robotikk.example")
    assert len(first) == 1 and "Hei! Når passer det?" in body_text(first[0])  # the first one goes at once
    assert "Vi kan møtes" not in body_text(first[0])
    assert f"/me/matches/{match_id}?lang=en#messages" in body_text(first[0])

    # Two workers sweep at once, after the quiet interval: one email with the two waiting messages.
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=settings.message_email_minutes + 1)
    second = await asyncpg.connect(pg_url)
    try:
        written = await asyncio.gather(conversation.notify_waiting(conn, settings, now),
                                       conversation.notify_waiting(second, settings, now))
    finally:
        await second.close()
    assert sorted(len(ids) for ids in written) == [0, 1]
    await matches.deliver(arq_redis, [*written[0], *written[1]])
    assert await conversation.notify_waiting(conn, settings, now + dt.timedelta(hours=1)) == []
    await run_jobs()
    emails = mailbox.to("post@robotikk.example")
    assert len(emails) == 2 and emails[1]["Subject"] == "2 new messages on Koble"
    assert "Vi kan møtes på Bright House." in body_text(emails[1]) and "Linje en" in body_text(emails[1])
    assert not mailbox.to("ola@example.no")


async def test_the_worker_job_sends_the_batch(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, pair: tuple[int, int, int], arq_redis: Any,
) -> None:
    ola, _, match_id = pair
    await open_as(client, conn, settings, ola)
    for text in ("En", "To"):
        await post_form(client, f"/me/matches/{match_id}/messages", {"message": text})
    ctx = {"pool": conn_pool(conn), "settings": settings, "redis": arq_redis}
    assert await matches_tasks.notify_messages(ctx) == 0  # within the quiet interval
    later_on = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=settings.message_email_minutes)
    assert await matches_tasks.notify_messages(ctx, later_on) == 1


def conn_pool(conn: Connection) -> Any:
    """A worker context's pool backed by the test's connection."""

    class Pool:
        def acquire(self) -> Any:
            return self

        async def __aenter__(self) -> Connection:
            return conn

        async def __aexit__(self, *exc: object) -> None:
            return None

    return Pool()


async def test_bad_input_names_the_field_and_keeps_what_was_written(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, conn: Connection, settings: Settings,
    pair: tuple[int, int, int],
) -> None:
    ola, company, match_id = pair
    await open_as(client, conn, settings, ola)
    empty = await post_form(client, f"/me/matches/{match_id}/messages", {"message": "   "})
    assert empty.status_code == 422 and 'id="message-error"' in empty.text and 'aria-invalid="true"' in empty.text

    past = dt.datetime.now(OSLO) - dt.timedelta(hours=2)
    cases = [
        ({"time": [local(later()), local(past)], "place": "Kantina"}, "time2", "Kantina"),
        ({"time": [local(later(d)) for d in (1, 2, 3, 4)], "place": "Kantina"}, "time", "Kantina"),
        ({"time": [local(later())], "place": "  "}, "place", local(later())),
        ({"time": ["neste tirsdag"], "place": "Bright House"}, "time1", "neste tirsdag"),
        ({"time": ["", "", ""], "place": "Bright House"}, "time1", "Bright House"),
    ]
    for data, field, kept in cases:
        response = await post_form(client, f"/me/matches/{match_id}/meetings", data)
        assert response.status_code == 422, (field, response.text[-500:])
        assert f'id="{field}-error"' in response.text and f"{field}:" in response.text, field
        assert kept in response.text, field
    assert await conn.fetchval("SELECT count(*) FROM match_meetings") == 0

    ok = await post_form(client, f"/me/matches/{match_id}/meetings", {"time": local(later()), "place": "Kantina"})
    assert ok.status_code == 303
    meeting_id = await conn.fetchval("SELECT id FROM match_meetings")
    own = await post_form(client, f"/me/matches/{match_id}/meetings/{meeting_id}", {"choice": later().isoformat()})
    assert own.status_code == 422 and 'id="choice-error"' in own.text  # the proposer does not choose
    await open_as(other_client, conn, settings, company)
    unknown = await post_form(other_client, f"/me/matches/{match_id}/meetings/{meeting_id}",
                              {"choice": later(9).isoformat()})
    assert unknown.status_code == 422 and "choice:" in unknown.text
    assert await conn.fetchval("SELECT status FROM match_meetings") == "proposed"


async def test_too_many_messages_are_refused_with_the_text_kept(
    conn: Connection, settings: Settings, pair: tuple[int, int, int],
) -> None:
    ola, _, match_id = pair
    strict = create_app(settings.model_copy(update={"rate_limit_messages": "2/hour"}))
    async with LifespanManager(strict) as manager, httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
    ) as http:
        await open_as(http, conn, settings, ola)
        for text in ("En", "To"):
            assert (await post_form(http, f"/me/matches/{match_id}/messages", {"message": text})).status_code == 303
        third = await post_form(http, f"/me/matches/{match_id}/messages", {"message": "Tre, for mange"})
    assert third.status_code == 429 and "Tre, for mange" in third.text and 'id="message-error"' in third.text
    assert await conn.fetchval("SELECT count(*) FROM match_messages") == 2


async def test_a_meeting_is_proposed_chosen_invited_by_ics_and_held(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, conn: Connection, settings: Settings,
    pair: tuple[int, int, int], mailbox: Mailbox,
) -> None:
    ola, company, match_id = pair
    await open_as(client, conn, settings, ola)
    await open_as(other_client, conn, settings, company)
    times = [later(2, 10), later(3, 14), later(4, 9)]
    proposed = await post_form(client, f"/me/matches/{match_id}/meetings",
                               {"time": [local(at) for at in times], "place": "Bright House, Gjøvik"})
    assert proposed.status_code == 303
    await run_jobs()
    invite = mailbox.wait_for("post@robotikk.example")
    assert invite["Subject"] == "Ola Nordmann proposes a meeting" and "Bright House, Gjøvik" in body_text(invite)

    page = (await other_client.get(f"/me/matches/{match_id}?lang=en")).text
    assert page.count('name="choice"') == 3
    meeting_id = await conn.fetchval("SELECT id FROM match_meetings")
    chosen = await post_form(other_client, f"/me/matches/{match_id}/meetings/{meeting_id}",
                             {"choice": times[1].isoformat()})
    assert chosen.status_code == 303
    await run_jobs()
    for address in ("ola@example.no", "post@robotikk.example"):
        email = mailbox.to(address)[-1]
        event = calendar_of(email).walk("VEVENT")[0]
        assert event.decoded("dtstart") == times[1] and event["location"] == "Bright House, Gjøvik"
        assert event.decoded("dtend") - event.decoded("dtstart") == dt.timedelta(hours=1)
        assert str(event["uid"]).startswith(f"koble-match-meeting-{meeting_id}@")
    assert "Ola Nordmann" in mailbox.to("post@robotikk.example")[-1]["Subject"] or \
        "Meeting with Ola Nordmann" in mailbox.to("post@robotikk.example")[-1]["Subject"]

    # Confirming that it was held moves the match on, through the lifecycle's own "we met".
    confirm = await post_form(client, f"/me/matches/{match_id}", {"action": "met"})
    assert confirm.status_code == 303
    assert await conn.fetchval("SELECT state FROM matches WHERE id = $1", match_id) == "meeting_held"
    after = (await client.get(f"/me/matches/{match_id}")).text
    assert re.search(r'step step-current" aria-current="step">\s*<span class="step-label">Møtt', after)


async def test_the_data_download_holds_messages_and_meeting_times(
    client: httpx.AsyncClient, other_client: httpx.AsyncClient, conn: Connection, settings: Settings,
    pair: tuple[int, int, int],
) -> None:
    ola, company, match_id = pair
    await open_as(client, conn, settings, ola)
    await post_form(client, f"/me/matches/{match_id}/messages", {"message": "Hei fra Ola"})
    await post_form(client, f"/me/matches/{match_id}/meetings", {"time": local(later()), "place": "Bright House"})
    await open_as(other_client, conn, settings, company)
    data = (await other_client.get("/me/data.json")).json()
    assert data["messages"] == [{"match_id": match_id, "sent_by_me": False, "body": "Hei fra Ola",
                                 "created_at": data["messages"][0]["created_at"]}]
    assert data["meetings"][0]["times"] == [later().isoformat()] and data["meetings"][0]["status"] == "proposed"
    assert data["profile"]["email"] == "post@robotikk.example"


async def test_conversations_are_kept_until_the_match_closes_plus_the_retention_period(
    conn: Connection, settings: Settings, pair: tuple[int, int, int],
) -> None:
    ola, _, match_id = pair
    await conversation.send_message(conn, settings, None, match_id, ola, "Hei", dt.datetime.now(dt.UTC))
    s2, c2 = await create_parties(conn, 2)
    closed = await create_match(conn, settings, s2, c2, "mutual", "participants")
    await conversation.send_message(conn, settings, None, closed["id"], s2, "Gammel", dt.datetime.now(dt.UTC))
    await conn.execute("UPDATE matches SET state = 'closed', state_changed_at = now() WHERE id = $1", closed["id"])
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert await conversation.purge(conn, settings, soon) == (0, 0)  # closed, but within the period
    long_after = dt.datetime.now(dt.UTC) + dt.timedelta(days=31 * settings.retention_delete_months + 1)
    assert await conversation.purge(conn, settings, long_after) == (1, 0)
    assert [row["body"] for row in await conn.fetch("SELECT body FROM match_messages")] == ["Hei"]  # open match kept


async def test_a_finished_match_shows_its_conversation_but_takes_no_more_and_deletion_takes_it_away(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, pair: tuple[int, int, int],
) -> None:
    ola, company, match_id = pair
    await open_as(client, conn, settings, ola, f"/me/matches/{match_id}")
    await post_form(client, f"/me/matches/{match_id}/messages", {"message": "Takk for praten"})
    await post_form(client, f"/me/matches/{match_id}/meetings", {"time": local(later()), "place": "Bright House"})
    assert (await post_form(client, f"/me/matches/{match_id}", {"action": "stop"})).status_code == 303
    meeting_id = await conn.fetchval("SELECT id FROM match_meetings")
    with pytest.raises(ConversationRefused) as refused:  # a proposal of a closed match cannot be chosen
        await conversation.choose(conn, settings, match_id, meeting_id, company, later().isoformat())
    assert refused.value.field == "choice"
    page = (await client.get(f"/me/matches/{match_id}")).text
    assert "Takk for praten" in page and 'name="message"' not in page and 'name="time"' not in page
    late = await post_form(client, f"/me/matches/{match_id}/messages", {"message": "En til"})
    assert late.status_code == 422 and 'id="message-error"' in late.text and "En til" in late.text
    await profiles.delete_account(conn, company)
    assert await conn.fetchval("SELECT count(*) FROM match_messages") == 0
