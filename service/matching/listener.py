"""The I/O that keeps `memory.ReadTimeMemory` exact: a LISTEN connection and the exposure writer.

`ReadTimeSync.start` (in `koble serve`'s lifespan) runs two tasks:
- the listener: a dedicated connection LISTENing on `memory.CHANNEL`; on every (re)connection the
  memory forgets everything once LISTEN is in place (no change can fall between the two); a ping every
  `PING_SECONDS` proves the connection alive, and a lost one makes the memory unusable at once (requests
  read the database) until it is back, with backoff;
- the writer: every `exposure_flush_ms`, one statement for the showings of every request meanwhile
  (before: one statement per request, with its own commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from service.matching.cache import SuggestionCache
from service.matching.memory import CHANNEL, ReadTimeMemory
from service.matching.repository import state
from service.matching.settings import RankerSettings

log = logging.getLogger(__name__)

PING_SECONDS = 0.5  # a dead listening connection is noticed within this plus PING_TIMEOUT
PING_TIMEOUT = 0.5
MAX_BACKOFF = 5.0
MARK = "#"  # a `caught_up` marker (not a change: migration 0025 sends none starting with it)
INFLIGHT_SECONDS = 2.0
STOP_SECONDS = 2.0  # a write's notification arrives within milliseconds of its commit

Connect = Callable[[], Awaitable[asyncpg.Connection]]
_running: weakref.WeakSet[ReadTimeSync] = weakref.WeakSet()  # started and not stopped, in this process


class ReadTimeSync:
    """The listener and the writer of one process's `ReadTimeMemory`."""

    def __init__(self, memory: ReadTimeMemory, connect: Connect, pool: asyncpg.Pool, flush_seconds: float) -> None:
        self.memory = memory
        self.connect = connect
        self.pool = pool
        self.flush_seconds = flush_seconds
        self.listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._marks: dict[str, asyncio.Future[None]] = {}
        self._background: asyncio.Task[None] | None = None
        self._mark_count = 0
        self._stopping = False

    def start(self) -> None:
        """Run the listener and the writer in the background."""
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._write())]
        _running.add(self)

    async def stop(self) -> None:
        """Write the last showings, then stop both tasks."""
        self._stopping = True
        tasks = [*self._tasks, *([self._background] if self._background else [])]
        for task in tasks:
            task.cancel()
        # Bounded: Python 3.11's wait_for can swallow a cancellation that races its own completion, and a
        # shutdown that hangs is killed before the embedded PostgreSQL is stopped (tests/app/test_restart.py).
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_SECONDS)
        _running.discard(self)
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            await asyncio.wait_for(self.flush(), STOP_SECONDS)
        self.memory.reset(ready=False)

    async def _listen(self) -> None:
        backoff = 0.1
        while not self._stopping:
            try:
                await self._session()
                backoff = 0.1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("read-time listener lost its connection (%s); reading the database meanwhile",
                            type(exc).__name__)
            finally:
                self.memory.reset(ready=False)
                self.listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF)

    async def _session(self) -> None:
        """One listening connection, until it fails."""
        conn = await self.connect()
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        try:
            await state.listen(conn, CHANNEL, self._notified)
            self.memory.reset(ready=True)  # after LISTEN: whatever is read from now on is kept current
            self.listening.set()
            while not lost.is_set() and not self._stopping:
                await asyncio.wait_for(state.ping(conn), PING_TIMEOUT)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PING_SECONDS)
            if not self._stopping:
                raise OSError("listening connection closed")
        finally:
            self.memory.reset(ready=False)
            conn.terminate()  # no goodbye round trip: nothing is pending on a listening connection

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(MARK):
            waiter = self._marks.pop(payload, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        self.memory.apply(payload)

    async def caught_up(self, timeout: float = 5.0) -> None:
        """Return once every change committed before the call has been applied to the memory.

        A marker notification sent now is delivered after every earlier commit's (commit order), so its
        arrival proves them applied. For tests and tools; TimeoutError if not listening meanwhile.
        """
        await asyncio.wait_for(self.listening.wait(), timeout)
        self._mark_count += 1
        payload = f"{MARK}{id(self):x}.{self._mark_count}"
        waiter = asyncio.get_running_loop().create_future()
        self._marks[payload] = waiter
        try:
            async with self.pool.acquire() as conn:
                await state.notify(conn, CHANNEL, payload)
            await asyncio.wait_for(waiter, timeout)
        finally:
            self._marks.pop(payload, None)

    def run_later(self, job: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        """Run `job` with a pooled connection in the background, one at a time: while one runs, others are
        dropped (the request that wanted one asks again the next time)."""
        if self._stopping or (self._background is not None and not self._background.done()):
            return
        self._background = asyncio.create_task(self._run(job))

    async def _run(self, job: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        try:
            async with self.pool.acquire() as conn:
                await job(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("background job failed (%s)", type(exc).__name__)

    async def _write(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    async def flush(self) -> None:
        """Write the showings counted since the last write (one statement); errors are logged, not raised."""
        taken = self.memory.take_pending()
        if taken is None:
            return
        token, ids, counts = taken
        try:
            async with self.pool.acquire() as conn:
                await state.add_exposure(conn, ids, counts, self.memory.half_life_days, token)
            # Its notification takes the counts out of `inflight` as it brings the stored values; rows
            # that were not written (a participant deleted meanwhile) have none: dropped after a while.
            asyncio.get_running_loop().call_later(INFLIGHT_SECONDS, self.memory.written, token)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            # A soft signal: these showings are lost, as a crash would lose them (state.record_exposure).
            self.memory.written(token)
            log.warning("exposure write of %d participants failed (%s)", len(ids), type(exc).__name__)


def start_read_time(
    cache: SuggestionCache | None, db_url: str, pool: asyncpg.Pool, ranker: RankerSettings
) -> ReadTimeSync | None:
    """Give the cache a read-time memory and start keeping it (None: no cache, or KOBLE_READ_TIME_MEMORY off)."""
    if cache is None or not ranker.read_time_memory:
        return None
    cache.memory = ReadTimeMemory(ranker.exposure_half_life_days)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(db_url, server_settings={"application_name": "koble-listen"})

    sync = ReadTimeSync(cache.memory, connect, pool, ranker.exposure_flush_ms / 1000)
    cache.run_later = sync.run_later
    sync.start()
    return sync


async def caught_up() -> None:
    """`ReadTimeSync.caught_up` of every one running in this process (tests: after changing the database
    directly, before asking the in-process app)."""
    for sync in list(_running):
        await sync.caught_up()
