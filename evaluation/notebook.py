"""What the notebooks (notebooks/*.ipynb) load, so that they stay thin: a few calls and displays.

Data and database come from the environment, so the same notebook runs on a laptop and in CI:
- `KOBLE_NOTEBOOK_PARTICIPANTS` / `KOBLE_NOTEBOOK_GOLD`: the labelled set (default: the committed
  one in evaluation/data; a `koble generate` folder works too);
- `KOBLE_NOTEBOOK_EMBEDDING_CACHE`: an embedding cache file (evaluation.cache), optional;
- `DATABASE_URL` / `KOBLE_DATA_DIR`: as for every `koble` command (notebooks 01-02 only make a
  scratch database there; notebook 03 reads the live tables);
- `KOBLE_NOTEBOOK_SIMULATE`: notebook 03 simulates matches when the database has none, unless "0".
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from evaluation import outcomes, repository, runner
from evaluation.labelled import DATA_DIR
from service.kit.config import Settings

T = TypeVar("T")


def prepare(k: int = 10) -> runner.Prepared:
    """The labelled set imported, embedded and read into memory (evaluation.runner.prepare)."""
    request = runner.Request(
        os.environ.get("KOBLE_NOTEBOOK_PARTICIPANTS", str(DATA_DIR / "participants.jsonl")),
        os.environ.get("KOBLE_NOTEBOOK_GOLD", str(DATA_DIR / "gold.jsonl")),
        k, embedding_cache=os.environ.get("KOBLE_NOTEBOOK_EMBEDDING_CACHE") or None,
    )
    return in_thread(runner.prepare, request, Settings())


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Call a function in a worker thread: a Jupyter kernel runs its own event loop in the main
    thread, and the evaluation pipeline starts one with asyncio.run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def describe(prepared: runner.Prepared) -> str:
    """One line about the prepared set."""
    pairs = sum(len(relevant) for relevant in prepared.inputs.gold.queries.values())
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in prepared.timings.items())
    return (f"{len(prepared.inputs.participants)} participants, {len(prepared.features)} queries, {pairs} gold "
            f"pairs; encoder {prepared.encoder}; {steps}")


async def _histories(simulate: bool, seed: int) -> tuple[list[outcomes.History], int, int]:
    from service.kit.commandline import open_database

    pool = await open_database(Settings())
    try:
        async with pool.acquire() as conn:
            simulated = 0
            if simulate and await repository.match_count(conn) == 0:
                simulated = await outcomes.simulate(conn, seed=seed)
            histories = await outcomes.read_histories(conn)
            gold = outcomes.gold_lines(histories, await repository.answers(conn))
            return histories, simulated, len(gold)
    finally:
        await pool.close()


def pipeline(seed: int = 7) -> tuple[list[outcomes.History], int, int]:
    """(every match's history, matches simulated now, gold lines export-gold would write)."""
    simulate = os.environ.get("KOBLE_NOTEBOOK_SIMULATE", "1") != "0"
    return in_thread(asyncio.run, _histories(simulate, seed))
