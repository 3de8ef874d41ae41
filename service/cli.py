"""The `koble` command line (docs/contracts.md §2)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer

from service.kit.commandline import needs_eval_extra, setup_logging
from service.kit.config import get_settings

app = typer.Typer(help="Koble: matching for the Gjøvik region.", no_args_is_help=True, add_completion=False)


def fail(message: str) -> typer.Exit:
    """Print a one-line reason to stderr; the caller raises the returned Exit(1)."""
    typer.echo(f"koble: {message}", err=True)
    return typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=32, help=(
        "Processes answering requests on the port (each with its own suggestion cache and read-time memory, "
        "kept in step by PostgreSQL notifications), e.g. one per core."))] = 1,
) -> None:
    """Run the web app and the follow-up worker (embedded database and Redis unless configured)."""
    import uvicorn

    from service.app import create_app

    setup_logging()
    if workers > 1:
        _serve_processes(host, port, workers)
        return
    application = create_app()
    # uvicorn's access log is off: it would hold client addresses and one-time links (no personal data in
    # logs); kit.metrics writes one by route template instead. Past KOBLE_MAX_CONCURRENCY, 503 at once.
    # No proxy_headers: X-Forwarded-For is believed only from KOBLE_TRUSTED_PROXIES (kit.security.client_address).
    server = uvicorn.Server(
        uvicorn.Config(application, host=host, port=port, proxy_headers=False, log_config=None, access_log=False,
                       limit_concurrency=get_settings().max_concurrency)
    )
    died: list[bool] = []

    def worker_died() -> None:
        # Serving without the worker would accept work that is never done: stop, exit 1, be restarted.
        died.append(True)
        server.should_exit = True

    application.state.on_worker_death = worker_died
    application.state.served = True  # lifespan tunes the collector (service.app.served_gc)
    server.run()
    if died:
        raise fail("the worker stopped for good (see the log above); exiting")


def _serve_processes(host: str, port: int, workers: int) -> None:
    """`koble serve --workers N`: the embedded servers started here, shared by N uvicorn processes
    (`service.app.create_served_app`), each running the app (and its in-process worker, if configured)."""
    import os

    import uvicorn

    from service.kit import database, embedded

    settings = get_settings()
    os.environ["DATABASE_URL"] = embedded.postgres_url(settings)
    os.environ["REDIS_URL"] = embedded.redis_url(settings)
    database.migrate(os.environ["DATABASE_URL"])
    try:
        uvicorn.run("service.app:create_served_app", factory=True, host=host, port=port, workers=workers,
                    proxy_headers=False, log_config=None, access_log=False,
                    limit_concurrency=settings.max_concurrency)
    finally:
        embedded.stop_all()


@app.command()
def worker() -> None:
    """Run the worker alone (several may run at once); SIGTERM lets running jobs finish first."""
    from service import worker as worker_module
    from service.kit import embedded

    setup_logging()
    settings = get_settings()
    supervisor = worker_module.Supervisor(settings, embedded.redis_url(settings))
    try:
        asyncio.run(_run_worker(supervisor))
    except Exception as exc:  # already logged with its traceback by the supervisor
        raise fail(f"the worker stopped for good ({type(exc).__name__})") from exc
    finally:
        embedded.stop_all()


async def _run_worker(supervisor: Any) -> None:
    """Run the supervisor until SIGTERM or SIGINT (which drain running jobs first)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, supervisor.stop)
    await supervisor.run()


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from service.kit import database, embedded

    applied = database.migrate(embedded.postgres_url(get_settings()))
    typer.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (pg_dump's custom format).")],
) -> None:
    """Write the whole database (embedded unless DATABASE_URL is set), vectors included, to FILE."""
    from service.kit import backup as backups

    def run(url: str) -> str:
        started = time.monotonic()
        size = backups.backup(url, file)
        return f"wrote {file} ({size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s"

    _on_database(run)


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by koble backup.")],
    force: Annotated[bool, typer.Option("--force", help="Replace everything in a database that is not empty.")] = False,
) -> None:
    """Restore FILE into the database (embedded unless DATABASE_URL is set); it must be empty unless --force."""
    from service.kit import backup as backups

    def run(url: str) -> str:
        started = time.monotonic()
        backups.restore(url, file, force)
        return f"restored {file} in {time.monotonic() - started:.1f} s"

    _on_database(run)


def _on_database(action: Callable[[str], str]) -> None:
    """Run a backup or restore on the configured database, print its line, stop the embedded servers."""
    from service.kit import embedded
    from service.kit.backup import BackupError

    setup_logging()
    try:
        typer.echo(action(embedded.postgres_url(get_settings())))
    except BackupError as exc:
        raise fail(str(exc)) from None
    finally:
        embedded.stop_all()


@app.command("import")
def import_(
    # A str, not a Path: errors must name FILE exactly as typed (`./x.jsonl:3: ...`, docs/contracts.md §2).
    file: Annotated[str, typer.Argument(help="Participant file, JSON Lines (docs/contracts.md §1).")],
    notify: Annotated[bool, typer.Option("--notify", help="Email new participants a welcome link.")] = False,
) -> None:
    """Validate every line, then upsert all participants (or write nothing and exit 1)."""
    from service.flows import importer

    setup_logging()
    if not Path(file).is_file():
        raise fail(f"{file}: no such file")
    sys.exit(asyncio.run(importer.run(file, notify=notify, progress=sys.stderr.isatty())))


@app.command()
def demo() -> None:
    """Load the demo participants (idempotent: running it again changes nothing)."""
    from service.flows import importer

    setup_logging()
    sys.exit(asyncio.run(importer.run_demo()))


@app.command()
def outbox(limit: Annotated[int, typer.Option(help="How many emails to show.")] = 10) -> None:
    """Show the newest emails (useful when SMTP_URL is unset and emails are only logged)."""
    from service.mail import service as mail

    for line in asyncio.run(mail.describe_recent(get_settings(), limit)):
        typer.echo(line)


# The analysts' commands (evaluate, generate, fit-weights, export-gold) from the `koble.commands`
# entry points, registered here so that `koble --help` lists them in this place.
PLUGIN_GROUP = "koble.commands"
# A stand-in accepts any arguments: it only says what to install.
STAND_IN = {"allow_extra_args": True, "ignore_unknown_options": True}


def _stand_in(name: str) -> Callable[[], None]:
    """A command that says `koble NAME` needs the `eval` extra, and exits 1."""

    def command() -> None:
        raise typer.Exit(needs_eval_extra(name))

    command.__doc__ = "Not installed: pip install 'koble[eval]'."
    return command


def _register_plugins() -> None:
    """Every `koble.commands` entry point as a subcommand (a stand-in if its module cannot be imported)."""
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            app.command(entry.name)(entry.load())
        except ImportError:
            app.command(entry.name, context_settings=STAND_IN)(_stand_in(entry.name))


_register_plugins()


@app.command()
def reembed(
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="Participants per transaction (KOBLE_EMBED_BATCH_SIZE).")
    ] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Afterwards delete every other model's vectors.")] = False,
) -> None:
    """Embed every participant with the configured encoder (KOBLE_ENCODER); the service keeps answering."""
    from service.matching import commands

    setup_logging()
    sys.exit(asyncio.run(commands.reembed(get_settings(), batch, prune, progress=sys.stderr.isatty())))


class Lang(StrEnum):
    """Languages of explanations."""

    nb = "nb"
    en = "en"


@app.command()
def suggest(
    external_id: Annotated[str, typer.Argument(metavar="EXTERNAL_ID", help="The participant's external id.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many suggestions at most.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the API's shape).")] = False,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the explanations.")] = Lang.nb,
) -> None:
    """Ranked suggestions for a participant, with score and explanation."""
    from service.suggestions import cli as suggest_cli

    setup_logging()
    sys.exit(asyncio.run(suggest_cli.run(external_id, k, as_json, lang.value)))


@app.command()
def themes(
    recompute: Annotated[bool, typer.Option("--recompute", help="Recompute the themes and the map first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"themes": [...]} (docs/contracts.md §7).')] = False,
    assignments: Annotated[
        str | None, typer.Option("--assignments", help="Write each interest's theme to this file (JSON Lines).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the clustering's sample.")] = 0,
) -> None:
    """The themes of the map (kartlegging): id, offers, seeks and labels in Norwegian and English."""
    from service.mapping import cli as themes_cli

    setup_logging()
    sys.exit(asyncio.run(themes_cli.run(recompute, as_json, assignments, seed)))


@app.command()
def schedule(
    # A str, not a Path: errors name FILE exactly as typed (docs/contracts.md §2).
    file: Annotated[str, typer.Argument(metavar="FILE.json", help="The event: slots, tables, participants, meetings.")],
    out: Annotated[str | None, typer.Option("--out", help="Write the schedule here instead of stdout.")] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, max=3600, help="Seconds the solver may search.")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="The solver's random seed.")] = 0,
) -> None:
    """Put meetings into slots and tables: the largest total weight, then the fewest idle gaps (CP-SAT)."""
    from service.events import schedule_cli

    sys.exit(schedule_cli.run(file, out, time_limit, seed))


def _register_subcommands() -> None:
    from service.review.cli import app as staff_app
    from service.rounds.cli import app as rounds_app

    app.add_typer(staff_app, name="staff")
    app.add_typer(rounds_app, name="rounds")


_register_subcommands()


def main() -> None:
    """Entry point of the `koble` script."""
    from service.worker import wire_hooks

    wire_hooks()  # `koble import` and `koble demo` embed: their new interests get their nearest theme
    app()
