"""The demo-data generator yields a valid, varied and reproducible participant file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from importlib import resources
from pathlib import Path

from service.profiles.demo import ORG_TOPICS, PROGRAMMES, demo_participants, write_jsonl
from service.profiles.schemas import STUDENT_CAPACITY, ParticipantImport

ROWS = demo_participants()


def _csv_names() -> set[str]:
    """Names in the packaged CSV, read independently of the generator."""
    source = resources.files("service.profiles") / "data" / "gjovik_entities.csv"
    return {row["name"] for row in csv.DictReader(io.StringIO(source.read_text(encoding="utf-8")))}


def test_about_150_rows() -> None:
    assert 140 <= len(ROWS) <= 160
    kinds = Counter(row["kind"] for row in ROWS)
    assert kinds["student"] == 80 and kinds["researcher"] == 25


def test_all_kinds_and_both_languages() -> None:
    assert {row["kind"] for row in ROWS} == {"student", "researcher", "company", "public_body"}
    languages = Counter(row["language"] for row in ROWS)
    assert set(languages) == {"nb", "en"}
    assert 0.5 <= languages["nb"] / len(ROWS) <= 0.7  # about 60 % Bokmål


def test_ids_and_emails_unique() -> None:
    ids = [row["external_id"] for row in ROWS]
    emails = [str(row["email"]) for row in ROWS]
    assert len(set(ids)) == len(ids)
    assert len(set(emails)) == len(emails)
    for email in emails:
        assert email.isascii() and email == email.lower()
        assert email.endswith("@demo.koble.example")


def test_every_row_validates() -> None:
    for row in ROWS:
        ParticipantImport.model_validate(row)


def test_rows_are_plausible() -> None:
    for row in ROWS:
        profile = ParticipantImport.model_validate(row)
        assert 1 <= len(profile.offers) <= 3 and 1 <= len(profile.seeks) <= 3
        assert profile.engagements
        if profile.available_from and profile.available_until:
            assert profile.available_from <= profile.available_until
        assert dt.date(2026, 8, 1) <= (profile.available_from or dt.date(2027, 1, 1)) <= dt.date(2027, 12, 31)
        allowed = (STUDENT_CAPACITY,) if profile.kind == "student" else range(1, 6)
        assert profile.capacity in allowed


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert demo_participants(seed=7) == demo_participants(seed=7)
    assert demo_participants(seed=7) != demo_participants(seed=8)
    assert demo_participants() == ROWS


def test_organisations_come_from_the_csv() -> None:
    names = _csv_names()
    assert set(ORG_TOPICS) <= names and set(PROGRAMMES) <= names
    for row in ROWS:
        if row["kind"] in ("company", "public_body"):
            assert row["organisation"] in names
        if str(row["external_id"]).startswith("demo-org-") and row["name"] != row["organisation"]:
            assert row["name"] not in names  # a contact person, never another organisation


def test_write_jsonl_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "demo.jsonl"
    write_jsonl(ROWS, target)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == ROWS
