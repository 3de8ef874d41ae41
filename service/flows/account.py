"""A participant's account across domains: the data download's sections and what leaving does to each.

Profiles owns the download (`/me/data.json`, `GET /api/v1/participants/me/data`) and the deletion, but the
domains that keep more about a person sit above it and cannot be imported from there. `install` adds
their parts to profiles' two registries; the app and the worker call it when they start. A new table
that names a participant adds its section here (tests/profiles/test_data_download.py walks the schema).
"""

from __future__ import annotations

from service.events import service as events
from service.matches import conversation
from service.matches import service as matches
from service.profiles import service as profiles


def install() -> None:
    """Add the data download's sections and the departure steps of the domains above profiles (idempotent)."""
    profiles.EXPORT_SECTIONS.update({
        "answers": matches.export_answers,
        "matches": matches.export_matches,
        "comments": matches.export_comments,
        "events": events.export_for,
        "messages": conversation.export_messages,
        "meetings": conversation.export_meetings,
    })
    profiles.DEPARTURE_STEPS["matches"] = matches.part
