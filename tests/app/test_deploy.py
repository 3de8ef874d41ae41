"""The Dockerfile, docker-compose.yml and deploy/Caddyfile, checked without building or pulling images."""

from __future__ import annotations

import ast
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from service.app import create_app
from service.kit.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RESTART = {"always", "unless-stopped", "on-failure"}


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_installs_the_project_without_extras_and_runs_its_entry_point() -> None:
    steps = instructions()
    runs = [args for keyword, args in steps if keyword == "RUN"]
    assert any(re.match(r"pip install \.(\s|$)", run) for run in runs), runs  # `.`, not `.[eval]` or `.[dev]`
    copied = {source for keyword, args in steps if keyword == "COPY" for source in args.split()[:-1]}
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {"pyproject.toml", PYPROJECT["project"]["readme"]} <= copied
    assert {package.rstrip("*") for package in packages} <= copied
    base = next(args for keyword, args in steps if keyword == "FROM")
    assert re.fullmatch(r"python:3\.1[1-9](-slim)?", base) and PYPROJECT["project"]["requires-python"] == ">=3.11"
    command = next(args for keyword, args in steps if keyword == "CMD")
    assert command.startswith('["koble", "serve"') and "koble" in PYPROJECT["project"]["scripts"]


def test_the_image_health_check_and_log_format_are_ones_koble_knows() -> None:
    steps = instructions()
    check = next(args for keyword, args in steps if keyword == "HEALTHCHECK")
    path = re.search(r"http://127\.0\.0\.1:8000(/\w+)", check)
    assert path and path.group(1) in create_app(Settings()).openapi()["paths"]
    env = next(args for keyword, args in steps if keyword == "ENV")
    fmt = re.search(r"KOBLE_LOG_FORMAT=(\w+)", env)
    assert fmt and Settings(KOBLE_LOG_FORMAT=fmt.group(1)).log_format == "json"


def module_level_imports(path: Path) -> set[str]:
    """Top-level names of the modules a file imports at module level (lazy imports are optional ones)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def core_closure() -> set[str]:
    """The distributions `pip install .` brings: the core dependencies and everything they require."""
    pending = [Requirement(spec) for spec in PYPROJECT["project"]["dependencies"]]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            pending += [Requirement(spec) for spec in requires(name) or []]
        except PackageNotFoundError:  # an extra's package of a requirement, not installed here
            continue
        for extra in requirement.extras:  # uvicorn[standard] and the like: their extras are installed too
            pending += [Requirement(spec.split(";")[0]) for spec in requires(name) or []
                        if f'extra == "{extra}"' in spec]
    return seen


def test_every_module_the_service_imports_comes_with_the_core_dependencies() -> None:
    distributions = packages_distributions()
    closure = core_closure()
    stdlib = set(sys.stdlib_module_names)
    missing = {}
    for path in (ROOT / "service").rglob("*.py"):
        for module in module_level_imports(path) - stdlib - {"service", "__future__"}:
            names = {canonicalize_name(name) for name in distributions.get(module, [module])}
            if not names & closure:
                missing[module] = str(path.relative_to(ROOT))
    assert missing == {}, "add these to [project] dependencies: the image installs no extra"


def compose() -> dict[str, Any]:
    """docker-compose.yml as data (anchors and merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_puts_a_proxy_in_front_of_web_and_restarts_everything() -> None:
    services = compose()["services"]
    assert {"proxy", "web", "worker", "db", "redis"} <= set(services)
    assert {name: service.get("restart") in RESTART for name, service in services.items()} == dict.fromkeys(
        services, True)
    web, proxy = services["web"], services["proxy"]
    # --scale web=2 needs no fixed host port and no fixed container name on web.
    assert "ports" not in web and "container_name" not in web and "8000" in [str(p) for p in web["expose"]]
    assert proxy["ports"] == ["8000:8000"]
    mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in proxy["volumes"]}
    assert mounted == {"./deploy/Caddyfile": "/etc/caddy/Caddyfile"}
    assert (ROOT / "deploy" / "Caddyfile").is_file()
    assert web["environment"]["KOBLE_RUN_WORKER"] == "false" and services["worker"]["command"] == ["koble", "worker"]


def test_web_trusts_forwarded_addresses_from_the_proxy_only() -> None:
    spec = compose()
    proxy_address = spec["services"]["proxy"]["networks"]["koble"]["ipv4_address"]
    subnet = ipaddress.ip_network(spec["networks"]["koble"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(proxy_address) in subnet
    web = spec["services"]["web"]
    # kit.security.client_address believes X-Forwarded-For from KOBLE_TRUSTED_PROXIES only: the proxy by default.
    assert web["environment"]["KOBLE_TRUSTED_PROXIES"] == f"${{KOBLE_TRUSTED_PROXIES:-{proxy_address}}}"
    assert all(net == "koble" for net in web["networks"])


def test_the_proxy_balances_over_every_web_and_hides_metrics() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert re.search(r"dynamic a \{\s*name web\s*port 8000", caddyfile), "upstreams found by DNS: every replica"
    assert re.search(r"@metrics path /metrics\s*respond @metrics 404", caddyfile)


def compose_tool() -> list[str] | None:
    """`docker compose` (the plugin) or `docker-compose`, whichever is installed."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(compose_tool() is None, reason="neither `docker compose` nor docker-compose is installed")
def test_docker_compose_accepts_the_file() -> None:
    tool = compose_tool()
    assert tool is not None
    env = {**os.environ, "KOBLE_SECRET_KEY": "x" * 40}
    done = subprocess.run([*tool, "config", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    services = subprocess.run([*tool, "config", "--services"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
    assert set(services.stdout.split()) == set(compose()["services"])


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddy_accepts_the_caddyfile() -> None:
    done = subprocess.run(["caddy", "validate", "--adapter", "caddyfile", "--config", "deploy/Caddyfile"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, done.stderr
