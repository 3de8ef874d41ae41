"""`koble backup` / `koble restore`: the whole database, vectors included, with PostgreSQL's own tools.

The tools come with pgserver (PostgreSQL 16, a core dependency, so every install has them), else from
PATH. A backup is pg_dump's custom format (compressed, every table and index, migrations' bookkeeping
too). A restore replays it through psql in ONE transaction: a failure leaves the target as it was.
Owners and grants are left out, so a backup of the embedded server restores into the compose one and
back (docs/contracts.md §2).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO

import psycopg

# Replaces everything when `--force` is given: the tables, views and the vector extension live in `public`.
WIPE = "DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"


class BackupError(Exception):
    """A backup or restore that could not be done (the message is the one-line reason)."""


def tool(name: str) -> str:
    """The path of a PostgreSQL client program: pgserver's, else the one on PATH."""
    try:
        import pgserver

        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    except ImportError:  # an install without the embedded server still has the system's tools
        pass
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install PostgreSQL's client programs")
    return found


def _run(command: list[str], what: str) -> None:
    """Run a tool; its last stderr line becomes the error."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what}: {_last_line(done.stderr)}")


def _last_line(stderr: str) -> str:
    """The tool's first `error:` line (it names the cause; hints follow it), else its last line."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line.lower()]
    return (errors or lines or ["failed"])[0 if errors else -1]


def backup(url: str, file: Path) -> int:
    """Dump the database at `url` into `file` (written whole or not at all); its size in bytes."""
    partial = file.with_name(file.name + ".partial")
    try:
        _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
              f"--file={partial}", f"--dbname={url}"], "pg_dump")
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
    return file.stat().st_size


def tables(url: str) -> int:
    """How many tables the database's `public` schema holds (0: an empty target)."""
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    except psycopg.Error as exc:
        raise BackupError(f"cannot reach the database: {_last_line(str(exc))}") from exc
    return int(row[0]) if row else 0


def check_file(file: Path) -> None:
    """Refuse a file that is not a pg_dump archive before touching the database."""
    if not file.is_file():
        raise BackupError(f"{file}: no such file")
    _run([tool("pg_restore"), "--list", str(file)], f"{file}: not a backup made by koble backup")


def restore(url: str, file: Path, force: bool) -> None:
    """Restore `file` into the database at `url`: only into an empty one, unless `force` replaces everything."""
    check_file(file)
    found = tables(url)
    if found and not force:
        raise BackupError(f"the database is not empty ({found} tables); restore into an empty one, "
                          "or pass --force to replace everything in it")
    _replay(url, file, WIPE if force else "")


def _replay(url: str, file: Path, prelude: str) -> None:
    """pg_restore's SQL for `file`, after `prelude`, through psql as one transaction that stops at an error."""
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    restore_cmd = [tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(file)]
    psql_cmd = [tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                f"--dbname={url}", "--file=-"]
    # stderr to files, not pipes: a full pipe nobody reads would stall the tool writing to it.
    with tempfile.TemporaryFile() as dump_err, tempfile.TemporaryFile() as psql_err:
        with subprocess.Popen(restore_cmd, stdout=subprocess.PIPE, stderr=dump_err) as dump, \
             subprocess.Popen(psql_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err,
                              env=env, bufsize=0) as psql:
            assert dump.stdout is not None and psql.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # psql stopped at an error: its stderr says which
                psql.stdin.write(prelude.encode())
                shutil.copyfileobj(dump.stdout, psql.stdin, 1 << 20)
                psql.stdin.close()
        # Leaving the blocks closed pg_restore's output: had psql stopped early, pg_restore ended on SIGPIPE.
        _raise_on_failure(dump.returncode, psql.returncode, dump_err, psql_err)


def _raise_on_failure(dump_code: int, psql_code: int, dump_err: IO[bytes], psql_err: IO[bytes]) -> None:
    """A BackupError naming the first tool that failed, with its last line of stderr."""
    if psql_code != 0:
        psql_err.seek(0)
        raise BackupError(f"restore failed, nothing was changed: {_last_line(psql_err.read().decode())}")
    if dump_code != 0:
        dump_err.seek(0)
        raise BackupError(f"pg_restore: {_last_line(dump_err.read().decode())}")
