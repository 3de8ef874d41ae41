"""`koble serve` on its embedded PostgreSQL and Redis keeps data across restarts and stops its servers."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil

from tests.conftest import API_TOKEN, koble_serve

STUDENT = {
    "kind": "student",
    "name": "Æsa Øvergård",
    "email": "aesa@example.no",
    "domains": ["industrial_tech"],
    "seeks": ["Sommerjobb med robotceller"],
    "offers": ["Programmering i Python"],
}


def _servers_using(folder: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def _embedded_env(data_dir: Path) -> dict[str, str]:
    # Empty URLs mean embedded servers, whatever the calling environment says.
    blank = dict.fromkeys(("DATABASE_URL", "REDIS_URL", "SMTP_URL", "KOBLE_SECRET_KEY"), "")
    return {**blank, "KOBLE_DATA_DIR": str(data_dir), "KOBLE_API_TOKEN": API_TOKEN}


def test_restart_keeps_data_and_the_signing_key(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path / "data")
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with koble_serve(env, tmp_path / "first.log") as base:
        created = httpx.put(f"{base}/api/v1/participants/restart-1", json=STUDENT, headers=headers)
        assert created.status_code in (200, 201), created.text
    key = (tmp_path / "data" / "secret_key").read_text()
    assert _servers_using(tmp_path / "data" / "pgdata") == []  # the embedded PostgreSQL stopped with koble

    with koble_serve(env, tmp_path / "second.log") as base:
        health = httpx.get(f"{base}/healthz").json()
        fetched = httpx.get(f"{base}/api/v1/participants/restart-1", headers=headers)
    assert health.pop("worker") in ("starting", "running")  # the in-process worker (it may still be connecting)
    assert health == {"status": "ok", "database": "ok", "pgvector": "0.6.2", "redis": "ok"}
    assert fetched.status_code == 200 and fetched.json()["name"] == "Æsa Øvergård"
    assert (tmp_path / "data" / "secret_key").read_text() == key
