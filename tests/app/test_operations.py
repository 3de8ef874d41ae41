"""Operations: /metrics (private, Prometheus format), request ids, JSON logs without personal data, /livez, /readyz."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asyncpg import Connection
from prometheus_client.parser import text_string_to_metric_families

from service.kit import logs
from service.kit.config import Settings
from tests.conftest import API_TOKEN, Mailbox, link_in, post_form, run_worker
from tests.factories import MakeParticipant

METRICS_TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with a metrics token."""
    return settings.model_copy(update={"metrics_token": METRICS_TOKEN})


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_need_the_token(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/metrics")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert (anonymous.status_code, wrong.status_code) == (401, 403)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "koble_" not in anonymous.text + wrong.text


def test_metrics_allowed_from_a_configured_network(settings: Settings) -> None:
    from starlette.requests import Request

    from service.kit.metrics import may_read

    def caller(host: str) -> Request:
        return Request({"type": "http", "headers": [], "client": (host, 1234)})

    networks = Settings(KOBLE_METRICS_ALLOW="10.0.0.0/8, ::1").metrics_networks
    assert [may_read(caller(h), None, networks) for h in ("10.1.2.3", "::1", "192.168.1.1")] == [True, True, False]
    assert may_read(caller("10.1.2.3"), None, []) is False
    with pytest.raises(ValueError, match="not-a-network"):
        Settings(KOBLE_METRICS_ALLOW="10.0.0.0/8,not-a-network")


async def test_metrics_report_outbox_queue_backlog_latency_and_cache(
    client: httpx.AsyncClient, settings: Settings, make_participant: MakeParticipant, mailbox: Mailbox,
) -> None:
    await make_participant("student", embed=False)  # has interests, no vectors yet: the backlog
    student = await make_participant("student", domains=["cyber_ict"])
    await make_participant("company", domains=["cyber_ict"])
    await client.post("/api/v1/participants", json=registration("ops-1@example.no"))
    before = await scrape(client)
    # The registration waits in the queue: the worker decides it (issue 15, finding 8), so no email yet.
    assert before.get(("koble_outbox_emails", (("state", "pending"),)), 0) == 0
    assert before[("koble_job_queue_depth", ())] >= 1
    assert before[("koble_embedding_backlog", ())] == 1
    sent_before = before.get(("koble_emails_sent_total", ()), 0)

    await run_worker(settings)
    for _ in range(2):
        found = await client.get(f"/api/v1/participants/{student['external_id']}/suggestions", headers=BEARER)
        assert found.status_code == 200 and found.json()["suggestions"], found.text
    await client.get("/me/matches/12345")
    after = await scrape(client)
    assert after[("koble_outbox_emails", (("state", "sent"),))] == 1
    assert after[("koble_emails_sent_total", ())] == sent_before + 1
    assert after[("koble_job_queue_depth", ())] == 0
    assert after[("koble_suggestion_cache_lookups_total", (("result", "hit"),))] >= 1
    assert 0 < after[("koble_suggestion_cache_hit_ratio", ())] <= 1
    assert ("koble_suggestion_cache_patches_total", ()) in after  # counted in tests/matching/test_cache_patch
    routes = {dict(labels).get("route") for name, labels in after if name.startswith("koble_http_request")}
    assert {"/api/v1/participants/{external_id}/suggestions", "/me/matches/{match_id}"} <= routes
    assert not any(route and "12345" in route for route in routes)  # templates, never raw paths


def registration(email: str) -> dict[str, object]:
    """A registration through the API for this address."""
    return {"kind": "student", "name": "Åse Bjørnstad-Ops", "email": email, "domains": ["cyber_ict"],
            "seeks": ["Sommerjobb"], "offers": ["Python"], "consent": True}


# The test's own tools log too: its HTTP client the full URL, its SMTP server each message.
TEST_TOOLS = ("httpx", "httpcore", "mail.log")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every log record of the service during the test, as the JSON format writes it (DEBUG and up)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(lambda record: not record.name.startswith(TEST_TOOLS))
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


async def test_logs_hold_no_address_name_or_token_through_registration_and_sign_in(
    client: httpx.AsyncClient, conn: Connection, settings: Settings, mailbox: Mailbox, json_log: io.StringIO,
) -> None:
    email = "ase.ops@example.no"
    registered = await client.post("/api/v1/participants", json=registration(email))
    assert registered.status_code == 202
    await run_worker(settings)
    verify = link_in(mailbox.wait_for(email)).replace("http://testserver", "").partition("?")[0]  # no ?lang=
    await client.get(verify)
    await post_form(client, verify, {})
    mailbox.messages.clear()
    await post_form(client, "/signin", {"email": email})
    await run_worker(settings)
    sign_in = link_in(mailbox.wait_for(email)).replace("http://testserver", "").partition("?")[0]
    await client.get(sign_in + "?lang=en")
    assert (await post_form(client, sign_in, {})).status_code == 303
    assert (await client.get("/me")).status_code == 200

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("route") == "/auth/{token}" for line in lines), "the access log names the template"
    secrets = [email, "Bjørnstad", verify.rsplit("/", 1)[1], sign_in.rsplit("/", 1)[1], "lang=en"]
    assert [secret for secret in secrets if secret.lower() in text.lower()] == []
    assert EMAIL.findall(text) == []


async def test_request_id_is_echoed_and_carried_into_log_lines(
    client: httpx.AsyncClient, json_log: io.StringIO
) -> None:
    given = await client.get("/livez", headers={"X-Request-ID": "trace-42.a"})
    made = await client.get("/livez", headers={"X-Request-ID": "no spaces\tor tabs allowed"})
    assert given.headers["x-request-id"] == "trace-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "koble.access"]
    assert [line["request_id"] for line in access] == ["trace-42.a", made.headers["x-request-id"]]
    assert access[0]["route"] == "/livez" and access[0]["status"] == 200


async def test_liveness_and_readiness(client: httpx.AsyncClient, conn: Connection) -> None:
    live = await client.get("/livez")
    ready = await client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "pgvector": "0.6.2", "redis": "ok",
                            "migrations": "ok"}

    newest = await conn.fetchval("SELECT max(migration_id) FROM _yoyo_migration")
    row = await conn.fetchrow("DELETE FROM _yoyo_migration WHERE migration_id = $1 RETURNING *", newest)
    try:
        pending = await client.get("/readyz")
    finally:
        await conn.execute("INSERT INTO _yoyo_migration SELECT * FROM json_populate_record(NULL::_yoyo_migration, $1)",
                           json.dumps(dict(row), default=str))
    assert pending.status_code == 503
    assert pending.json()["status"] == "not ready" and pending.json()["migrations"] == "pending"


def test_koble_serve_bounds_its_concurrency(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from service import cli
    from service.kit.config import get_settings

    class Server:
        """Stands in for uvicorn's server: keeps the configuration, serves nothing."""

        def __init__(self, config: uvicorn.Config) -> None:
            seen.append(config)

        def run(self) -> None:
            """Return at once."""

    seen: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn, "Server", Server)
    monkeypatch.setattr(cli, "setup_logging", lambda: None)  # keep pytest's own log capture
    for name, value in {"KOBLE_MAX_CONCURRENCY": "7", "KOBLE_SECRET_KEY": "k", "KOBLE_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    [config] = seen
    # No proxy headers: X-Forwarded-For is believed from KOBLE_TRUSTED_PROXIES only (kit.security.client_address).
    assert (config.limit_concurrency, config.proxy_headers, config.access_log) == (7, False, False)
