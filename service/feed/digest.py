"""The opt-in email digest "new people who fit you" (issue 12, wall 2).

Offered where the feed runs dry. At most one a week per participant, and only when the ranker finds
people it has not named before and the participant has not answered. Exactly once: the digest row is
locked, the email written to the outbox and the row marked sent in one transaction (so two workers,
or a retried job, never write two; the outbox then delivers it once, see docs/architecture.md). Every
digest carries a one-click unsubscribe (RFC 8058 List-Unsubscribe, like the follow-up reminders).
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from service.kit import i18n, tokens
from service.kit.config import Settings
from service.mail import service as mail
from service.matches import service as matches
from service.matching import service as matching
from service.matching.service import Suggestion
from service.profiles import service as profiles

# At most one digest a week: often enough that a new company is still looking, rare enough not to nag.
EVERY = dt.timedelta(days=7)
# People named in one digest; more would be a list nobody reads (the feed has the rest).
NAMED = 5
# Suggestions looked at per digest, beyond those answered (the feed's own FEED_K).
LOOK_AT = 10
# Participants handled per run; the cron job runs hourly, so a backlog drains at 200 an hour.
BATCH = 200
_SALT = "koble.feed.digest.unsubscribe"


def sign(settings: Settings, participant_id: int) -> str:
    """The token of a participant's digest unsubscribe link (no expiry: an old digest must still stop them)."""
    return tokens.sign_id(settings, _SALT, participant_id)


def read(settings: Settings, token: str) -> int | None:
    """The participant a digest unsubscribe token names; None if forged or garbled."""
    return tokens.read_id(settings, _SALT, token)


async def unanswered(
    conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, language: i18n.Language
) -> list[Suggestion]:
    """The ranker's suggestions for `me` they have not answered, best first (no exposure counted)."""
    model = matching.model_name(settings)
    answered = set(await matches.answered_ids(conn, me["id"]))
    found = await matching.suggest(conn, me["id"], len(answered) + LOOK_AT, model, matching.ranker_config(model),
                                   reader_language=language, record_exposure=False)
    return [s for s in found if s.id not in answered]


async def subscribe(conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record) -> None:
    """Turn the digest on; whoever the ranker would suggest now is not news in the first digest."""
    known = [s.id for s in await unanswered(conn, settings, me, i18n.pick_language(me["language"]))]
    await profiles.digest_subscribe(conn, me["id"], known)


async def unsubscribe(conn: asyncpg.Connection, settings: Settings, token: str) -> bool:
    """Turn the digest off for the participant a token names; False for a bad token."""
    participant_id = read(settings, token)
    if participant_id is None:
        return False
    await profiles.digest_unsubscribe(conn, participant_id)
    return True  # already off counts as done: the reader asked for no more digests, and gets none


async def send_one(conn: asyncpg.Connection, settings: Settings, participant_id: int, now: dt.datetime) -> int | None:
    """Write one participant's digest to the outbox if due and someone is new; returns the outbox id."""
    async with conn.transaction():
        row = await profiles.digest_of(conn, participant_id, lock=True)
        if row is None or (row["last_sent_at"] is not None and row["last_sent_at"] > now - EVERY):
            return None  # turned off, or another worker sent it since the list was read
        me = await profiles.by_id(conn, participant_id)
        if me is None or me["hidden_at"] is not None or me["verified_at"] is None:
            return None
        named = set(row["sent_ids"])
        new = [s for s in await unanswered(conn, settings, me, i18n.pick_language(me["language"]))
               if s.id not in named]
        if not new:
            return None
        outbox_id = await _write(conn, settings, me, new[:NAMED])
        await profiles.digest_sent(conn, participant_id, [s.id for s in new], now)
    return outbox_id


async def _write(conn: asyncpg.Connection, settings: Settings, me: asyncpg.Record, people: list[Suggestion]) -> int:
    """The digest email in the participant's language, with its one-click unsubscribe."""
    others = await profiles.by_ids(conn, [s.id for s in people])
    token = sign(settings, me["id"])
    base = settings.koble_base_url
    rendered = mail.render(
        "feed_digest", me["email"], me["language"], name=me["name"],
        people=[{"name": others[s.id]["name"], "organisation": others[s.id]["organisation"],
                 "why": s.explanation} for s in people if s.id in others],
        link=f"{base}/me/suggestions?lang={me['language']}",
        stop=f"{base}/unsubscribe/digest/{token}?lang={me['language']}",
    )
    return await mail.queue(conn, me["id"], rendered, unsubscribe_url=f"{base}/api/v1/unsubscribe/digest/{token}")


async def send_due(conn: asyncpg.Connection, settings: Settings, now: dt.datetime) -> list[int]:
    """Write every due digest (one transaction each); returns the outbox ids written."""
    written: list[int] = []
    for participant_id in await profiles.digests_due(conn, now - EVERY, BATCH):
        outbox_id = await send_one(conn, settings, participant_id, now)
        if outbox_id is not None:
            written.append(outbox_id)
    return written
