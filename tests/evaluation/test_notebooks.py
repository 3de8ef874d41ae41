"""The notebooks run top to bottom on small data (a failing cell fails the build) and are committed clean."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nbformat
import pytest
from nbclient import NotebookClient

from evaluation import generator
from evaluation.scratch import scratch_database
from service.flows import importer
from service.kit import database
from service.profiles import service as profiles

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The kernel inherits this process's environment: the repository first on the path."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


def execute(path: Path) -> nbformat.NotebookNode:
    """Run every cell with the project's Python (the kernel of this venv); raises on a failing cell."""
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return book


def outputs_text(book: nbformat.NotebookNode) -> str:
    """Every text and Markdown output of the executed notebook."""
    parts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += [str(value) for key, value in output.get("data", {}).items() if key.startswith("text/")]
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """100 generated participants and one embedding cache for both quality notebooks."""
    folder = tmp_path_factory.mktemp("notebook-set")
    return {**generator.write(generator.generate(100, seed=5), folder), "cache": folder / "vectors.npz"}


@pytest.mark.parametrize("name", ["01_ranker_quality", "02_constraints_and_fairness"])
def test_quality_notebooks_run_on_a_small_generated_set(
    name: str, pg_url: str, small_set: dict[str, Path], monkeypatch: pytest.MonkeyPatch, environment: None
) -> None:
    files = small_set
    monkeypatch.setenv("KOBLE_NOTEBOOK_EMBEDDING_CACHE", str(files["cache"]))
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("KOBLE_NOTEBOOK_PARTICIPANTS", str(files["participants"]))
    monkeypatch.setenv("KOBLE_NOTEBOOK_GOLD", str(files["gold"]))
    text = outputs_text(execute(ROOT / "notebooks" / f"{name}.ipynb"))
    assert "100 participants" in text
    if name == "01_ranker_quality":
        assert "| bm25 |" in text and "| full |" in text and "student → company" in text
    else:
        assert "0 violation(s)" in text and "Gini" in text


async def load_demo(url: str) -> None:
    """The demo participants, written by `koble demo`'s importer (the funnel needs no embeddings)."""
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in importer.demo_participants()).encode()
    entries, errors = importer.validate(data)
    assert errors == []
    conn = await asyncpg.connect(url)
    try:
        plan = profiles.plan_import([e.participant for e in entries if e.participant], {})
        await profiles.write_import(conn, plan, False)
    finally:
        await conn.close()


def test_funnel_notebook_runs_on_the_demo_data_with_simulated_matches(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, environment: None
) -> None:
    with scratch_database(pg_url) as url:
        database.migrate(url)
        asyncio.run(load_demo(url))
        monkeypatch.setenv("DATABASE_URL", url)
        text = outputs_text(execute(ROOT / "notebooks" / "03_pipeline_funnel.ipynb"))
    assert "60 matches (60 simulated now)" in text
    assert "| suggested | 60 |" in text
