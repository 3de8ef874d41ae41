"""The `koble` command line (contracts §4)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.config import get_settings

app = typer.Typer(help="Koble: matching for the Gjøvik region.", no_args_is_help=True, add_completion=False)


def fail(message: str) -> typer.Exit:
    """Print a one-line reason to stderr; the caller raises the returned Exit(1)."""
    typer.echo(f"koble: {message}", err=True)
    return typer.Exit(1)


def _logging() -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the web app and the follow-up worker (embedded database and Redis unless configured)."""
    import uvicorn

    from service.app import create_app

    _logging()
    # No access log: it would hold client addresses and one-time links (no personal data in logs).
    uvicorn.run(create_app(), host=host, port=port, proxy_headers=True, log_config=None, access_log=False)


@app.command()
def worker() -> None:
    """Run the worker alone (several may run at once)."""
    from service import embedded
    from service import worker as worker_module

    _logging()
    settings = get_settings()
    worker_module.create_worker(settings, embedded.redis_url(settings)).run()


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from service import database, embedded

    applied = database.migrate(embedded.postgres_url(get_settings()))
    typer.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@app.command("import")
def import_(
    # A str, not a Path: errors must name FILE exactly as typed (`./x.jsonl:3: ...`, contracts §4).
    file: Annotated[str, typer.Argument(help="Participant file, JSON Lines (contracts §1).")],
    notify: Annotated[bool, typer.Option("--notify", help="Email new participants a welcome link.")] = False,
) -> None:
    """Validate every line, then upsert all participants (or write nothing and exit 1)."""
    from service.profiles import importer

    _logging()
    if not Path(file).is_file():
        raise fail(f"{file}: no such file")
    sys.exit(asyncio.run(importer.run(file, notify=notify, progress=sys.stderr.isatty())))


@app.command()
def demo() -> None:
    """Load the demo participants (idempotent: running it again changes nothing)."""
    from service.profiles import importer

    _logging()
    sys.exit(asyncio.run(importer.run_demo()))


@app.command()
def outbox(limit: Annotated[int, typer.Option(help="How many emails to show.")] = 10) -> None:
    """Show the newest emails (useful when SMTP_URL is unset and emails are only logged)."""
    from service.mail import service as mail

    for line in asyncio.run(mail.describe_recent(get_settings(), limit)):
        typer.echo(line)


def main() -> None:
    """Entry point of the `koble` script."""
    app()
