"""Match states and reasons in the reader's language."""

from __future__ import annotations

from service.i18n import _


def state_labels() -> dict[str, str]:
    """Every lifecycle state's name in the current language."""
    return {
        "suggested": _("Suggested"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "introduced": _("Introduced"),
        "mutual": _("Both interested"),
        "declined": _("Declined"),
        "meeting_held": _("Meeting held"),
        "project_agreed": _("Project agreed"),
        "project_completed": _("Project completed"),
        "closed": _("Closed"),
    }


def state_label(state: str) -> str:
    """One state's name in the current language."""
    return state_labels().get(state, state)


def refusal(current: str, target: str) -> str:
    """Why a transition was refused, naming the match's current state."""
    return _("This match is now “%(current)s”, so it cannot become “%(target)s”.") % {
        "current": state_label(current), "target": state_label(target),
    }
