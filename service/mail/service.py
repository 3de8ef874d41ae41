"""Emails: rendered from templates in the recipient's language, written to the outbox, sent by SMTP."""

from __future__ import annotations

import functools
import logging
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import asyncpg

from service.kit import i18n
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
) -> int:
    """Write an email to the outbox inside the caller's transaction; returns its id.

    `unsubscribe_url`: the email's one-click List-Unsubscribe address, for emails the recipient may turn off.
    """
    return await repository.insert(
        conn, participant_id, email.template, email.to_address, email.subject, email.body_text,
        email.body_html, match_id, staff_id, unsubscribe_url,
    )


async def for_match(conn: asyncpg.Connection, match_id: int) -> list[asyncpg.Record]:
    """The emails a match caused, oldest first (no bodies), for its timeline."""
    return await repository.for_match(conn, match_id)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: parsed from SMTP_URL (smtp:// or smtps://, ?starttls=true)."""

    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse `smtp://user:pass@host:587?starttls=true` or `smtps://host:465`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587?starttls=true")
        query = parse_qs(parts.query)
        starttls = query.get("starttls", [""])[0].lower()
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            # None lets aiosmtplib upgrade when the server offers it.
            start_tls={"true": True, "false": False}.get(starttls),
        )


def to_message(sender: str, row: asyncpg.Record, unsubscribe_url: str | None = None) -> EmailMessage:
    """An outbox row as a MIME message with plain-text and HTML parts.

    The Message-ID is fixed per outbox row, so if a worker dies after the server accepted the email
    but before the outbox recorded it, the resend is recognisably the same message.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row["to_address"]
    message["Subject"] = row["subject"]
    message["Message-ID"] = message_id(sender, row["id"])
    if unsubscribe_url:
        # RFC 8058: mail clients may unsubscribe with one POST, no page, no sign-in.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(row["body_text"])
    message.add_alternative(row["body_html"], subtype="html")
    return message


def message_id(sender: str, outbox_id: int) -> str:
    """The Message-ID of an outbox email, in the sender's domain."""
    domain = sender.rpartition("@")[2].strip(" >") or "koble"
    return f"<koble-outbox-{outbox_id}@{domain}>"


async def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Send one message over SMTP."""
    await aiosmtplib.send(
        message,
        hostname=config.hostname,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls,
        start_tls=config.start_tls,
        timeout=30,
        local_hostname=local_hostname(),
    )


@functools.cache
def local_hostname() -> str:
    """The name Koble greets SMTP servers with (EHLO), looked up once per process.

    aiosmtplib otherwise calls socket.getfqdn() for every connection: a sixth of a worker's CPU
    per email in bench/email_delivery.py, and a DNS lookup that can stall.
    """
    return socket.getfqdn()


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
