"""The job queue's connection: arq over Redis, the same for the web app, the worker and the commands."""

from __future__ import annotations

import dataclasses

from arq.connections import RedisSettings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for a redis:// or unix:// URL.

    A command on a connection that died with a restarted Redis is tried once more on a new connection,
    so the first enqueue after an outage does not fail (and a Redis that is still down fails fast).
    """
    return dataclasses.replace(
        RedisSettings.from_dsn(url), retry_on_error=[RedisConnectionError], retry=Retry(NoBackoff(), 1)
    )
