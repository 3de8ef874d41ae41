"""The worker's log lines: routine cron jobs' start and end lines are debug lines (pure logging, no I/O)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from service.kit import logs


@pytest.fixture
def worker_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with the routine-jobs filter for cron:sweep_outbox, writing to a buffer at INFO."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logger = logging.getLogger("test.arq.worker")
    routine = logs.RoutineJobsQuiet({"cron:sweep_outbox"})
    logger.addFilter(routine)
    yield logger, buffer
    logger.removeFilter(routine)
    root.removeHandler(handler)
    root.setLevel(level)


def test_routine_cron_lines_are_left_out_at_info(worker_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = worker_log
    start, end = logs.JOB_LINES
    logger.info(start, 1.0, "cron:sweep_outbox", "()", "")
    logger.info(end, 0.0, "cron:sweep_outbox", "3")
    logger.info(start, 1.0, "cron:send_digests", "()", "")  # hourly: kept
    logger.info(start, 0.1, "4a1b:deliver_email", "(17,)", "")  # a job, not a cron run: kept
    logger.exception("%6.2fs ! %s failed, %s: %s", 0.2, "cron:sweep_outbox", "OSError", "boom")  # kept
    lines = buffer.getvalue().splitlines()
    assert [line.strip() for line in lines[:3]] == [
        "1.00s → cron:send_digests(())", "0.10s → 4a1b:deliver_email((17,))",
        "0.20s ! cron:sweep_outbox failed, OSError: boom"]
    assert not any("sweep_outbox ●" in line or "→ cron:sweep_outbox" in line for line in lines)


def test_routine_cron_lines_show_at_debug(worker_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = worker_log
    logging.getLogger().setLevel(logging.DEBUG)
    logger.info(logs.JOB_LINES[1], 0.0, "cron:sweep_outbox", "3")
    assert [line.strip() for line in buffer.getvalue().splitlines()] == ["0.00s ← cron:sweep_outbox ● 3"]
