"""The `koble evaluate` pipeline: files → scratch database → import → embed → features → rank → metrics.

Its files and its JSON: docs/contracts.md §4.

1. Both files are read and checked first (participants with `koble import`'s own validation, gold
   against the participants' external ids); any error stops the run before a database is touched.
2. A scratch database is created on the configured server (evaluation.scratch), migrated, and the
   participants are written with the importer's own batched insert.
3. They are embedded with the configured encoder (`KOBLE_ENCODER`) by the same code the service uses
   (optionally through an embedding cache file, evaluation.cache, so repeated runs encode nothing).
4. For every distinct `a` of the gold file, the ranker's inputs against ALL allowed candidates are
   read once on its exact path (evaluation.features: the rows `rank_all` scores); the scratch
   database is dropped.
5. The chosen variant (evaluation.variants) ranks in memory; metrics (evaluation.metrics) over all
   queries with bootstrap intervals, `constraint_violations` from an independent re-check of the
   top k (evaluation.constraints), and the same metrics per slice (language pair, domain, kinds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from pgvector.asyncpg import register_vector
from tqdm import tqdm

from evaluation import metrics
from evaluation.constraints import Facts, broken, facts_of
from evaluation.features import QueryFeatures, all_features
from evaluation.gold import Gold, parse_gold
from evaluation.scratch import scratch_database
from evaluation.variants import Ranked, Texts, Variant
from service.flows import importer
from service.flows.importer import LineError
from service.kit import database, embedded
from service.kit.commandline import first_line
from service.kit.config import Settings
from service.matching.scoring import Weights
from service.profiles import service as profiles
from service.profiles.schemas import ParticipantImport

log = logging.getLogger(__name__)
LONG_TEXT = 300  # characters: a paragraph-long profile rather than a phrase
# The left-out check below is pure Python over queries x participants; past this many pairs it is skipped.
MAX_PAIRS_CHECKED = 2_000_000


class EvaluationError(Exception):
    """The run cannot go on; `lines` are the messages to print to stderr (exit 1)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = list(lines)


@dataclass(frozen=True)
class Request:
    """What `koble evaluate` was asked: files as typed (errors name them so), k, variant, scores file."""

    participants: str
    gold: str
    k: int = 10
    variant: Variant = "full"
    scores_out: str | None = None
    progress: bool = False
    weights_file: str | None = None  # fitted weights (evaluation.fit) instead of the configured ones
    embedding_cache: str | None = None  # evaluation.cache file: vectors kept between runs
    report: str | None = None  # folder for the Markdown + PNG report (evaluation.report)
    seed: int = 0  # random variant and bootstrap resampling
    resamples: int = 1000


@dataclass(frozen=True)
class Inputs:
    """Both files, checked."""

    participants: list[ParticipantImport]
    gold: Gold


@dataclass
class Outcome:
    """The measured result of one run."""

    summary: metrics.Summary
    violations: int
    seconds: float
    slices: dict[str, metrics.Summary] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    # The pooled weighted Kendall-tau loss (metrics.ranked_kendall_tau_parts) and its 95 % interval.
    kendall_tau_loss: float = 0.5
    kendall_interval: tuple[float, float] = (0.5, 0.5)


@dataclass(repr=False)  # see QueryFeatures: no repr of every query's arrays
class Prepared:
    """Everything ranking needs, in memory: the checked files, each query's features, the facts
    of every participant for the independent constraint check, and the configured weights."""

    inputs: Inputs
    features: dict[str, QueryFeatures]
    facts: dict[str, Facts]
    weights: Weights
    encoder: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def texts(self) -> dict[str, Texts]:
        """Every participant's offers and seeks, by external id (for BM25)."""
        return {p.external_id: Texts(p.offers, p.seeks) for p in self.inputs.participants}

    @property
    def people(self) -> dict[str, ParticipantImport]:
        """Every participant by external id."""
        return {p.external_id: p for p in self.inputs.participants}


# --- 1. Files ---------------------------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EvaluationError([f"koble: {path}: cannot read ({exc.strerror or type(exc).__name__})"]) from exc


def _fail_on(source: str, errors: Sequence[LineError]) -> None:
    if errors:
        raise EvaluationError([error.format(source) for error in errors])


def load_inputs(request: Request) -> Inputs:
    """Read and check both files; raises EvaluationError with every `FILE:LINE: field: reason`."""
    entries, errors = importer.validate(_read(request.participants))
    _fail_on(request.participants, errors)
    participants = [entry.participant for entry in entries if entry.participant is not None]
    if not participants:
        raise EvaluationError([f"koble: {request.participants}: no participants"])
    gold, gold_errors = parse_gold(_read(request.gold), {p.external_id for p in participants})
    _fail_on(request.gold, gold_errors)
    if not gold.queries:
        raise EvaluationError([f"koble: {request.gold}: no gold pairs"])
    return Inputs(participants, gold)


# --- 2-4. Scratch database, import, embed, rank --------------------------------------------------


def prepare(request: Request, settings: Settings) -> Prepared:
    """Steps 1-4: the checked files and every query's features, from a scratch database since dropped."""
    inputs = load_inputs(request)
    timings: dict[str, float] = {}
    try:
        with step(timings, "database"):
            server = _server_url(settings)
        with scratch_database(server) as url:
            with step(timings, "migrate"):
                database.migrate(url)
            prepared = asyncio.run(_pipeline(url, inputs, request, settings, timings))
    finally:
        embedded.stop_all()
    prepared.timings = timings
    return prepared


def load_weights(path: str | None, configured: Weights) -> Weights:
    """The configured weights with a weights file's values (evaluation.fit format) laid over them."""
    if path is None:
        return configured
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))["weights"]
        fitted: dict[str, Any] = {name: float(value) for name, value in values.items()}
        return replace(configured, **fitted)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvaluationError([f"koble: {path}: not a weights file ({first_line(exc)})"]) from exc


def _server_url(settings: Settings) -> str:
    try:
        return embedded.postgres_url(settings)
    except Exception as exc:  # any failure to start the embedded server is one line
        raise EvaluationError([f"koble: cannot open the database server: {first_line(exc)}"]) from exc


@contextmanager
def step(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time a step (reported on stderr, not in the JSON)."""
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    log.info("%s: %.2f s", name, timings[name])


async def _pipeline(
    url: str, inputs: Inputs, request: Request, settings: Settings, timings: dict[str, float]
) -> Prepared:
    from service.matching import service as matching

    conn = await asyncpg.connect(url, server_settings={"plan_cache_mode": "force_custom_plan"})
    try:
        await register_vector(conn)
        with step(timings, "import"):
            ids = await import_participants(conn, inputs.participants, request.progress)
        with step(timings, "embed"):
            encoder_name = await embed(conn, settings, list(ids.values()), request.progress, request.embedding_cache)
        facts = await load_facts(conn)
        config = matching.ranker_config(encoder_name)
        with step(timings, "features"):
            features = await all_features(conn, ids, list(inputs.gold.queries), encoder_name, config)
        return Prepared(inputs, features, facts, config.weights, encoder_name)
    finally:
        await conn.close()


async def import_participants(
    conn: asyncpg.Connection, participants: Sequence[ParticipantImport], progress: bool
) -> dict[str, int]:
    """Write the participants with the importer's own batched insert; external id -> id."""
    await profiles.write_import(conn, profiles.plan_import(participants, {}), progress)
    rows = await conn.fetch("SELECT id, external_id FROM participants")
    return {row["external_id"]: row["id"] for row in rows}


async def load_facts(conn: asyncpg.Connection) -> dict[str, Facts]:
    """What the independent constraint check needs, from the rows as stored."""
    rows = await conn.fetch(
        "SELECT external_id, kind, domains, engagements, available_from, available_until, hidden_at FROM participants"
    )
    return {row["external_id"]: facts_of(dict(row)) for row in rows}


async def embed(
    conn: asyncpg.Connection, settings: Settings, ids: list[int], progress: bool, cache: str | None = None
) -> str:
    """Embed everyone with the configured encoder (through the cache file if given); the model name."""
    from evaluation.cache import CachedEncoder
    from service.matching import embedding, encoders

    encoder: encoders.Encoder = encoders.get_encoder(settings.koble_encoder)
    if cache:
        encoder = CachedEncoder(encoder, Path(cache))
    with tqdm(total=len(ids), desc="embedding", unit=" participants", file=sys.stderr, disable=not progress) as bar:
        # No HNSW index: evaluation ranks on the exact path, and building one would only cost time.
        await embedding.embed_participants(conn, encoder, ids, build_index=False, progress=bar.update)
    if isinstance(encoder, CachedEncoder):
        encoder.save()
    return encoder.name


# --- 5. Metrics ----------------------------------------------------------------------------------


def measure(
    ranked: Ranked, facts: Mapping[str, Facts], inputs: Inputs, k: int, seed: int = 0, resamples: int = 1000
) -> Outcome:
    """Metrics over all queries with bootstrap intervals, the violation count and per-slice metrics."""
    rankings = orderings(ranked)
    _warn_about(rankings, facts, inputs.gold)
    per_query = metrics.per_query(rankings, inputs.gold.queries, k)
    summary = metrics.summarise(per_query)
    violations = count_violations(rankings, facts, k)
    intervals = metrics.bootstrap_intervals(per_query, resamples, seed)
    loss, low, high = metrics.kendall_interval(per_query, resamples, seed)
    return Outcome(summary, violations, 0.0, slices(rankings, inputs, k), intervals=intervals,
                   kendall_tau_loss=loss, kendall_interval=(low, high))


def orderings(ranked: Ranked) -> dict[str, list[str]]:
    """Candidates only, best first, per query."""
    return {query: [b for b, _ in pairs] for query, pairs in ranked.items()}


def count_violations(rankings: Mapping[str, Sequence[str]], facts: Mapping[str, Facts], k: int) -> int:
    """Suggested pairs (top k) that break a hard constraint, each logged with the constraint's name."""
    count = 0
    for query, ranking in rankings.items():
        for candidate in ranking[:k]:
            if problems := broken(facts[query], facts[candidate]):
                count += 1
                log.error("constraint violation: %s suggested to %s (%s)", candidate, query, ", ".join(problems))
    return count


def _warn_about(rankings: Mapping[str, Sequence[str]], facts: Mapping[str, Facts], gold: Gold) -> None:
    """Stderr notes on gold pairs that can never be suggested and allowed candidates the ranker left out."""
    for (a, b), line in gold.lines.items():
        if problems := broken(facts[a], facts[b]):
            log.warning("gold line %d: %s -> %s breaks a hard constraint (%s)", line, a, b, ", ".join(problems))
    if len(rankings) * len(facts) > MAX_PAIRS_CHECKED:
        return
    for query, ranking in rankings.items():
        allowed = {c for c in facts if c != query and not broken(facts[query], facts[c])}
        if missing := allowed - set(ranking):
            log.warning("%s: the ranker left out %d allowed candidate(s)", query, len(missing))


Keep = Callable[[ParticipantImport, ParticipantImport], bool]
SLICES: dict[str, Keep] = {
    "nb-nb": lambda a, b: a.language == "nb" and b.language == "nb",
    "en-en": lambda a, b: a.language == "en" and b.language == "en",
    "cross": lambda a, b: a.language != b.language,
    "long texts": lambda a, b: any(len(text) > LONG_TEXT for text in [*b.offers, *b.seeks]),
}
DOMAIN_NAMES = ("bioeconomy", "cyber_ict", "industrial_tech")
KIND_NAMES = ("student", "researcher", "company", "public_body")


def _in_domain(domain: str) -> Keep:
    return lambda a, b: domain in a.domains and domain in b.domains


def _kinds(query_kind: str, candidate_kind: str) -> Keep:
    return lambda a, b: a.kind == query_kind and b.kind == candidate_kind


def all_slices() -> dict[str, Keep]:
    """The language slices, one slice per shared domain, and one per (query kind, candidate kind)."""
    found = dict(SLICES)
    found.update({f"domain {d}": _in_domain(d) for d in DOMAIN_NAMES})
    found.update({f"{a} → {b}": _kinds(a, b) for a in KIND_NAMES for b in KIND_NAMES if a != b})
    return found


def slices(
    rankings: Mapping[str, Sequence[str]], inputs: Inputs, k: int, chosen: Mapping[str, Keep] | None = None
) -> dict[str, metrics.Summary]:
    """The metrics restricted to pairs of one sort (language pair, domain, kinds; default: SLICES).

    A slice keeps, for each query, only the candidates of that sort in its ranking and its gold;
    queries left without a relevant candidate are not counted in the slice (an empty slice is left out).
    """
    people = {p.external_id: p for p in inputs.participants}
    result = {}
    for name, keep in (SLICES if chosen is None else chosen).items():
        sub_rankings, sub_gold = {}, {}
        for query, relevant in inputs.gold.queries.items():
            a = people[query]
            gold = {b: rel for b, rel in relevant.items() if keep(a, people[b])}
            if gold:
                sub_gold[query] = gold
                sub_rankings[query] = [b for b in rankings.get(query, ()) if keep(a, people[b])]
        if sub_gold:
            result[name] = metrics.evaluate_rankings(sub_rankings, sub_gold, k)
    return result


def write_scores(path: str, ranked: Ranked) -> None:
    """One JSON line {"a", "b", "score", "rank"} per ranked candidate per query (rank from 1)."""
    with Path(path).open("w", encoding="utf-8") as out:
        for query, pairs in ranked.items():
            for rank, (candidate, score) in enumerate(pairs, start=1):
                out.write(json.dumps({"a": query, "b": candidate, "score": score, "rank": rank}) + "\n")


def as_json(outcome: Outcome, k: int) -> dict[str, Any]:
    """The one JSON object `koble evaluate --json` prints: exactly the contract's keys."""
    s = outcome.summary
    return {
        "precision_at_k": s.precision_at_k, "recall_at_k": s.recall_at_k, "ndcg_at_k": s.ndcg_at_k,
        "mrr": s.mrr, "coverage": s.coverage, "constraint_violations": outcome.violations,
        "k": k, "queries": s.queries, "seconds": round(outcome.seconds, 3),
        "kendall_tau_loss": outcome.kendall_tau_loss,
    }


if __name__ == "__main__":  # pragma: no cover - use `koble evaluate`
    sys.exit("use: koble evaluate --participants FILE --gold FILE")
