"""Tokens for email verification and magic-link sign-in: random, single-use, expiring, hashed at rest."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Literal

import asyncpg
from starlette.requests import Request

from service.auth import repository

Purpose = Literal["verify", "login"]


def _hash(token: str) -> bytes:
    # A database leak must not yield working links: only the SHA-256 of each token is stored.
    return hashlib.sha256(token.encode()).digest()


async def issue(conn: asyncpg.Connection, participant_id: int, purpose: Purpose, lifetime: dt.timedelta) -> str:
    """Create a token for a participant; returns the raw token to put in a link."""
    token = secrets.token_urlsafe(32)
    expires_at = dt.datetime.now(dt.UTC) + lifetime
    await repository.insert(conn, _hash(token), participant_id, purpose, expires_at)
    return token


async def is_usable(conn: asyncpg.Connection, token: str) -> bool:
    """Whether a link's token can still be used (shown before the person confirms)."""
    return await repository.find_usable(conn, _hash(token)) is not None


async def redeem(conn: asyncpg.Connection, token: str) -> tuple[int, Purpose] | None:
    """Use a token once; returns (participant id, purpose) or None if unknown, used or expired."""
    row = await repository.use(conn, _hash(token))
    return None if row is None else (row["participant_id"], row["purpose"])


def sign_in(request: Request, participant_id: int) -> None:
    """Start a session for the participant (a fresh session, so no earlier state carries over)."""
    request.session.clear()
    request.session["participant_id"] = participant_id


def sign_out(request: Request) -> None:
    """End the session."""
    request.session.clear()
