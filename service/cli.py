"""The `koble` command line (contracts §4)."""

from __future__ import annotations

import asyncio
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from service.kit.config import get_settings

app = typer.Typer(help="Koble: matching for the Gjøvik region.", no_args_is_help=True, add_completion=False)


def fail(message: str) -> typer.Exit:
    """Print a one-line reason to stderr; the caller raises the returned Exit(1)."""
    typer.echo(f"koble: {message}", err=True)
    return typer.Exit(1)


def _logging() -> None:
    from service.kit import embedded

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
    from service import worker as worker_module
    from service.kit import embedded

    _logging()
    settings = get_settings()
    worker_module.create_worker(settings, embedded.redis_url(settings)).run()


@app.command()
def migrate() -> None:
    """Apply pending database migrations."""
    from service.kit import database, embedded

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
    """The rankers `koble evaluate --variant` compares (evaluation.variants.VARIANTS)."""

    random = "random"
    bm25 = "bm25"
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
    weights: Annotated[str | None, typer.Option("--weights", help="Weights file from `koble fit-weights`.")] = None,
    embedding_cache: Annotated[
        str | None, typer.Option("--embedding-cache", help="Keep vectors in this file between runs.")
    ] = None,
    report: Annotated[
        str | None, typer.Option("--report", help="Write tables and plots of every variant to this folder.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random variant and the bootstrap.")] = 0,
) -> None:
    """Measure the ranker against a gold file, on a scratch database it creates and removes."""
    from evaluation.cli import evaluate_command

    _logging()
    sys.exit(evaluate_command(participants, gold, k, as_json, scores_out, variant.value, weights_file=weights,
                              embedding_cache=embedding_cache, report=report, seed=seed))


@app.command()
def generate(
    n: Annotated[int, typer.Option("--n", min=100, max=100_000, help="Participants, traps included.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the same seed writes the same files).")] = 7,
    out: Annotated[str, typer.Option("--out", help="Folder for participants.jsonl, gold.jsonl, traps.jsonl.")] = ".",
    queries: Annotated[
        int | None, typer.Option("--queries", min=1, help="Queries with gold (default: all up to 2,000 participants).")
    ] = None,
) -> None:
    """Write a generated labelled set (participants, gold and traps) for `koble evaluate`."""
    from evaluation.generator import generate_command

    sys.exit(generate_command(n, seed, out, queries))


@app.command("fit-weights")
def fit_weights(
    participants: Annotated[str, typer.Option("--participants", help="Participant file, JSON Lines (contracts §1).")],
    gold: Annotated[str, typer.Option("--gold", help="Gold file, JSON Lines (contracts §3).")],
    out: Annotated[str, typer.Option("--out", help="Where to write the fitted weights (JSON).")] = "weights.json",
    k: Annotated[int, typer.Option("--k", min=1, help="k of the nDCG the fit is judged by.")] = 10,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20, help="Cross-validation folds (by query).")] = 5,
    force: Annotated[bool, typer.Option("--force", help="Write the weights even if they measure worse.")] = False,
    embedding_cache: Annotated[
        str | None, typer.Option("--embedding-cache", help="Keep vectors in this file between runs.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the folds and the bootstrap.")] = 0,
) -> None:
    """Fit the ranker's soft-feature weights to gold (cross-validated); write them only if they measure better."""
    from evaluation.fit import fit_command

    _logging()
    sys.exit(fit_command(participants, gold, out, k, folds, force, embedding_cache, seed))


@app.command("export-gold")
def export_gold(
    out: Annotated[str, typer.Option("--out", help="Gold file to write, JSON Lines (contracts §3).")],
    participants_out: Annotated[
        str | None, typer.Option("--participants-out", help="Also write the visible participants (contracts §1).")
    ] = None,
) -> None:
    """Write a gold file from real outcomes: approvals, answers, meetings and projects (evaluation/README.md)."""
    from evaluation.outcomes import export_gold_command

    _logging()
    sys.exit(export_gold_command(out, participants_out))


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
