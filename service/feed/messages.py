"""What the feed says to the participant, in their language (pages and the JSON API share it)."""

from __future__ import annotations

from service.feed.deck import Progress
from service.feed.schemas import AtCapacity, LastAnswer, NothingToUndo, NotUndoable, Outcome, Reason
from service.kit.i18n import _


def no_card(reason: Reason, staff_first: bool, active: int, capacity: int) -> str:
    """Why the feed has no card right now."""
    if reason == "hidden":
        return _("Your profile is hidden, so you get no suggestions. Show it again on your profile page.")
    if reason == "unverified":
        return _("Confirm your email address first. Then you get suggestions.")
    if reason == "capacity":
        return AtCapacity(active, capacity).message()
    if staff_first:
        return _("No new introductions right now. Bright House staff introduce you when they find a good fit.")
    return _("No more suggestions right now. When someone who fits you registers, they show up here.")


def outcome(result: Outcome) -> str:
    """What an answer did."""
    values = {"name": result.name}
    state = result.match["state"] if result.match is not None else None
    if state == "mutual":
        if result.emailed:
            return _("Match! You and %(name)s both said yes. We have emailed you both.") % values
        return _("Match! You and %(name)s both said yes. See the next step under My matches.") % values
    if result.answer == "interested":
        return _("You said you are interested in %(name)s. If they say yes too, you will both hear from us.") % values
    return _("You said “Not now” to %(name)s. You will not see them here again.") % values


def undo_label(last: LastAnswer) -> str:
    """The undo button's words, naming what it takes back."""
    if last.answer == "interested":
        return _("Undo “Interested” for %(name)s") % {"name": last.name}
    return _("Undo “Not now” for %(name)s") % {"name": last.name}


def undone(last: LastAnswer) -> str:
    """Confirmation that an answer was taken back."""
    return _("Your answer to %(name)s is taken back. You can answer again.") % {"name": last.name}


def not_undoable(refusal: NotUndoable) -> str:
    """Why an answer can no longer be changed or taken back."""
    return refusal.message()


def nothing_to_undo() -> str:
    """There is no answer to take back."""
    return NothingToUndo().message()


def at_capacity(active: int, capacity: int) -> str:
    """Why a "yes" is refused."""
    return no_card("capacity", False, active, capacity)


def reversed_decline(name: str) -> str:
    """Confirmation that a "not now" was taken back."""
    return _("You took back “Not now” for %(name)s. They may be suggested to you again.") % {"name": name}


def progress(place: Progress) -> str:
    """ "3 of 10": the card's place among this session's suggestions."""
    return _("%(position)s of %(total)s") % {"position": place.position, "total": place.total}
