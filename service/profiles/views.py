"""A stored profile as pages show it: labels and dates in the reader's language (profile and staff pages)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from babel.dates import format_date

from service.kit import i18n
from service.kit.config import Settings
from service.profiles import forms
from service.profiles import service as profiles


def profile_view(row: asyncpg.Record) -> dict[str, Any]:
    """A stored profile as the profile page shows it (dates written out in the page's language)."""
    labels = forms.labels()
    language = i18n.current_language.get()
    return {
        **profiles.to_fields(row),
        "kind_label": labels["kinds"][row["kind"]],
        "domain_labels": [labels["domains"][d] for d in row["domains"]],
        "engagement_labels": [labels["engagements"][e] for e in row["engagements"]],
        "language_label": labels["languages"][row["language"]],
        "from_text": _date(row["available_from"], language),
        "until_text": _date(row["available_until"], language),
        "verified": row["verified_at"] is not None,
        "pending_email": row["pending_email"],
        "hidden_reason": row["hidden_reason"] if row["hidden_at"] is not None else None,
        "updated_text": _date(row["updated_at"].date(), language),
    }


def _date(value: dt.date | None, language: str) -> str | None:
    return None if value is None else format_date(value, format="long", locale=language)


def retention_context(settings: Settings) -> dict[str, int]:
    """How long Koble keeps profiles, for the pages that say so (privacy, registration, my profile)."""
    return {"hide_months": settings.retention_hide_months, "delete_months": settings.retention_delete_months,
            "unverified_days": settings.unverified_delete_days}
