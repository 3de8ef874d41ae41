"""The map's themes at scale (issue 13's targets): theme quality, stability, a planted unmet need,
recomputation time and the staff map page's render time, on generated sets and on the demo data.

    python bench/themes.py --sizes 1000,10000 --seeds 11,12 --cache /tmp/vectors.npz

Per set: `koble generate`'s participants (evaluation.generator, whose subjects.jsonl gives each
interest's subject), with one subject's offers removed (the planted unmet need: a subject only
sought), imported into a scratch database on an embedded PostgreSQL, embedded with the configured
encoder (through an embedding cache file, so a second run encodes nothing), then:
- ARI of the themes against the subjects (target >= 0.8);
- ARI between two recomputations with different seeds (target >= 0.9);
- the rank of the planted subject's theme among the unmet needs (target: top 3);
- seconds of a recomputation (target <= 60 s at 10,000 participants);
- the staff map page's server time: the stored figures read and the page rendered, median of 20
  (target <= 100 ms).
`--demo` does the same on `koble demo`'s participants (no subjects: themes and labels are printed).
Figures go to stdout as JSON lines with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_avg
from evaluation import generator, runner
from evaluation.scratch import scratch_database
from service.flows import importer
from service.kit import database, embedded
from service.kit.config import Settings
from service.mapping import service as mapping
from service.mapping import views

PLANTED = "aluminium"  # a subject whose offers are removed: only sought


def planted(
    generated: generator.Generated, subject: str
) -> tuple[list[dict[str, Any]], dict[tuple[str, str, int], str]]:
    """(participant rows without any offer about `subject`, (external id, side, index) -> subject)."""
    rows, subjects = [], {}
    for person in generated.people:
        row = dict(person.row)
        kept = [(t, s) for t, s in zip(row["offers"], person.offer_subjects, strict=True) if s != subject]
        row["offers"] = [t for t, _ in kept]
        for side, pairs in (("offers", kept), ("seeks", list(zip(row["seeks"], person.seek_subjects, strict=True)))):
            subjects.update({(person.id, side, i): s for i, (_, s) in enumerate(pairs)})
        rows.append(row)
    return rows, subjects


async def load(url: str, rows: list[dict[str, Any]], settings: Settings, cache: str | None) -> str:
    """Import and embed the rows into the database; the model name."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    entries, errors = importer.validate(data)
    assert not errors, errors[:3]
    conn = await asyncpg.connect(url)
    try:
        await register_vector(conn)
        ids = await runner.import_participants(conn, [e.participant for e in entries if e.participant], False)
        return await runner.embed(conn, settings, list(ids.values()), sys.stderr.isatty(), cache)
    finally:
        await conn.close()


async def page_ms(conn: asyncpg.Connection) -> float:
    """Median ms of reading the stored figures and rendering the staff map page (20 runs)."""
    times = []
    for _ in range(20):
        started = time.perf_counter()
        document = await mapping.figures_document(conn)
        assert document is not None
        views.render_staff_map(document, "nb", people=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(url: str, model: str, subjects: dict[tuple[str, str, int], str] | None) -> dict[str, Any]:
    """The figures of one loaded set."""
    conn = await asyncpg.connect(url)
    try:
        await register_vector(conn)
        first = await mapping.recompute(conn, model, seed=1)
        lines = await mapping.assignment_lines(conn)
        document = await mapping.figures_document(conn)
        assert document is not None
        result: dict[str, Any] = {
            "interests": first.interests,
            "themes": first.themes,
            "recompute_s": round(first.seconds, 1),
            "page_ms": round(await page_ms(conn), 1),
        }
        labels = [line["theme"] for line in lines]
        if subjects is not None:
            truth = [subjects[(line["external_id"], line["side"], line["index"])] for line in lines]
            result["ari_subjects"] = round(adjusted_rand_score(truth, labels), 3)
            result["planted_rank"] = planted_rank(document, truth, labels)
        second = await mapping.recompute(conn, model, seed=2)
        again = [line["theme"] for line in await mapping.assignment_lines(conn)]
        result |= {
            "ari_seeds": round(adjusted_rand_score(labels, again), 3),
            "recompute2_s": round(second.seconds, 1),
            "kept_ids": second.kept,
            "new_ids": second.new,
        }
        result["labels"] = [(t["label_nb"], t["label_en"], t["offers"], t["seeks"]) for t in document["themes"]]
        return result
    finally:
        await conn.close()


def planted_rank(document: dict[str, Any], truth: list[str], labels: list[int]) -> int | None:
    """1-based rank among the unmet needs of the theme holding most of the planted subject's seeks."""
    theme = Counter(t for s, t in zip(truth, labels, strict=True) if s == PLANTED).most_common(1)[0][0]
    ranked = [gap["theme"] for gap in document["gaps"]["unmet"]]
    return ranked.index(theme) + 1 if theme in ranked else None


def run_set(
    settings: Settings, server: str, rows: list[dict[str, Any]], subjects: Any, cache: str | None
) -> dict[str, Any]:
    """Load one set into a scratch database and measure it."""
    with scratch_database(server) as url:
        database.migrate(url)
        model = asyncio.run(load(url, rows, settings, cache))
        return asyncio.run(measure(url, model, subjects))


def main() -> None:
    """Parse the options, run every set, print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seeds", default="11,12", help="one seed per size (never the tuning seed 5)")
    parser.add_argument("--cache", default=None, help="embedding cache file (.npz)")
    parser.add_argument("--demo", action="store_true", help="also measure the demo data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(koble_data_dir=Path(folder))
        server = embedded.postgres_url(settings)
        try:
            sizes = [int(n) for n in args.sizes.split(",") if n]
            seeds = [int(seed) for seed in args.seeds.split(",") if seed]
            for n, seed in zip(sizes, seeds, strict=True):
                rows, subjects = planted(generator.generate(n, seed, queries=10), PLANTED)
                result = run_set(settings, server, rows, subjects, args.cache)
                print(
                    json.dumps(
                        {"set": f"generated n={n} seed={seed}", "load": load_avg(), **result}, ensure_ascii=False
                    ),
                    flush=True,
                )
            if args.demo:
                from service.profiles import demo

                result = run_set(settings, server, demo.demo_participants(), None, args.cache)
                print(json.dumps({"set": "demo", "load": load_avg(), **result}, ensure_ascii=False), flush=True)
        finally:
            embedded.stop_all()


if __name__ == "__main__":
    main()
