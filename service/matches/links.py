"""Signed links in follow-up emails: one-click replies and one-click unsubscribe.

A reply link carries the id of a stored `reply_links` row, signed and timestamped with itsdangerous;
the row makes it single-use. An unsubscribe link carries the participant id, signed without expiry
(unsubscribing twice changes nothing, and an old email must still let its reader stop reminders).
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.kit import tokens
from service.kit.config import Settings

# The salts keep their first names: links in emails already sent must keep working.
_REPLY_SALT = "koble.followup.reply"
_UNSUBSCRIBE_SALT = "koble.followup.unsubscribe"


def sign_reply(settings: Settings, link_id: int) -> str:
    """The token of a reply link row."""
    return str(URLSafeTimedSerializer(settings.secret_key(), salt=_REPLY_SALT).dumps(link_id))


def read_reply(settings: Settings, token: str) -> int | None:
    """The reply link row id a token names; None if forged, garbled or older than its lifetime."""
    serializer = URLSafeTimedSerializer(settings.secret_key(), salt=_REPLY_SALT)
    try:
        value = serializer.loads(token, max_age=settings.reply_link_days * 86400)
    except (BadSignature, SignatureExpired):
        return None
    return value if isinstance(value, int) else None


def sign_unsubscribe(settings: Settings, participant_id: int) -> str:
    """The token of a participant's unsubscribe link."""
    return tokens.sign_id(settings, _UNSUBSCRIBE_SALT, participant_id)


def read_unsubscribe(settings: Settings, token: str) -> int | None:
    """The participant an unsubscribe token names; None if forged or garbled."""
    return tokens.read_id(settings, _UNSUBSCRIBE_SALT, token)


def unsubscribe_url(settings: Settings, participant_id: int) -> str:
    """The List-Unsubscribe address (RFC 8058 one-click POST; a GET shows the page)."""
    return f"{settings.koble_base_url}/api/v1/unsubscribe/{sign_unsubscribe(settings, participant_id)}"


def reply_url(settings: Settings, token: str, language: str) -> str:
    """The page a one-click reply opens, in the recipient's language."""
    return f"{settings.koble_base_url}/reply/{token}?lang={language}"
