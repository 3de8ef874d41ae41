"""Tables and plots as files: `koble evaluate --report DIR` writes report.md and PNGs into DIR.

The same tables and plots as notebooks/01_ranker_quality and 02_constraints_and_fairness, from
the same functions (evaluation.analysis, evaluation.fairness); the notebooks display them,
this module writes them for those who do not use notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from evaluation import analysis, fairness
from evaluation.analysis import Failure, Row
from evaluation.metrics import METRIC_NAMES
from evaluation.runner import Prepared
from service.matching.scoring import Weights

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KS = tuple(range(1, 21))
HEADERS = {"precision_at_k": "P@k", "recall_at_k": "R@k", "ndcg_at_k": "nDCG@k", "mrr": "MRR",
           "coverage": "coverage"}


def _cell(row: Row, name: str) -> str:
    value = getattr(row.summary, name)
    if name not in row.intervals:
        return f"{value:.3f}"
    low, high = row.intervals[name]
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def metric_table(rows: Sequence[Row], k: int, extra: bool = False) -> str:
    """A Markdown table of rows (value [95 % interval] where known); `extra` adds violations and seconds."""
    names = [HEADERS[n].replace("k", str(k)) if n != "mrr" else "MRR" for n in METRIC_NAMES]
    header = ["", "queries", *names, *(["violations", "rank s"] if extra else [])]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.name, str(row.summary.queries), *(_cell(row, n) for n in METRIC_NAMES)]
        if extra:
            cells += [str(row.violations), f"{row.seconds:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def failures_markdown(failures: Sequence[Failure], k: int) -> str:
    """The worst queries as readable Markdown."""
    parts = []
    for f in failures:
        parts.append(f"**{f.query}** (nDCG@{k} {f.ndcg:.2f}): {f.query_text}\n")
        parts += [f"- suggested {b} (gold {rel:g}): {text}" for b, rel, text in f.suggested]
        parts += [f"- missed {b} (gold {rel:g}): {text}" for b, rel, text in f.missed]
        parts.append("")
    return "\n".join(parts)


def plot_ndcg_curve(curve: Mapping[str, Sequence[float]], ks: Sequence[int] = KS) -> Figure:
    """nDCG@k over k, one line per variant."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for variant, values in curve.items():
        axes.plot(list(ks), list(values), marker="o", markersize=3, label=variant)
    axes.set_xticks(list(ks)[::2] if len(ks) > 10 else list(ks))
    axes.set_xlabel("k")
    axes.set_ylabel("mean nDCG@k")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_lorenz(shown: Mapping[str, np.ndarray]) -> Figure:
    """Lorenz curves of showings, one per setting (e.g. with and without the exposure term)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equal exposure")
    for name, values in shown.items():
        x, y = fairness.lorenz(values)
        axes.plot(x, y, label=f"{name} (Gini {fairness.gini(values):.2f})")
    axes.set_xlabel("share of participants (least shown first)")
    axes.set_ylabel("share of showings")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_funnel(counts: Mapping[str, int]) -> Figure:
    """Matches that reached each state, in pipeline order (horizontal bars, counts written on them)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    names = list(counts)[::-1]
    bars = axes.barh(names, [counts[name] for name in names], color="#4a78a8")
    axes.bar_label(bars, padding=3)
    axes.set_xlabel("matches that reached the state")
    figure.tight_layout()
    return figure


def plot_time_in_stage(days: Mapping[str, Sequence[float]]) -> Figure:
    """Box plots of the days spent in each stage before leaving it (stages with data only)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    shown = {name: list(values) for name, values in days.items() if values}
    if shown:
        axes.boxplot(list(shown.values()), tick_labels=list(shown))
    axes.set_ylabel("days in stage")
    axes.tick_params(axis="x", labelrotation=30)
    figure.tight_layout()
    return figure


def exposure_runs(
    prepared: Prepared, weights: Weights, k: int, seed: int = 0, rounds: int = 3
) -> dict[str, np.ndarray]:
    """Showings per participant in the replay, with the exposure term and without it."""
    participants = [p.external_id for p in prepared.inputs.participants]
    return {
        "with exposure term": fairness.simulate_exposure(prepared.features, participants, weights, k, rounds, seed),
        "without": fairness.simulate_exposure(prepared.features, participants, fairness.without_exposure(weights), k,
                                              rounds, seed),
    }


def exposure_table(shown: Mapping[str, np.ndarray]) -> str:
    """Gini, top-10 % share and never-shown share of each setting, as Markdown."""
    lines = ["| setting | Gini | top 10 % get | never shown |", "|---|---|---|---|"]
    for name, values in shown.items():
        never = float((values == 0).mean()) if len(values) else 0.0
        lines.append(f"| {name} | {fairness.gini(values):.3f} | {fairness.top_share(values):.1%} | {never:.1%} |")
    return "\n".join(lines)


def write_report(folder: Path, prepared: Prepared, k: int, weights: Weights, seed: int = 0) -> Path:
    """report.md, ndcg_at_k.png and exposure_lorenz.png in the folder; the Markdown file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    runs = analysis.run_variants(prepared, weights, seed)
    plot_ndcg_curve(analysis.ndcg_curve(prepared, runs, KS)).savefig(folder / "ndcg_at_k.png", dpi=120)
    shown = exposure_runs(prepared, weights, k, seed)
    plot_lorenz(shown).savefig(folder / "exposure_lorenz.png", dpi=120)
    full = runs["full"]
    by_slice = metric_table(analysis.slice_table(prepared, full, k), k)
    sections = [
        f"# Ranker evaluation\n\nencoder {prepared.encoder}, k = {k}, {len(prepared.inputs.participants)} "
        f"participants, {len(prepared.features)} queries; intervals: 95 % bootstrap over queries (seed {seed}).",
        "## Variants\n\n" + metric_table(analysis.variant_table(prepared, runs, k, seed), k, extra=True),
        "## Language pairs\n\n" + metric_table(analysis.language_table(prepared, runs, k), k),
        "## Full ranker by slice (language, domain, kinds)\n\n" + by_slice,
        "## nDCG@k over k\n\n![nDCG@k](ndcg_at_k.png)",
        "## Exposure (replay of 3 rounds of every query asking for its top k)\n\n" + exposure_table(shown)
        + "\n\n![Lorenz curves](exposure_lorenz.png)",
        "## Worst queries of the full ranker\n\n" + failures_markdown(analysis.worst_failures(prepared, full, k), k),
    ]
    path = folder / "report.md"
    path.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return path
