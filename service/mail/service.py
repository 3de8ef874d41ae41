"""Emails: rendered from templates in the recipient's language, written to the outbox (service.kit.mailer sends)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import asyncpg

from service.kit import i18n, mailer
from service.kit.templating import email_environment
from service.mail import repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedEmail:
    """One email ready for the outbox."""

    template: str
    to_address: str
    subject: str
    body_text: str
    body_html: str


def render(template: str, to_address: str, language: str, **context: Any) -> RenderedEmail:
    """Render `email/<template>.txt` and `.html`; the subject is the text template's first line."""
    token = i18n.current_language.set(i18n.pick_language(language))
    try:
        env = email_environment()
        text = env.get_template(f"email/{template}.txt").render(**context)
        html = env.get_template(f"email/{template}.html").render(**context)
    finally:
        i18n.current_language.reset(token)
    subject, _, body = text.partition("\n")
    return RenderedEmail(template, to_address, subject.strip(), body.strip() + "\n", html)


async def queue(
    conn: asyncpg.Connection,
    participant_id: int | None,
    email: RenderedEmail,
    match_id: int | None = None,
    staff_id: int | None = None,
    unsubscribe_url: str | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> int:
    """Write an email to the outbox inside the caller's transaction; returns its id.

    `unsubscribe_url`: the email's one-click List-Unsubscribe address, for emails the recipient may turn off;
    `attachment`: (file name, MIME type, bytes), stored with the email so every try sends the same file.
    """
    return await repository.insert(
        conn, participant_id, email.template, email.to_address, email.subject, email.body_text,
        email.body_html, match_id, staff_id, unsubscribe_url, attachment,
    )


async def for_match(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """The emails a match caused, oldest first (no bodies), for its timeline."""
    return await repository.for_match(conn, match_id)


def to_message(sender: str, row: asyncpg.Record, unsubscribe_url: str | None = None) -> EmailMessage:
    """An outbox row as a MIME message (service.kit.mailer builds it).

    The Message-ID is fixed per outbox row, so if a worker dies after the server accepted the email
    but before the outbox recorded it, the resend is recognisably the same message.
    """
    attachment = None
    if row.get("attachment") is not None:
        attachment = (row["attachment_name"], row["attachment_type"], bytes(row["attachment"]))
    letter = mailer.Letter(row["to_address"], row["subject"], row["body_text"], row["body_html"],
                           message_id(sender, row["id"]), attachment)
    return mailer.build_message(sender, letter, unsubscribe_url)


def message_id(sender: str, outbox_id: int) -> str:
    """The Message-ID of an outbox email, in the sender's domain."""
    return mailer.message_id(sender, f"koble-outbox-{outbox_id}")


async def describe_recent(settings: Any, limit: int) -> list[str]:
    """The newest outbox emails as readable text blocks (subject, status, body with its links)."""
    from service.kit import embedded

    conn = await asyncpg.connect(embedded.postgres_url(settings))
    try:
        rows = await repository.recent(conn, limit)
    finally:
        await conn.close()
    return [
        f"#{row['id']} {row['created_at']:%Y-%m-%d %H:%M} [{row['status']}] {row['subject']}\n{row['body_text']}"
        for row in rows
    ]


async def undelivered(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Emails not (yet) delivered, newest first, for staff's outbox page."""
    return await repository.undelivered(conn, limit)


async def status_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """How many emails are in each outbox state."""
    return await repository.status_counts(conn)


async def requeue_failed(conn: asyncpg.Connection, outbox_id: int) -> bool:
    """Put a failed email back in the queue; False if it was not failed."""
    return await repository.requeue_failed(conn, outbox_id)


async def for_participant(conn: asyncpg.Connection, participant_id: int) -> list[asyncpg.Record]:
    """The emails sent to a participant (no bodies), for their data download."""
    return await repository.for_participant(conn, participant_id)
