"""The job queue: arq over Redis, the same for the web app, the worker and the commands."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for a redis:// or unix:// URL.

    A command on a connection that died with a restarted Redis is tried once more on a new connection,
    so the first enqueue after an outage does not fail (and a Redis that is still down fails fast).
    """
    return dataclasses.replace(
        RedisSettings.from_dsn(url), retry_on_error=[RedisConnectionError], retry=Retry(NoBackoff(), 1)
    )


async def defer(redis: ArqRedis | None, function: str, *args: Any) -> bool:
    """Hand one job to the worker; False when Redis is unreachable (the caller then does the work itself)."""
    if redis is None:
        return False
    try:
        await redis.enqueue_job(function, *args)
    except (OSError, ConnectionError, RedisError) as exc:
        log.warning("could not hand %s to the worker (%s); doing it here", function, type(exc).__name__)
        return False
    return True
