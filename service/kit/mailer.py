"""SMTP transport: where to send (SMTP_URL), the MIME message, and sending it. The outbox is service.mail's."""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

# Control characters (CR, LF, NUL, ...) in a header value would end the header early or inject another one
# ("Bcc: ..."); Python's email package refuses CR and LF outright (issue 15, finding 10: a carriage
# return in a name). Header values are one line, so any run of them becomes one space.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_safe(value: str) -> str:
    """A header value on one line: control characters (CR, LF, ...) replaced by a space."""
    return _CONTROL.sub(" ", value).strip()


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


@dataclass(frozen=True)
class Letter:
    """What one email says and to whom; `message_id` is fixed by the caller (see build_message)."""

    to_address: str
    subject: str
    body_text: str
    body_html: str
    message_id: str
    # (file name, MIME type "type/subtype", bytes): a meeting's .ics invitation.
    attachment: tuple[str, str, bytes] | None = None


def build_message(sender: str, letter: Letter, unsubscribe_url: str | None = None) -> EmailMessage:
    """A MIME message with plain-text and HTML parts, and one-click unsubscribe headers when given a URL.

    The caller fixes the Message-ID, so that a resend of the same email is recognisably the same message.
    """
    message = EmailMessage()
    message["From"] = header_safe(sender)
    message["To"] = header_safe(letter.to_address)
    message["Subject"] = header_safe(letter.subject)
    message["Message-ID"] = header_safe(letter.message_id)
    if unsubscribe_url:
        # RFC 8058: mail clients may unsubscribe with one POST, no page, no sign-in.
        message["List-Unsubscribe"] = f"<{header_safe(unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(letter.body_text)
    message.add_alternative(letter.body_html, subtype="html")
    if letter.attachment is not None:
        name, mime, data = letter.attachment
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=header_safe(name))
    return message


def message_id(sender: str, local_part: str) -> str:
    """A Message-ID `<local_part@domain>` in the sender's domain."""
    domain = sender.rpartition("@")[2].strip(" >") or "koble"
    return f"<{local_part}@{domain}>"


async def send(
    config: SmtpConfig, message: EmailMessage, accepted: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Send one message over SMTP; `accepted` runs as soon as the server took it, before QUIT.

    Recording the delivery in `accepted` keeps the goodbye's round trip out of the window in which a
    killed worker would send the message twice (docs/architecture.md, "Email delivery").
    """
    client = aiosmtplib.SMTP(
        hostname=config.hostname,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls,
        start_tls=config.start_tls,
        timeout=30,
        local_hostname=local_hostname(),
    )
    async with client:  # QUIT on the way out; a server that hangs up after accepting is no error
        await client.send_message(message)
        if accepted is not None:
            await accepted()


@functools.cache
def local_hostname() -> str:
    """The name Koble greets SMTP servers with (EHLO), looked up once per process.

    aiosmtplib otherwise calls socket.getfqdn() for every connection: a sixth of a worker's CPU
    per email in bench/email_delivery.py, and a DNS lookup that can stall.
    """
    return socket.getfqdn()
