"""Match states and reasons in the reader's language."""

from __future__ import annotations

from service.kit.i18n import _


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


def reply_labels() -> dict[str, str]:
    """The participants' replies (email links and match-page buttons) in the current language."""
    return {
        "interested": _("I am interested"),
        "not_now": _("Not now"),
        "met": _("We met"),
        "agreed": _("We agreed a project"),
        "completed": _("The project is completed"),
        "stop": _("Not going ahead"),
    }


def participant_explanations() -> dict[str, str]:
    """What each state means for a participant, and what happens next, in the current language."""
    return {
        "introduced": _("Bright House has introduced you. Tell us whether you would like to meet."),
        "mutual": _("You both want to work together. Get in touch, and tell us when you have met."),
        "meeting_held": _("You have met. Tell us when you have agreed on a project, or if it is not going ahead."),
        "project_agreed": _("You have agreed on a project. Tell us when it is completed."),
        "project_completed": _("The project is completed. Thank you for using Koble!"),
        "declined": _("One of you did not want to go ahead this time."),
        "closed": _("This match is closed."),
    }


def step_labels() -> dict[str, str]:
    """The match page's step indicator: introduced → both interested → met → project."""
    return {
        "introduced": _("Introduced"),
        "mutual": _("Both interested"),
        "meeting_held": _("Met"),
        "project_agreed": _("Project"),
    }
