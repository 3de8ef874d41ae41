"""The body of `koble evaluate` (docs/contracts.md §4): run, report, exit code; evaluation/cli.py declares it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaluation import explanations, runner
from evaluation import report as html_report
from evaluation.metrics import METRIC_NAMES, Summary
from evaluation.scratch import terminate_as_interrupt
from evaluation.variants import Variant, rank_variant
from service.kit.commandline import first_line
from service.kit.config import Settings, get_settings

EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (also by C libraries) to stderr while inside.

    `--json` promises exactly one JSON object on stdout; progress and library chatter go to stderr.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run(request: runner.Request, settings: Settings) -> runner.Outcome:
    """Run the whole evaluation; raises EvaluationError for bad input or an unusable database."""
    started = time.perf_counter()
    prepared = runner.prepare(request, settings)
    weights = runner.load_weights(request.weights_file, prepared.weights)
    with runner.step(prepared.timings, "rank"):
        ranked = rank_variant(prepared.features, request.variant, weights, prepared.texts, request.seed)
    outcome = runner.measure(ranked, prepared.facts, prepared.inputs, request.k, request.seed, request.resamples)
    outcome.explanations = measure_explanations(request, prepared, runner.orderings(ranked))
    if request.scores_out:
        runner.write_scores(request.scores_out, ranked)
    if request.report:
        with runner.step(prepared.timings, "report"):
            html_report.write_report(Path(request.report), prepared, request.k, weights, request.seed)
            if outcome.explanations is not None:
                with (Path(request.report) / "report.md").open("a", encoding="utf-8") as out:
                    out.write("\n" + explanations.markdown(outcome.explanations, request.k))
    outcome.timings, outcome.seconds = prepared.timings, time.perf_counter() - started
    return outcome


def measure_explanations(
    request: runner.Request, prepared: runner.Prepared, rankings: dict[str, list[str]]
) -> explanations.ExplanationMeasure | None:
    """How often the top k's explanations quote the gold subject (None without a subjects file)."""
    path = Path(request.subjects) if request.subjects else explanations.subjects_beside(request.participants)
    if path is None:
        return None
    try:
        subjects = explanations.load_subjects(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise runner.EvaluationError([f"koble: {path}: not a subjects file ({first_line(exc)})"]) from exc
    texts = {p.external_id: {"offers": p.offers, "seeks": p.seeks} for p in prepared.inputs.participants}
    kind_language = {p.external_id: (p.kind, p.language) for p in prepared.inputs.participants}
    vectors = explanations.in_explanation_space(prepared.interests, kind_language)
    return explanations.measure(rankings, prepared.inputs.gold.queries, request.k, vectors, texts, subjects,
                                raw=prepared.interests)


def interrupted(exc: BaseException) -> bool:
    """Whether an interruption caused this exception: a SIGTERM that lands while a class is being made
    (an import) comes out wrapped, as "RuntimeError: Error calling __set_name__" (a CI run, 2026-12-07)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def evaluate_command(
    participants: str, gold: str, k: int = 10, as_json: bool = False, scores_out: str | None = None,
    variant: Variant = "full", settings: Settings | None = None, **options: Any,
) -> int:
    """Run `koble evaluate` and print its report; the exit code.

    `options` are the optional `runner.Request` fields (weights_file, embedding_cache, report, seed).
    """
    settings = settings or get_settings()
    request = runner.Request(participants, gold, k, variant, scores_out, progress=sys.stderr.isatty(), **options)
    try:
        with stdout_to_stderr(), terminate_as_interrupt():
            outcome = run(request, settings)
    except runner.EvaluationError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("koble: interrupted; the scratch database was removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a database or model failure: one line, not a traceback
        if interrupted(exc):
            print("koble: interrupted; the scratch database was removed", file=sys.stderr)
            return EXIT_INTERRUPTED
        logging.getLogger(__name__).debug("evaluation failed", exc_info=True)
        print(f"koble: evaluation failed: {first_line(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(runner.as_json(outcome, k)) if as_json else report(outcome, k, variant, settings))
    if request.report:
        print(f"koble: report written to {request.report}/report.md", file=sys.stderr)
    if outcome.violations:
        print(f"koble: {outcome.violations} suggested pair(s) break a hard constraint", file=sys.stderr)
    return 0


def _row(name: str, s: Summary) -> str:
    return (f"{name:<12} {s.queries:>7} {s.precision_at_k:>8.3f} {s.recall_at_k:>8.3f} {s.ndcg_at_k:>8.3f} "
            f"{s.mrr:>8.3f} {s.coverage:>8.3f}")


def _interval_row(intervals: dict[str, tuple[float, float]]) -> str:
    cells = [f"{lo:.2f}-{hi:.2f}" for lo, hi in (intervals[name] for name in METRIC_NAMES)]
    return f"{'95% CI':<12} {'':>7} " + " ".join(f"{cell:>8}" for cell in cells)


def report(outcome: runner.Outcome, k: int, variant: str, settings: Settings) -> str:
    """The human-readable report: the summary with bootstrap intervals, the slices, and where the time went."""
    header = f"{'':<12} {'queries':>7} {f'P@{k}':>8} {f'R@{k}':>8} {f'nDCG@{k}':>8} {'MRR':>8} {'coverage':>8}"
    lines = [
        f"koble evaluate: variant {variant}, encoder {settings.koble_encoder}, k = {k}",
        header,
        _row("all", outcome.summary),
        *([_interval_row(outcome.intervals)] if outcome.intervals else []),
        *(_row(name, summary) for name, summary in outcome.slices.items()),
        f"weighted Kendall-tau loss: {outcome.kendall_tau_loss:.3f} (95% CI {outcome.kendall_interval[0]:.3f}-"
        f"{outcome.kendall_interval[1]:.3f}; 0 perfect, 0.5 random; candidates without gold graded 0)",
        f"constraint violations: {outcome.violations}",
        *([_explanation_line(outcome.explanations)] if outcome.explanations is not None else []),
        f"seconds: {outcome.seconds:.1f} (" + ", ".join(f"{n} {t:.1f}" for n, t in outcome.timings.items()) + ")",
    ]
    return "\n".join(lines)


def _explanation_line(measure: explanations.ExplanationMeasure) -> str:
    return (f"explanations quoting the gold subject: {measure.subject_rate:.1%} of {measure.cards} relevant cards "
            f"(per quote {measure.quote_rate:.1%}; one closest pair, as before: {measure.before_rate:.1%})")
