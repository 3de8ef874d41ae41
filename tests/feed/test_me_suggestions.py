"""The participant's suggestion card is explained in their language, without numbers (see test_feed.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from asyncpg import Connection

from tests.factories import MakeParticipant
from tests.support import sign_in_participant


async def test_my_suggestion_card_is_explained(
    client: httpx.AsyncClient, conn: Connection, make_participant: MakeParticipant, sigrid: dict[str, Any],
    raufoss_ot: dict[str, Any],
) -> None:
    student = await make_participant(**sigrid)
    await make_participant(**raufoss_ot)
    await make_participant(  # offers what Sigrid seeks, but shares no domain with her: never suggested
        "company", name="Bakeri på Biri", domains=["bioeconomy"],
        offers=["Master thesis on SCADA security in our ovens"], seeks=["Students who know Python"],
    )
    await sign_in_participant(client, conn, student["id"])

    page = (await client.get("/me/suggestions")).text
    section = page[page.index('class="card"') : page.index('class="card-answers"')]
    assert "Raufoss OT Security AS" in section and "Bakeri på Biri" not in page
    assert "<mark>" in section  # terms the two quotes share are highlighted
    assert "Du ser etter «Masteroppgave om sikkerhet" in re.sub(r"</?mark>", "", section)  # the explanation, to "you"
    assert "Bedrift" in section  # the kind, in the reader's language
    assert not re.search(r"\d\.\d", section)  # no raw scores shown to people
