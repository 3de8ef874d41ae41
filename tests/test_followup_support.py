"""Shared helpers of the follow-up tests: parties, sessions, reading replies out of received emails."""

from __future__ import annotations

import json
import re
from base64 import b64encode
from email.message import Message

import httpx
import itsdangerous
from asyncpg import Connection

from service.auth import service as auth
from service.auth.service import SubjectKind
from service.kit.config import Settings
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields
from tests.conftest import body_text

STUDENT = ParticipantFields(
    kind="student", name="Ola Nordmann", email="ola@example.no", domains=["industrial_tech"],
    seeks=["Sommerjobb med robotceller"], offers=["Python og maskinlæring"],
)
COMPANY = ParticipantFields(
    kind="company", name="Raufoss Robotikk AS", email="post@robotikk.example", organisation="Raufoss",
    language="en", domains=["industrial_tech"], seeks=["Students for robot cells"], offers=["Summer jobs"],
)
REPLY = re.compile(r"https?://\S+/reply/[\w.-]+\?lang=\w+")


async def parties(conn: Connection, n: int = 0) -> tuple[int, int]:
    """A student (Norwegian) and a company (English); `n` makes further distinct pairs."""
    suffix = f"-{n}" if n else ""
    student = STUDENT.model_copy(update={"email": f"ola{suffix}@example.no"})
    company = COMPANY.model_copy(update={"email": f"post{suffix}@robotikk.example"})
    a = await profiles.create_verified(conn, student, f"s{suffix}", "import")
    b = await profiles.create_verified(conn, company, f"c{suffix}", "import")
    return a["id"], b["id"]


def replies(message: Message) -> list[str]:
    """The one-click reply links of a received email, in the order the email shows them."""
    return REPLY.findall(body_text(message))


def path_of(url: str) -> str:
    """The path of an absolute link (the test client talks to the app in-process)."""
    return "/" + url.split("/", 3)[3]


async def sign_in_as(
    client: httpx.AsyncClient, conn: Connection, settings: Settings,
    participant_id: int | None = None, staff_id: int | None = None,
) -> None:
    """Start a session (participant_id= or staff_id=) and give the client its cookie, signed as the app would."""
    kind: SubjectKind = "participant" if participant_id is not None else "staff"
    subject_id = participant_id if participant_id is not None else staff_id
    assert subject_id is not None
    token = await auth.start_session(conn, settings, kind, subject_id)
    data = b64encode(json.dumps({auth.SESSION_KEY: token}).encode())
    cookie = itsdangerous.TimestampSigner(settings.secret_key()).sign(data).decode()
    client.cookies.set("koble_session", cookie)


async def add_staff(conn: Connection, email: str = "staff@brighthouse.no", language: str = "en") -> int:
    """A Bright House staff member; returns the id."""
    staff_id: int = await conn.fetchval(
        "INSERT INTO staff (email, name, role, language) VALUES ($1, 'Kari', 'admin', $2) RETURNING id",
        email, language,
    )
    return staff_id
