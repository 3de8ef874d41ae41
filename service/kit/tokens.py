"""Signed ids in links: an unsubscribe link, an invitation's personal link. No expiry (an old email must
still work); the salt keeps one kind of link from being read as another."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from service.kit.config import Settings


def sign_id(settings: Settings, salt: str, value: int) -> str:
    """A URL-safe token naming `value` under `salt`."""
    return str(URLSafeSerializer(settings.secret_key(), salt=salt).dumps(value))


def read_id(settings: Settings, salt: str, token: str) -> int | None:
    """The id a token signed under `salt` names; None if forged, garbled or not an id."""
    try:
        value = URLSafeSerializer(settings.secret_key(), salt=salt).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
