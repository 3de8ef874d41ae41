"""The restore drill: `koble backup` of a database with vectors, `koble restore` into a new embedded one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import numpy as np
import pgserver
import pytest
from pgvector.asyncpg import register_vector

from service.kit import backup
from tests.factories import MakeMatch, MakeParticipant
from tests.support import public_tables

ROOT = Path(__file__).resolve().parents[2]


def koble(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `koble ARGS` from this tree with these environment variables (empty: embedded servers)."""
    blank = dict.fromkeys(("DATABASE_URL", "REDIS_URL", "SMTP_URL"), "")
    full = {**os.environ, **blank, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "service", *args], env=full, capture_output=True, text=True,
                          timeout=120, check=False)


async def snapshot(url: str) -> tuple[dict[str, int], np.ndarray]:
    """Row counts of every public table, and the first side vector."""
    conn = await asyncpg.connect(url)
    try:
        await register_vector(conn)
        counts = {table: await conn.fetchval(f'SELECT count(*) FROM "{table}"') for table in await public_tables(conn)}
        vector = await conn.fetchval("SELECT embedding FROM side_embeddings ORDER BY participant_id, side LIMIT 1")
    finally:
        await conn.close()
    return counts, np.asarray(vector)


async def test_backup_restores_into_a_new_data_folder_vectors_included(
    pg_url: str, tmp_path: Path, make_participant: MakeParticipant, make_match: MakeMatch,
) -> None:
    student = await make_participant("student", name="Backup Student")
    company = await make_participant("company", name="Backup AS")
    await make_match(student, company, "introduced")
    before = await snapshot(pg_url)
    assert before[0]["side_embeddings"] > 0 and before[0]["participants"] == 2

    file = tmp_path / "koble.dump"
    written = koble("backup", str(file), DATABASE_URL=pg_url)
    assert written.returncode == 0, written.stderr
    data = tmp_path / "new-data"
    restored = koble("restore", str(file), KOBLE_DATA_DIR=str(data))
    assert restored.returncode == 0, restored.stderr
    print(written.stdout, restored.stdout)  # the drill's timings, for the record (pytest -s)

    server = pgserver.get_server(data / "pgdata", cleanup_mode="stop")
    try:
        url = str(server.get_uri())
        after = await snapshot(url)
        assert after[0] == before[0]
        np.testing.assert_array_equal(after[1], before[1])
        await refuses_a_database_that_is_not_empty(file, url, tables=len(after[0]))
    finally:
        server.cleanup()


async def refuses_a_database_that_is_not_empty(file: Path, url: str, tables: int) -> None:
    """Without --force a second restore changes nothing; with it the backup replaces what changed."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE participants SET name = 'Changed'")
        refused = koble("restore", str(file), DATABASE_URL=url)
        assert refused.returncode == 1
        assert refused.stderr.strip().endswith(
            f"koble: the database is not empty ({tables} tables); restore into an empty one, "
            "or pass --force to replace everything in it"), refused.stderr
        assert await conn.fetchval("SELECT count(*) FROM participants WHERE name = 'Changed'") == 2
        forced = koble("restore", str(file), "--force", DATABASE_URL=url)
        assert forced.returncode == 0, forced.stderr
        names = {row["name"] for row in await conn.fetch("SELECT name FROM participants")}
        assert names == {"Backup Student", "Backup AS"}
    finally:
        await conn.close()


def test_restore_refuses_what_is_not_a_backup_before_touching_the_database(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a dump")
    done = koble("restore", str(junk), DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert done.returncode == 1
    assert f"koble: {junk}: not a backup made by koble backup: pg_restore: error:" in done.stderr
    with pytest.raises(backup.BackupError, match=r"absent\.dump: no such file"):
        backup.restore("postgresql://nobody@127.0.0.1:1/none", tmp_path / "absent.dump", force=True)


def test_backup_of_an_unreachable_database_says_so_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match=r"^pg_dump: .*127\.0\.0\.1"):
        backup.backup("postgresql://nobody@127.0.0.1:1/none", tmp_path / "x.dump")
    assert list(tmp_path.iterdir()) == []
