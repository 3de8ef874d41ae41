"""The staff upload form of a round: its fields as entered, and their checks (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from service.kit.i18n import _

DEFAULT_REMINDER_DAYS = 7
MIN_REMINDER_DAYS, MAX_REMINDER_DAYS = 1, 90
MAX_NAME = 200


@dataclass
class UploadForm:
    """What the upload form shows again: the values as typed, and the errors by field."""

    name: str = ""
    reminder_days: str = str(DEFAULT_REMINDER_DAYS)
    send: bool = False
    file_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def check(self, has_file: bool) -> None:
        """Check the fields other than the file's lines; errors go to `errors`."""
        if not self.name:
            self.errors["name"] = _("Give the round a name, for example Autumn 2026.")
        elif len(self.name) > MAX_NAME:
            self.errors["name"] = _("The name can be at most %(max)s characters.") % {"max": MAX_NAME}
        if self.days() is None:
            self.errors["reminder_days"] = _("Enter a whole number of days from %(min)s to %(max)s.") % {
                "min": MIN_REMINDER_DAYS, "max": MAX_REMINDER_DAYS}
        if not has_file:
            self.errors["file"] = _("Choose a CSV file with the organisations.")

    def days(self) -> int | None:
        """The reminder delay as a number, or None when it is not a whole number in range."""
        text = self.reminder_days.strip()
        if not text.isdigit() or not MIN_REMINDER_DAYS <= int(text) <= MAX_REMINDER_DAYS:
            return None
        return int(text)


def file_name(raw: str | None) -> str:
    """The uploaded file's own name (no folders), as errors name it (`FILE:LINE: field: reason`)."""
    name = PurePath((raw or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload.csv"
