"""Magic-link sign-in against real Postgres, Redis, SMTP and the worker."""

from __future__ import annotations

import httpx
from asyncpg import Connection

from service.kit.config import Settings
from tests.conftest import Mailbox, link_in, post_form, run_worker
from tests.factories import MakeParticipant


async def test_sign_in_link_by_email_signs_in_once(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox,
    make_participant: MakeParticipant,
) -> None:
    await make_participant(name="Åse Bjørnstad", email="ase@example.no", embed=False)
    response = await post_form(client, "/signin", {"email": "ASE@example.no"})
    assert response.status_code == 200
    await run_worker(settings)
    [message] = mailbox.to("ase@example.no")
    link = link_in(message).replace("http://testserver", "")
    assert (await client.get(link)).status_code == 200
    redeemed = await post_form(client, link, {})
    assert redeemed.status_code == 303 and redeemed.headers["location"].startswith("/me")
    again = await post_form(client, link, {})
    assert again.status_code == 410


async def test_unknown_address_gets_the_same_answer_and_no_email(
    client: httpx.AsyncClient, settings: Settings, mailbox: Mailbox
) -> None:
    response = await post_form(client, "/signin", {"email": "nobody@example.no"})
    assert response.status_code == 200
    await run_worker(settings)
    assert mailbox.messages == []
