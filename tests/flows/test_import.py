"""`koble import` and `koble demo`: the real CLI on the real database, Redis and SMTP server.

The validation functions are also tested on their own (no database) for tricky inputs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.flows import importer
from service.flows.importer import LineError, validate
from service.kit.config import Settings
from service.profiles import repository
from service.profiles import service as profiles
from service.profiles.demo import demo_participants
from service.profiles.schemas import STUDENT_CAPACITY, ParticipantFields, ParticipantImport
from tests.conftest import Mailbox, free_port, link_in, run_worker


def row(n: int, **changes: Any) -> dict[str, Any]:
    """A valid line of a participant file; `changes` replace or add keys (None removes one)."""
    base: dict[str, Any] = {
        "external_id": f"p-{n:05d}",
        "kind": "student",
        "name": f"Person {n}",
        "email": f"person{n}@example.org",
        "domains": ["cyber_ict"],
        "offers": "Python and log analysis",
        "seeks": ["a thesis on intrusion detection"],
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def jsonl(*lines: dict[str, Any] | str) -> bytes:
    """A file body: dicts as JSON, strings verbatim (for broken lines), one per line."""
    return "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines).encode()


def cli_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment of a `koble` subprocess pointed at the test servers."""
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "SMTP_URL": settings.smtp_url or "",
        "KOBLE_DATA_DIR": str(tmp_path / "cli-data"),
        "KOBLE_SECRET_KEY": "cli-secret",
        "KOBLE_BASE_URL": "http://koble.test",
        **extra,
    }


async def koble(settings: Settings, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m service ARGS` in tmp_path to completion (killed after 120 s)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service", *args],
        env=cli_env(settings, tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def import_file(
    settings: Settings, tmp_path: Path, body: bytes, *options: str, name: str = "people.jsonl", **env: str
) -> subprocess.CompletedProcess[str]:
    """Write `body` to tmp_path/name and run `koble import name OPTIONS` there."""
    (tmp_path / name.removeprefix("./")).write_bytes(body)
    return await koble(settings, tmp_path, "import", name, *options, **env)


async def count(conn: asyncpg.Connection, table: str = "participants") -> int:
    """Rows in a table."""
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def count_interests(conn: asyncpg.Connection) -> int:
    """Interest texts of every participant (the number an unchanged re-import finds stored)."""
    return int(await conn.fetchval("SELECT sum(cardinality(offers) + cardinality(seeks)) FROM participants"))


async def snapshot(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(external_id, xmin) of every participant: xmin changes whenever a row is written."""
    rows = await conn.fetch("SELECT external_id, xmin::text AS xmin FROM participants ORDER BY external_id")
    return [(r["external_id"], r["xmin"]) for r in rows]


async def add_web_participant(conn: asyncpg.Connection, external_id: str, email: str) -> None:
    """A participant who registered on the web (not from any file)."""
    fields = ParticipantFields(kind="company", name="Web AS", email=email, domains=["bioeconomy"], offers=["x"])
    await repository.insert(conn, external_id, profiles.to_columns(fields), "web", verified=True, consent=True)


# --- The CLI on the real servers ---------------------------------------------------------------


async def test_bad_lines_are_all_reported_and_nothing_is_written(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await add_web_participant(conn, "web-taken", "Taken@Example.org")
    body = jsonl(
        row(1),
        row(2, colour="blue"),
        '{"external_id": "p-3", "kind": "student",',
        "",
        row(1, email="other@example.org"),
        row(6, available_from="2026-08-01", available_until="2026-06-01"),
        row(7, email="taken@example.org"),
        row(8, kind="teacher"),
        row(9, domains=["cyber_ict", "space"]),
        "[1, 2]",
        row(11, email="PERSON1@example.org"),
        row(12, seeks=None, capacity=0),
    )
    before = await count(conn)
    result = await import_file(settings, tmp_path, body, name="./people.jsonl")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "./people.jsonl:2: colour: unknown key",
        "./people.jsonl:3: -: invalid JSON: Expecting property name enclosed in double quotes (column 42)",
        "./people.jsonl:5: external_id: duplicate of line 1",
        "./people.jsonl:6: available_until: must be on or after available_from",
        "./people.jsonl:7: email: already used by participant web-taken",
        "./people.jsonl:8: kind: must be one of student, researcher, company, public_body",
        "./people.jsonl:9: domains.1: must be one of bioeconomy, cyber_ict, industrial_tech",
        "./people.jsonl:10: -: must be a JSON object, not an array",
        "./people.jsonl:11: email: duplicate of line 1",
        "./people.jsonl:12: capacity: must be at least 1",
        "./people.jsonl:12: seeks: required",
    ]
    assert await count(conn) == before == 1


async def test_one_bad_last_line_keeps_every_good_line_out(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    first = await import_file(settings, tmp_path, jsonl(*(row(n) for n in range(5))))
    assert first.returncode == 0, first.stderr
    before = await snapshot(conn)
    changed = [row(n, name=f"Renamed {n}") for n in range(5)]
    new = [row(n) for n in range(5, 1000)]
    result = await import_file(settings, tmp_path, jsonl(*changed, *new, row(1000, language="de")))
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["people.jsonl:1001: language: must be one of nb, en"]
    assert await count(conn) == 5
    assert await snapshot(conn) == before  # not even the renames went in


async def test_good_file_creates_verified_participants_with_default_capacity(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    body = b"\xef\xbb\xbf" + jsonl(
        row(1),
        row(2, kind="company", offers=["internships", "a summer job"], seeks=""),
        row(3, kind="researcher", capacity=5, available_from="2026-01-01", available_until=None),
    )
    result = await import_file(settings, tmp_path, body)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported 3 participants: 3 created, 0 updated, 0 unchanged",
        "embedded 3 participants: 4 texts encoded, 2 reused",  # row() repeats its texts
    ]
    assert await count(conn, "side_embeddings") == 5  # offers and seeks of each, but p-00002 seeks nothing
    rows = {r["external_id"]: r for r in await conn.fetch("SELECT * FROM participants")}
    assert {key: r["capacity"] for key, r in rows.items()} == {"p-00001": STUDENT_CAPACITY, "p-00002": 3, "p-00003": 5}
    assert all(r["verified_at"] is not None and r["source"] == "import" for r in rows.values())
    assert all(r["consent_at"] is None for r in rows.values())
    assert rows["p-00001"]["offers"] == ["Python and log analysis"]
    assert rows["p-00002"]["offers"] == ["internships", "a summer job"] and rows["p-00002"]["seeks"] == []
    assert rows["p-00003"]["available_from"].isoformat() == "2026-01-01"
    assert await count(conn, "outbox") == 0  # no --notify, no email


async def test_reimport_is_unchanged_and_a_changed_line_updates(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    lines = [row(n) for n in range(1, 4)]
    assert (await import_file(settings, tmp_path, jsonl(*lines))).returncode == 0
    before = await snapshot(conn)
    again = await import_file(settings, tmp_path, jsonl(*lines))
    assert again.stdout.splitlines() == [
        "imported 3 participants: 0 created, 0 updated, 3 unchanged",
        "embedded 3 participants: 0 texts encoded, 6 reused",
    ]
    assert await snapshot(conn) == before  # nothing written at all
    lines[1] = row(2, name="New Name", domains=["bioeconomy", "cyber_ict"])
    changed = await import_file(settings, tmp_path, jsonl(*lines, row(4)))
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines()[0] == "imported 4 participants: 1 created, 1 updated, 2 unchanged"
    updated = await conn.fetchrow("SELECT * FROM participants WHERE external_id = 'p-00002'")
    assert updated["name"] == "New Name" and updated["domains"] == ["bioeconomy", "cyber_ict"]
    assert updated["verified_at"] is not None


async def test_notify_welcomes_only_new_participants(
    settings: Settings, conn: asyncpg.Connection, mailbox: Mailbox, tmp_path: Path
) -> None:
    assert (await import_file(settings, tmp_path, jsonl(row(1), row(2)))).returncode == 0
    result = await import_file(settings, tmp_path, jsonl(row(1), row(2), row(3), row(4, language="en")), "--notify")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "imported 4 participants: 2 created, 0 updated, 2 unchanged"
    assert lines[2] == "queued 2 welcome emails"
    await run_worker(settings)
    assert sorted(message["To"] for message in mailbox.messages) == ["person3@example.org", "person4@example.org"]
    assert link_in(mailbox.to("person4@example.org")[0]).startswith("http://koble.test/auth/")
    statuses = await conn.fetch("SELECT status FROM outbox")
    assert [r["status"] for r in statuses] == ["sent", "sent"]


async def test_notify_without_redis_leaves_the_welcome_in_the_outbox(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}"
    result = await import_file(settings, tmp_path, jsonl(row(1)), "--notify", REDIS_URL=dead_redis)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].startswith("queued 1 welcome email (Redis is unreachable")
    pending = await conn.fetch("SELECT to_address, status FROM outbox")
    assert [(r["to_address"], r["status"]) for r in pending] == [("person1@example.org", "pending")]


async def test_demo_twice_writes_nothing_the_second_time(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    total = len(demo_participants())
    first = await koble(settings, tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"imported {total} participants: {total} created, 0 updated, 0 unchanged"
    before = await snapshot(conn)
    started = time.perf_counter()
    second = await koble(settings, tmp_path, "demo")
    seconds = time.perf_counter() - started
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f"imported {total} participants: 0 created, 0 updated, {total} unchanged",
        f"embedded {total} participants: 0 texts encoded, {await count_interests(conn)} reused",
    ]
    assert await snapshot(conn) == before and len(before) == total
    assert await count(conn, "outbox") == 0
    assert seconds < 15, f"koble demo took {seconds:.1f} s"


async def test_missing_file_fails_with_one_line(settings: Settings, tmp_path: Path) -> None:
    missing = await koble(settings, tmp_path, "import", "nowhere.jsonl")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == ["koble: nowhere.jsonl: no such file"]


async def test_unreadable_file_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A directory cannot be read as a file, whoever runs the tests (root reads any mode-000 file).
    assert await importer.run(tmp_path) == 1
    assert capsys.readouterr().err.splitlines() == [f"koble: {tmp_path}: cannot read (Is a directory)"]


async def test_ten_thousand_lines_import_in_seconds(
    settings: Settings, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    body = jsonl(*(row(n, kind="student" if n % 2 else "company") for n in range(10_000)))
    started = time.perf_counter()
    result = await import_file(settings, tmp_path, body)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported 10000 participants: 10000 created, 0 updated, 0 unchanged",
        # Too many to embed here: the worker does it, in jobs, while the service keeps answering.
        "embedding 10000 participants in the background: the worker embeds them now",
    ]
    assert await count(conn) == 10_000
    print(f"\n10,000 lines imported by the CLI in {seconds:.2f} s")
    assert seconds < 30


# --- Validation on its own (no database) -------------------------------------------------------


def test_bom_blank_lines_and_crlf_are_tolerated() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(row(1)).encode() + b"\r\n\r\n   \n" + json.dumps(row(2)).encode() + b"\r\n"
    entries, errors = validate(body)
    assert errors == []
    assert [(entry.line, entry.external_id) for entry in entries] == [(1, "p-00001"), (4, "p-00002")]


def test_a_bom_that_is_not_at_the_start_is_an_error() -> None:
    _, errors = validate(jsonl(row(1)) + b"\xef\xbb\xbf" + jsonl(row(2)))
    assert [(e.line, e.field) for e in errors] == [(2, "-")]
    assert errors[0].reason.startswith("invalid JSON")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('"just text"', "must be a JSON object, not a string"),
        ("42", "must be a JSON object, not a number"),
        ("null", "must be a JSON object, not null"),
        ("true", "must be a JSON object, not true or false"),
        ("[]", "must be a JSON object, not an array"),
    ],
)
def test_non_objects_are_line_errors(line: str, reason: str) -> None:
    entries, errors = validate(line.encode() + b"\n")
    assert entries == []
    assert errors == [LineError(1, "-", reason)]


def test_offers_as_a_string_becomes_one_interest() -> None:
    entries, errors = validate(jsonl(row(1, offers="  welding and 3D printing  ", seeks=[])))
    assert errors == []
    participant = entries[0].participant
    assert participant is not None
    assert participant.offers == ["welding and 3D printing"] and participant.seeks == []
    assert participant.effective_capacity() == STUDENT_CAPACITY


def test_field_errors_name_the_key_and_say_what_is_wrong() -> None:
    line = row(1, capacity="2", available_from="2026-13-01", engagements="thesis", offers=5, email="no-at-sign")
    _, errors = validate(jsonl(line, row(2, offers="", seeks=[]), row(3, domains=[], name="  ")))
    assert [error.format("f") for error in errors] == [
        "f:1: email: not a valid email address (An email address must have an @-sign)",
        "f:1: engagements: must be a list",
        "f:1: available_from: must be a date written YYYY-MM-DD (month value is outside expected range of 1-12)",
        "f:1: capacity: must be a whole number",
        "f:1: offers: must be a string or a list of strings",
        "f:2: offers: offers and seeks cannot both be empty",
        "f:3: name: must not be empty",
        "f:3: domains: must list at least one of bioeconomy, cyber_ict, industrial_tech",
    ]


def test_invalid_utf8_is_reported_on_its_line() -> None:
    _, errors = validate(jsonl(row(1)) + b'{"name": "J\xf8rgen"}\n')
    assert errors == [LineError(2, "-", "invalid UTF-8 at byte 12 of the line")]


def test_duplicates_are_found_even_on_otherwise_bad_lines() -> None:
    _, errors = validate(jsonl(row(1), row(2, external_id=" p-00001 ", kind="x"), row(3, email="Person1@EXAMPLE.org")))
    assert [error.format("f") for error in errors] == [
        "f:2: kind: must be one of student, researcher, company, public_body",
        "f:2: external_id: duplicate of line 1",
        "f:3: email: duplicate of line 1",
    ]


def test_plan_sorts_into_created_updated_and_unchanged() -> None:
    same, renamed, new = (ParticipantImport.model_validate(row(n)) for n in (1, 2, 3))
    stored = {
        "p-00001": {"id": 11, **profiles.to_columns(same)},
        "p-00002": {"id": 12, **profiles.to_columns(same), "name": "Old Name"},
    }
    plan = profiles.plan_import([same, renamed, new], stored)
    assert [external_id for external_id, _ in plan.creates] == ["p-00003"]
    assert [(participant_id, fields["name"]) for participant_id, fields in plan.updates] == [(12, "Person 2")]
    assert plan.unchanged == 1
    assert plan.summary() == "imported 3 participants: 1 created, 1 updated, 1 unchanged"


async def test_progress_bar_goes_to_stderr_on_a_terminal(
    settings: Settings, conn: asyncpg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process, as the CLI calls it when stderr is a terminal (a subprocess has no terminal).
    assert await importer.import_data("people.jsonl", jsonl(row(1), row(2)), notify=False, progress=True,
                                      settings=settings) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "imported 2 participants: 2 created, 0 updated, 0 unchanged"
    assert "importing: 100%" in err and "2/2" in err
    assert await count(conn) == 2


async def test_a_conflict_while_writing_rolls_back_the_whole_import(conn: asyncpg.Connection) -> None:
    # As if another process imported p-00002 between the checks and the write.
    await add_web_participant(conn, "p-00002", "someone@example.org")
    participants = [ParticipantImport.model_validate(row(n)) for n in (1, 2, 3)]
    with pytest.raises(asyncpg.UniqueViolationError):
        await profiles.write_import(conn, profiles.plan_import(participants, {}), progress=False)
    assert [external_id for external_id, _ in await snapshot(conn)] == ["p-00002"]  # p-00001 is gone too
