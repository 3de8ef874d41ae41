"""The participant form: what was posted, its validation, and error messages people understand."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from service.kit.i18n import _
from service.kit.vocabulary import (
    DOMAINS,
    ENGAGEMENTS,
    KINDS,
    domain_labels,
    engagement_labels,
    kind_labels,
    language_labels,
)
from service.profiles import service as profiles
from service.profiles.schemas import MAX_INTERESTS, ParticipantFields

INTEREST_SLOTS = 3  # empty boxes a new form shows for each of offers and seeks
TEXT_FIELDS = ("kind", "name", "email", "organisation", "language", "available_from", "available_until",
               "capacity", "location")
LIST_FIELDS = ("domains", "engagements")
INTEREST_FIELDS = ("offers", "seeks")
# The order of fields on the page, which the error summary follows.
FIELD_ORDER = ("kind", "name", "email", "organisation", "language", "domains", "engagements", "available_from",
               "available_until", "capacity", "location", "offers", "seeks", "consent")
DATE_ERRORS = frozenset({"date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_type"})
NUMBER_ERRORS = frozenset({"int_parsing", "int_from_float", "int_type", "int_parsing_size"})


CAPACITY_MAX = next(rule.le for rule in ParticipantFields.model_fields["capacity"].metadata if hasattr(rule, "le"))
MORE = "more"  # the "Add another offer/wish" button's name: without JavaScript the form comes back with a box more
WHOLE_NUMBER = re.compile(r"[+-]?\d+")
DECIMAL_NUMBER = re.compile(r"[+-]?\d*[.,]\d+|[+-]?\d+[.,]\d*")


@dataclass
class FormState:
    """What the form shows: the values as entered and the errors by field key."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def adding(self) -> bool:
        """True when the person asked for one more interest box (the form is shown again, not checked)."""
        return bool(self.values.get(MORE))

    def summary(self) -> list[tuple[str, str]]:
        """(anchor id, message) for the error summary, in the order of the fields on the page."""
        keys = sorted(self.errors, key=_position)
        return [(anchor(key), self.errors[key]) for key in keys]


def _position(key: str) -> tuple[int, int]:
    base, _sep, slot = key.partition("-")
    return FIELD_ORDER.index(base) if base in FIELD_ORDER else len(FIELD_ORDER), int(slot or 0)


def anchor(key: str) -> str:
    """The id of the input an error links to (the first one of a group)."""
    firsts = {"kind": f"kind-{KINDS[0]}", "language": "language-nb", "domains": f"domains-{DOMAINS[0]}",
              "engagements": f"engagements-{ENGAGEMENTS[0]}", "offers": "offers-1", "seeks": "seeks-1"}
    return firsts.get(key, key)


def blank_values(language: str) -> dict[str, Any]:
    """An empty registration form; emails default to the language of the page."""
    values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
    values.update(language=language, domains=[], engagements=[], consent=False)
    values.update({name: [""] * INTEREST_SLOTS for name in INTEREST_FIELDS})
    return values


def values_from_row(row: asyncpg.Record) -> dict[str, Any]:
    """A stored profile as form values, with one empty box more for a new interest."""
    stored = profiles.to_fields(row)
    values: dict[str, Any] = {name: _as_text(stored[name]) for name in TEXT_FIELDS}
    values.update({name: list(stored[name]) for name in LIST_FIELDS}, consent=False)
    for name in INTEREST_FIELDS:
        texts = list(stored[name])
        values[name] = (texts + [""] * max(INTEREST_SLOTS - len(texts), 1))[: max(MAX_INTERESTS, len(texts))]
    return values


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def values_from_form(form: FormData) -> dict[str, Any]:
    """The posted form as values to validate or show again (extra fields are ignored)."""
    values: dict[str, Any] = {name: _text(form.get(name)) for name in TEXT_FIELDS}
    values.update({name: [_text(item) for item in form.getlist(name)] for name in LIST_FIELDS})
    for name in INTEREST_FIELDS:
        texts = [_text(item) for item in form.getlist(name)]
        values[name] = texts + [""] * (INTEREST_SLOTS - len(texts))
    values["consent"] = _text(form.get("consent")) == "yes"
    more = _text(form.get(MORE))
    if more in INTEREST_FIELDS and len(values[more]) < MAX_INTERESTS:
        values[more] = [*values[more], ""]
        values[MORE] = more
    return values


def _text(value: object) -> str:
    # A file upload where text is expected counts as nothing.
    return value if isinstance(value, str) else ""


def validate(values: Mapping[str, Any], require_consent: bool) -> tuple[ParticipantFields | None, FormState]:
    """Validate the form: the fields (and consent on registration); data only when all is well."""
    state = FormState(dict(values))
    if state.adding:
        return None, state
    data: ParticipantFields | None = None
    try:
        data = ParticipantFields.model_validate(_model_input(values))
    except ValidationError as exc:
        for error in exc.errors():
            key = _error_key(error, values)
            state.errors.setdefault(key, _number_message(error) if key == "capacity" else _message(key, error))
        # The schema checks combinations only once every field is valid; show them all at once.
        for key, message in _combination_errors(values).items():
            state.errors.setdefault(key, message)
    if require_consent and not values.get("consent"):
        state.errors["consent"] = _("Tick the box to accept the privacy notice. We cannot register you without it.")
    return (data if not state.errors else None), state


def _model_input(values: Mapping[str, Any]) -> dict[str, Any]:
    """Form values as the schema takes them: empty boxes mean 'not given'."""
    given: dict[str, Any] = {name: values[name].strip() for name in TEXT_FIELDS if values[name].strip()}
    given.update({name: values[name] for name in LIST_FIELDS})
    given.update({name: [text.strip() for text in values[name] if text.strip()] for name in INTEREST_FIELDS})
    return given


def _combination_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """The schema's checks across fields, for a form that also has other mistakes."""
    errors: dict[str, str] = {}
    start, end = _date_or_none(values["available_from"]), _date_or_none(values["available_until"])
    if start and end and start > end:
        errors["available_until"] = _("The end date must be the same as or later than the start date.")
    if not any(text.strip() for name in INTEREST_FIELDS for text in values[name]):
        errors["offers"] = _("Describe at least one thing you offer or seek.")
    return errors


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _error_key(error: ErrorDetails, values: Mapping[str, Any]) -> str:
    """Which field (or which interest box) an error belongs to."""
    loc = error["loc"]
    if not loc:
        return "available_until" if error["type"] == "date_order" else "offers"
    name = str(loc[0])
    if name in INTEREST_FIELDS and len(loc) > 1 and isinstance(loc[1], int):
        # The schema saw only the filled boxes; count back to the box on the page.
        filled = [slot for slot, text in enumerate(values[name], start=1) if text.strip()]
        return f"{name}-{filled[loc[1]]}"
    return name


def _message(key: str, error: ErrorDetails) -> str:
    """A plain-language message for one error (the field is known from where it is shown)."""
    kind, ctx, name = error["type"], error.get("ctx") or {}, key.partition("-")[0]
    if kind in ("missing", "string_too_short"):
        return required_message(name)
    if kind == "string_too_long":
        return _("Make this shorter: at most %(max)s characters.") % {"max": ctx.get("max_length")}
    if kind == "too_long":
        return _("You can give at most %(max)s interests here.") % {"max": ctx.get("max_length")}
    if kind == "too_short" and name == "domains":
        return _("Pick at least one domain.")
    if name == "email":
        return _("Enter a valid email address, like name@example.no")
    return _special_message(kind, name, ctx)


def _number_message(error: ErrorDetails) -> str:
    """What is wrong with a typed number, quoting it: "tre", "2,5", "-1" and "1000" each get their own words."""
    text = str(error.get("input", "")).strip()
    if error["type"] in ("less_than_equal", "int_parsing_size"):
        return _("Enter a number no larger than %(max)s.") % {"max": CAPACITY_MAX}
    if WHOLE_NUMBER.fullmatch(text) or error["type"] == "greater_than_equal":
        return _("Enter a whole number of 1 or more, like 2.")
    if DECIMAL_NUMBER.fullmatch(text):
        return _("Enter a whole number, like 2 or 3, without a comma or point (you wrote “%(text)s”).") % {
            "text": text}
    return _("Write the number with digits, like 3 (you wrote “%(text)s”).") % {"text": text[:20]}


def _special_message(kind: str, name: str, ctx: Mapping[str, Any]) -> str:
    if kind in DATE_ERRORS:
        return _("Enter a real date, like 2025-08-15.")
    if kind in NUMBER_ERRORS or kind == "greater_than_equal":
        return _("Enter a whole number of 1 or more, like 2.")
    if kind == "less_than_equal":
        return _("Enter a number no larger than %(max)s.") % {"max": ctx.get("le")}
    if kind == "date_order":
        return _("The end date must be the same as or later than the start date.")
    if kind == "no_interest":
        return _("Describe at least one thing you offer or seek.")
    if kind in ("literal_error", "enum"):
        return _("Choose one of the options shown.")
    if kind == "control_character":
        return _("Remove the invisible control characters from this text (they are often pasted by accident).")
    return _("Check this answer: it is not in a form we can use.")


def required_message(name: str) -> str:
    """What to do when a required field is left empty."""
    messages = {
        "kind": _("Choose who you are registering as."),
        "name": _("Enter your name, or the name of your organisation."),
        "email": _("Enter your email address."),
        "domains": _("Pick at least one domain."),
        "language": _("Choose the language of your emails."),
    }
    return messages.get(name, _("Fill in this field."))


def labels() -> dict[str, dict[str, str]]:
    """Every choice label the form and the profile page show."""
    return {"kinds": kind_labels(), "domains": domain_labels(), "engagements": engagement_labels(),
            "languages": language_labels()}


def examples(kind: str) -> dict[str, list[str]]:
    """Example interests for the placeholders, fitting the chosen kind (a mix before one is chosen)."""
    by_kind = {
        "student": {
            "offers": [_("Knowledge of Python and data analysis from my studies"),
                       _("Experience from a part-time job at a sawmill"),
                       _("Time for a summer job from June to August")],
            "seeks": [_("Master's thesis on OT security in manufacturing"),
                      _("Summer job with machine learning for quality control"),
                      _("Internship at a company that processes food")],
        },
        "researcher": {
            "offers": [_("Research on digital twins for industrial production"),
                       _("Supervision of master's theses in information security"),
                       _("A lab for testing sensors in harsh environments")],
            "seeks": [_("A company that can test our method for finding faults in machines"),
                      _("Data from local food producers"),
                      _("Partners for an application to the Research Council of Norway")],
        },
        "company": {
            "offers": [_("Summer job with machine learning for quality control"),
                       _("Master's thesis on OT security in manufacturing"),
                       _("Internship in our automation department")],
            "seeks": [_("Research help to cut waste in timber processing"),
                      _("Students who can build a dashboard for our production data"),
                      _("A partner for a pilot project on robot welding")],
        },
        "public_body": {
            "offers": [_("Internship in the IT department of the municipality"),
                       _("Open data on water and sewage for a thesis"),
                       _("A pilot project on digital services for residents")],
            "seeks": [_("Research on local value creation from forest resources"),
                      _("Students who want to work with cyber security in the municipality"),
                      _("Advice on using AI safely in case handling")],
        },
    }
    mixed = {name: [by_kind[k][name][i] for i, k in enumerate(("student", "company", "researcher"))]
             for name in INTEREST_FIELDS}
    return by_kind.get(kind, mixed)


def form_context(state: FormState) -> dict[str, Any]:
    """What the shared form template needs besides the page's own variables."""
    return {"values": state.values, "errors": state.errors, "error_summary": state.summary(),
            "labels": labels(), "examples": examples(state.values.get("kind", "")), "max_interests": MAX_INTERESTS}
