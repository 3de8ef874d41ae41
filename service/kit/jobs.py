"""The job queue's connection: arq over Redis, the same for the web app, the worker and the commands."""

from __future__ import annotations

from arq.connections import RedisSettings


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for a redis:// or unix:// URL."""
    return RedisSettings.from_dsn(url)
