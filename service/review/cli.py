"""`koble staff ...`: staff accounts from the command line, and proposing pairs for review."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, TypeVar

import asyncpg
import typer
from pydantic import EmailStr, TypeAdapter, ValidationError

from service.kit import embedded
from service.kit.audit import Actor
from service.kit.commandline import DatabaseUnavailable, command_database, fail, first_line
from service.kit.config import get_settings

app = typer.Typer(help="Bright House staff accounts and the review queue.", no_args_is_help=True)
T = TypeVar("T")
CLI_ACTOR = Actor.staff(None, "koble staff")
_email = TypeAdapter(EmailStr)


class RoleChoice(StrEnum):
    """Staff roles: reviewers review and follow up; admins also manage staff; analysts see figures only."""

    admin = "admin"
    reviewer = "reviewer"
    analyst = "analyst"


ROLE_HELP = "reviewer: review and follow up; admin: also staff; analyst: the map and rounds, no names."


async def _with_conn(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    settings = get_settings()
    embedded.quiet_logs(settings)
    async with command_database(settings) as pool, pool.acquire() as conn:
        return await work(conn)


def _run(work: Callable[[asyncpg.Connection], Awaitable[str]]) -> None:
    """Run a database command: print its line, or a one-line reason and exit 1."""
    from service.auth.service import StaffRefused

    try:
        line = asyncio.run(_with_conn(work))
    except (StaffRefused, DatabaseUnavailable) as exc:
        sys.exit(fail(str(exc)))
    except Exception as exc:  # any failure to reach the database is one line
        sys.exit(fail(first_line(exc)))
    typer.echo(line)


@app.command()
def add(
    email: Annotated[str, typer.Argument(help="The staff member's email address (sign-in links go there).")],
    role: Annotated[RoleChoice, typer.Option("--role", help=ROLE_HELP)],
    name: Annotated[str, typer.Option("--name", help="The name shown in the audit log and timelines.")] = "",
) -> None:
    """Add a staff member, or change the role of (and re-enable) an existing one."""
    from service.auth import service

    try:
        address = str(_email.validate_python(email.strip()))
    except ValidationError:
        sys.exit(fail(f"EMAIL: not a valid email address: {email!r}"))

    async def work(conn: asyncpg.Connection) -> str:
        row = await service.add_staff(conn, CLI_ACTOR, address, role.value, name.strip())
        return f"{row['email']}: {row['role']} (id {row['id']})"

    _run(work)


@app.command("list")
def list_() -> None:
    """Every staff member: email, role, name, and whether disabled."""
    from service.auth import service

    async def work(conn: asyncpg.Connection) -> str:
        rows = await service.all_staff(conn)
        lines = [f"{r['email']}\t{r['role']}\t{r['name']}\t{'disabled' if r['disabled_at'] else 'active'}"
                 for r in rows]
        return "\n".join(lines) or "no staff yet: add one with `koble staff add EMAIL --role admin`"

    _run(work)


@app.command()
def disable(email: Annotated[str, typer.Argument(help="The staff member's email address.")]) -> None:
    """Disable a staff member: their sessions and sign-in links stop working."""
    from service.auth import service

    async def work(conn: asyncpg.Connection) -> str:
        row = await service.staff_by_email(conn, email.strip())
        if row is None or row["disabled_at"] is not None:
            raise service.StaffRefused(f"EMAIL: no active staff member with address {email!r}")
        await service.disable_staff(conn, CLI_ACTOR, row["id"])
        return f"{row['email']}: disabled"

    _run(work)


@app.command()
def propose(
    k: Annotated[int | None, typer.Option("--k", min=1, max=50, help="Pairs per participant (KOBLE_REVIEW_PROPOSE_K).")]
    = None,
) -> None:
    """Store the ranker's best pairs as suggestions for staff to review (what the hourly job does)."""
    from service.review import service

    settings = get_settings()

    async def work(conn: asyncpg.Connection) -> str:
        created = await service.propose_matches(conn, settings, k or settings.review_propose_k)
        return f"proposed {created} new pair(s) for review"

    _run(work)
