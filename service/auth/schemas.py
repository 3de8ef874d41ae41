"""The auth domain's shapes: who signs in, why a link was sent, the sign-in steps, the session's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SubjectKind = Literal["participant", "staff"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("participant", "staff")
Purpose = Literal["verify", "login"]
# Analysts (business advisers, the regional office) see figures only; reviewers and admins see people.
Role = Literal["admin", "reviewer", "analyst"]
ROLES: tuple[Role, ...] = ("reviewer", "admin", "analyst")
PEOPLE_ROLES: tuple[Role, ...] = ("reviewer", "admin")


@dataclass(frozen=True)
class SignInStep:
    """One step of sign-in; `url` completes it (None: done by the emailed link itself).

    `kinds` names who passes the step: a second factor may be asked of staff only.
    """

    name: str
    url: str | None = None
    kinds: tuple[SubjectKind, ...] = SUBJECT_KINDS


@dataclass(frozen=True)
class Identity:
    """Who a request's session belongs to, checked against the `sessions` table."""

    kind: SubjectKind
    subject_id: int
    session_id: int
    auth_level: str  # the sign-in steps passed, joined by "+" ("email_link")
