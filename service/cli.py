"""The `koble` command line (contracts §4)."""

from __future__ import annotations

import asyncio
import logging
import sys
from enum import StrEnum
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
    from service import embedded

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    embedded.quiet_logs(settings)


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


class EvalVariant(StrEnum):
    """The ranker variants `koble evaluate --variant` compares (service.matching.scoring.VARIANTS)."""

    one_directional = "one_directional"
    reciprocal = "reciprocal"
    reciprocal_lexical = "reciprocal_lexical"
    full = "full"


@app.command()
def evaluate(
    # Strs, not Paths: errors must name each FILE exactly as typed (contracts §4).
    participants: Annotated[str, typer.Option("--participants", help="Participant file, JSON Lines (contracts §1).")],
    gold: Annotated[str, typer.Option("--gold", help="Gold file, JSON Lines (contracts §3).")],
    k: Annotated[int, typer.Option("--k", min=1, help="How many suggestions per query count.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")] = False,
    scores_out: Annotated[
        str | None, typer.Option("--scores-out", help="Write every ranked candidate's score, JSON Lines.")
    ] = None,
    variant: Annotated[EvalVariant, typer.Option("--variant", help="Ranker variant to measure.")] = EvalVariant.full,
) -> None:
    """Measure the ranker against a gold file, on a scratch database it creates and removes."""
    from evaluation.cli import evaluate_command

    _logging()
    sys.exit(evaluate_command(participants, gold, k, as_json, scores_out, variant.value))


@app.command()
def reembed(
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="Participants per transaction (KOBLE_EMBED_BATCH_SIZE).")
    ] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Afterwards delete every other model's vectors.")] = False,
) -> None:
    """Embed every participant with the configured encoder (KOBLE_ENCODER); the service keeps answering."""
    from service.matching import commands

    _logging()
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
    from service.matching import suggest_cli

    _logging()
    sys.exit(asyncio.run(suggest_cli.run(external_id, k, as_json, lang.value)))


def _register_subcommands() -> None:
    from service.review.cli import app as staff_app

    app.add_typer(staff_app, name="staff")


_register_subcommands()


def main() -> None:
    """Entry point of the `koble` script."""
    app()
