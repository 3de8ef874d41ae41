"""What the benchmarks share: free ports, the load average, and `koble serve` as a subprocess."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_avg() -> str:
    """The 1-minute load average, to print next to each figure."""
    return f"{os.getloadavg()[0]:.2f}"


def stop(process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """SIGTERM (uvicorn shuts down and stops its embedded Redis), SIGKILL after `seconds`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def koble_serve(
    url: str, workdir: Path, env: Mapping[str, str], args: Sequence[str] = (),
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`koble serve` on the bench database with its own embedded Redis and no SMTP, plus `env` and
    `args` (e.g. --workers 2); (base URL, process), stopped on exit. Its log is workdir/serve.log."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "SMTP_URL")}
    environment |= {"DATABASE_URL": url, "KOBLE_DATA_DIR": str(workdir / "serve"), "KOBLE_BASE_URL": base, **env}
    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), *args], cwd=ROOT, env=environment,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # our cleanup stops it, not ^C
        )
        try:
            _wait_healthy(base, process, log_path)
            yield base, process
        finally:
            stop(process)


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"koble serve exited: {log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"koble serve did not become healthy: {log_path.read_text()[-3000:]}")
        time.sleep(0.2)
