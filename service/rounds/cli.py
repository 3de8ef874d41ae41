"""`koble rounds import FILE --name NAME`: the command-line twin of the staff upload (docs/contracts.md §2)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.kit import embedded
from service.kit.audit import Actor
from service.kit.commandline import DatabaseUnavailable, command_database, fail, first_line
from service.kit.config import get_settings
from service.rounds import organisations
from service.rounds.schemas import MAX_REMINDER_DAYS, MIN_REMINDER_DAYS, UploadForm

app = typer.Typer(help="Mapping rounds: invite a list of organisations.", no_args_is_help=True)
CLI_ACTOR = Actor.staff(None, "koble rounds")
FILE_ERRORS = 2  # exit code when the file has errors (nothing written)


@app.command("import")
def import_(
    # A str, not a Path: errors name FILE exactly as typed (`./orgs.csv:3: ...`).
    file: Annotated[str, typer.Argument(help="The organisations, CSV (docs/contracts.md §1b).")],
    name: Annotated[str, typer.Option("--name", help="The round's name, e.g. 'Autumn 2026'.")],
    reminder_days: Annotated[int, typer.Option("--reminder-days", min=MIN_REMINDER_DAYS, max=MAX_REMINDER_DAYS,
                                               help="Days before the one reminder.")] = 7,
    send: Annotated[bool, typer.Option("--send", help="Write the invitations to the outbox at once.")] = False,
) -> None:
    """Check every line, then create the round (or write nothing and exit 2 with FILE:LINE errors)."""
    if not Path(file).is_file():
        sys.exit(fail(f"{file}: no such file"))
    form = UploadForm(name=" ".join(name.split()), reminder_days=str(reminder_days))
    form.check(has_file=True)
    if form.errors:
        sys.exit(fail(f"--name: {form.errors['name']}"))
    found, errors = organisations.read(Path(file).read_bytes())
    for error in errors:
        typer.echo(error.format(file), err=True)
    if errors or not found:
        if not errors:
            typer.echo(f"{file}:1: -: lists no organisation", err=True)
        sys.exit(FILE_ERRORS)
    try:
        line = asyncio.run(_create(form.name, reminder_days, Path(file).name, found, send))
    except Exception as exc:  # any failure to reach the database is one line
        sys.exit(fail(str(exc) if isinstance(exc, DatabaseUnavailable) else first_line(exc)))
    typer.echo(line)


async def _create(name: str, reminder_days: int, source: str, found: list[organisations.Organisation],
                  send: bool) -> str:
    from service.rounds import service

    settings = get_settings()
    embedded.quiet_logs(settings)
    async with command_database(settings) as pool, pool.acquire() as conn:
        round_id = await service.create(conn, CLI_ACTOR, name, reminder_days, source, found)
        # No job queue here: the worker's outbox sweep delivers what was written.
        sent = await service.send(conn, None, settings, CLI_ACTOR, round_id) if send else 0
    return f"round {round_id}: {len(found)} organisations" + (f", {sent} invitations in the outbox" if send else "")
