"""Jinja2 templates for pages and emails, translated through the gettext catalogs."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates

from service.kit import audit, i18n

TEMPLATES = Path(__file__).parent.parent / "templates"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    # The callables read the request's language from a context variable, so one env serves both.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["current_language"] = i18n.current_language.get
    env.globals["local_time"] = i18n.local_time
    env.globals["local_day"] = i18n.local_day
    # Staff pages: times in Europe/Oslo saying so, numbers as the page's language writes them, words for codes.
    env.filters["oslo_time"] = i18n.oslo_time
    env.filters["oslo_date"] = i18n.oslo_date
    env.filters["number"] = i18n.number
    env.filters["audit_action"] = audit.action_label
    env.filters["actor"] = audit.actor_label
    return env


def _request_context(request: Request) -> dict[str, Any]:
    # asgi-csrf puts a token getter in the scope; forms put its value in a hidden field.
    return {"csrftoken": request.scope.get("csrftoken", lambda: "")}


@lru_cache
def templates() -> Jinja2Templates:
    """The page templates (one instance per process)."""
    return Jinja2Templates(env=_environment(), context_processors=[_request_context])


@lru_cache
def email_environment() -> jinja2.Environment:
    """The email templates: HTML escaped, plain text not."""
    env = _environment()
    env.autoescape = jinja2.select_autoescape(["html"], default_for_string=False, default=False)
    return env
