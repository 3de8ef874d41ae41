"""The service without the analysts' tools: what `pip install .` (no extras) must be able to run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# scikit-learn is the service's own since the map clusters themes (docs/architecture.md, rule 5), but only
# the recomputation imports it: start-up stays without it (1.15 s of 2.66 s when it was imported there).
ANALYSTS_TOOLS = {"sklearn", "matplotlib", "bm25s", "nbclient"}
ANALYSTS_COMMANDS = ("evaluate", "generate", "fit-weights", "export-gold")
HINT = "koble evaluate needs the analysts' tools: pip install 'koble[eval]'"


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -c code args` from the repository root, this tree first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def imported_tools(modules: str) -> set[str]:
    """Which analysts' tools a fresh interpreter has loaded after importing `modules`."""
    done = python(f"import json, sys, {modules}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))")
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout)) & ANALYSTS_TOOLS


@pytest.mark.parametrize("modules", ["service.app, service.worker", "service.cli", "service.flows.importer"])
def test_the_service_imports_none_of_the_analysts_tools(modules: str) -> None:
    assert imported_tools(modules) == set()


def registered() -> set[str]:
    """The `koble.commands` entry points this installation declares."""
    return {entry.name for entry in entry_points(group="koble.commands")}


@pytest.mark.skipif(importlib.util.find_spec("bm25s") is None, reason="the eval extra is not installed")
def test_koble_help_lists_the_analysts_commands() -> None:
    assert registered() >= set(ANALYSTS_COMMANDS), "stale install: run pip install -e '.[dev]' (make test does)"
    done = python("from service.cli import main; main()", "--help")
    assert done.returncode == 0, done.stderr
    for command in ANALYSTS_COMMANDS:
        assert f" {command} " in done.stdout


MAIN = "import sys; sys.argv[0] = 'koble'; from service.cli import main; main()"


def test_without_the_extra_a_command_says_what_to_install() -> None:
    assert "evaluate" in registered(), "stale install: run pip install -e '.[dev]' (make test does)"
    code = "import evaluation.cli; evaluation.cli.EXTRA_MODULES = ('koble_not_installed',); " + MAIN
    done = python(code, "evaluate", "--participants", "p.jsonl", "--gold", "g.jsonl")
    assert (done.returncode, done.stdout, done.stderr.strip()) == (1, "", HINT)


def test_without_the_evaluation_package_a_stand_in_says_what_to_install() -> None:
    assert "evaluate" in registered(), "stale install: run pip install -e '.[dev]' (make test does)"
    code = "import sys; sys.modules['evaluation'] = None; " + MAIN
    done = python(code, "evaluate", "--participants", "p.jsonl", "--k", "3")
    assert (done.returncode, done.stdout, done.stderr.strip()) == (1, "", HINT)


@pytest.mark.skipif(importlib.util.find_spec("bm25s") is None, reason="the eval extra is not installed")
def test_the_variant_option_offers_exactly_the_variants() -> None:
    from evaluation.cli import EvalVariant
    from evaluation.variants import VARIANTS

    assert tuple(variant.value for variant in EvalVariant) == VARIANTS
