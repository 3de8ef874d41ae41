"""FastAPI dependencies of the plumbing, as Annotated aliases: the app's resources, settings, database, Redis.

Domains add their own (service.auth.dependencies, service.profiles.dependencies, ...); nothing here
knows a domain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

import asyncpg
from arq.connections import ArqRedis
from fastapi import Depends, Request

from service.kit.config import Settings
from service.kit.security import RateLimiter, client_address

# What a request may ask that emails an address: each has its per-client limit (docs/contracts.md §5).
AddressAction = Literal["register", "signin", "staff-signin"]


@dataclass
class Resources:
    """What the app creates in its lifespan and every request may use."""

    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis
    limiter: RateLimiter

    async def admit(self, request: Request, action: AddressAction, address: str) -> tuple[bool, bool]:
        """(may this client ask, may an email go to `address`): RateLimiter.admit with the action's limits."""
        per_client = self.settings.rate_limit_register if action == "register" else self.settings.rate_limit_signin
        client = client_address(request, self.settings.trusted_networks())
        return await self.limiter.admit((per_client, self.settings.rate_limit_address), action, client, address)


def get_resources(request: Request) -> Resources:
    """The app's resources, created in lifespan."""
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return get_resources(request).settings


async def get_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for the length of the request."""
    async with get_resources(request).pool.acquire() as conn:
        yield conn


def get_redis(request: Request) -> ArqRedis:
    """The shared Redis connection (job queue)."""
    return get_resources(request).redis


SettingsDep = Annotated[Settings, Depends(get_settings)]
ConnDep = Annotated[asyncpg.Connection, Depends(get_conn)]
RedisDep = Annotated[ArqRedis, Depends(get_redis)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]
