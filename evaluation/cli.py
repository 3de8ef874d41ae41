"""The analysts' `koble` subcommands: evaluate, generate, fit-weights, export-gold.

`service/cli.py` adds them from the `koble.commands` entry points (pyproject.toml), so the service
never imports this package. This module stays light (typer and service.kit only): the command
bodies import scikit-learn, bm25s and matplotlib, which only the `eval` extra installs.
"""

from __future__ import annotations

import importlib.util
import sys
from enum import StrEnum
from typing import Annotated

import typer

from service.kit.commandline import needs_eval_extra, setup_logging

# What the `eval` extra brings that the commands' bodies import (nbclient only runs the notebooks).
EXTRA_MODULES = ("bm25s", "matplotlib")
PARTICIPANT_FILE = "Participant file, JSON Lines (docs/contracts.md §1)."
GOLD_FILE = "Gold file, JSON Lines (docs/contracts.md §4)."


def require_extra(command: str) -> None:
    """Exit 1 with a one-line hint unless the `eval` extra is installed."""
    if any(importlib.util.find_spec(name) is None for name in EXTRA_MODULES):
        raise typer.Exit(needs_eval_extra(command))


class EvalVariant(StrEnum):
    """The rankers `koble evaluate --variant` compares (evaluation.variants.VARIANTS)."""

    random = "random"
    bm25 = "bm25"
    one_directional = "one_directional"
    reciprocal = "reciprocal"
    reciprocal_lexical = "reciprocal_lexical"
    full = "full"


def evaluate(
    # Strs, not Paths: errors must name each FILE exactly as typed (docs/contracts.md §2).
    participants: Annotated[str, typer.Option("--participants", help=PARTICIPANT_FILE)],
    gold: Annotated[str, typer.Option("--gold", help=GOLD_FILE)],
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
    subjects: Annotated[
        str | None,
        typer.Option("--subjects", help="subjects.jsonl of `koble generate` (default: beside --participants)."),
    ] = None,
) -> None:
    """Measure the ranker against a gold file, on a scratch database it creates and removes."""
    require_extra("evaluate")
    from evaluation.evaluate import evaluate_command

    setup_logging()
    sys.exit(evaluate_command(participants, gold, k, as_json, scores_out, variant.value, weights_file=weights,
                              embedding_cache=embedding_cache, report=report, seed=seed, subjects=subjects))


def generate(
    n: Annotated[int, typer.Option("--n", min=100, max=100_000, help="Participants, traps included.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (the same seed writes the same files).")] = 7,
    out: Annotated[
        str, typer.Option("--out", help="Folder for participants.jsonl, gold.jsonl, traps.jsonl, subjects.jsonl.")
    ] = ".",
    queries: Annotated[
        int | None, typer.Option("--queries", min=1, help="Queries with gold (default: all up to 2,000 participants).")
    ] = None,
) -> None:
    """Write a generated labelled set (participants, gold and traps) for `koble evaluate`."""
    require_extra("generate")
    from evaluation.generator import generate_command

    sys.exit(generate_command(n, seed, out, queries))


def fit_weights(
    participants: Annotated[str, typer.Option("--participants", help=PARTICIPANT_FILE)],
    gold: Annotated[str, typer.Option("--gold", help=GOLD_FILE)],
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
    require_extra("fit-weights")
    from evaluation.fit import fit_command

    setup_logging()
    sys.exit(fit_command(participants, gold, out, k, folds, force, embedding_cache, seed))


def export_gold(
    out: Annotated[str, typer.Option("--out", help="Gold file to write, JSON Lines (docs/contracts.md §4).")],
    participants_out: Annotated[
        str | None,
        typer.Option("--participants-out", help="Also write the visible participants (docs/contracts.md §1)."),
    ] = None,
) -> None:
    """Write a gold file from real outcomes: approvals, answers, meetings and projects (evaluation/README.md)."""
    require_extra("export-gold")
    from evaluation.outcomes import export_gold_command

    setup_logging()
    sys.exit(export_gold_command(out, participants_out))
