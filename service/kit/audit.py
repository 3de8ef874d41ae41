"""Who did something: the actor recorded in the audit log and in a match's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["participant", "staff", "system"]
SYSTEM_LABEL = "Koble"


@dataclass(frozen=True)
class Actor:
    """Who makes a transition: a participant, a staff member (or the API token), or Koble itself."""

    kind: ActorKind
    participant_id: int | None = None
    staff_id: int | None = None
    label: str = SYSTEM_LABEL  # shown in the audit log and timelines ("api token", a staff email)

    @classmethod
    def system(cls) -> Actor:
        """Koble itself (reminders, automatic introductions)."""
        return cls("system")

    @classmethod
    def participant(cls, participant_id: int) -> Actor:
        """A participant acting on their own match."""
        return cls("participant", participant_id=participant_id, label="participant")

    @classmethod
    def staff(cls, staff_id: int | None, label: str) -> Actor:
        """A staff member (staff_id None: the operator's API token, which has reviewer rights)."""
        return cls("staff", staff_id=staff_id, label=label)
