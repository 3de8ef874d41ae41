"""Participant data as it comes in (docs/contracts.md §1) and goes out; shared by form, API and import."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from service.kit.inputs import IsoDate, MultiLine, NonBlankLine, SingleLine
from service.kit.vocabulary import Domain, Engagement, Kind

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NonBlankLine]
Interest = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), MultiLine]
MAX_INTERESTS = 20
# Capacity means "active matches I can take at once" (approved, introduced, both interested, met,
# project agreed: docs/contracts.md §6). Students default to 3 (issue 12, wall 2), like everyone else.
# Why: at Bright House a student looking for a thesis, an internship or a summer job typically talks to
# two or three companies at once and picks one; a match stays active for weeks (introduced → met →
# project agreed), so with the old default of 1 the first match stopped the feed, and with 2 one slow
# company would halve it. 3 leaves room for an agreed thesis plus two conversations (say, a summer job).
STUDENT_CAPACITY = 3
OTHER_CAPACITY = 3


def _as_interest_list(value: object) -> object:
    """`offers`/`seeks` may be one string or a list; blank entries carry no interest."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        stripped = [item.strip() if isinstance(item, str) else item for item in value]
        return [item for item in stripped if item != ""]
    return value


def _field_error(field: str, kind: str, message: str, value: object) -> ValidationError:
    """A whole-record check's error, located at the field the person should change."""
    detail = InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=value)
    return ValidationError.from_exception_data("ParticipantFields", [detail])


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# Some text that is not only spaces: a string, or a list holding one (docs/contracts.md §1).
_SOME_INTEREST = {"anyOf": [{"type": "string", "pattern": "\\S"},
                            {"type": "array", "contains": {"type": "string", "pattern": "\\S"}}]}


def _document_interests(schema: dict[str, Any]) -> None:
    """The JSON schema states what validation does: `offers`/`seeks` are one string or a list, at least one of
    them holds an interest, a blank organisation or location is none (issue 15, finding 12: generated requests
    must not be refused by rules the schema hides)."""
    properties = schema.get("properties", {})
    for name in ("offers", "seeks"):
        if name in properties:
            listed = properties[name]
            one = {**listed.get("items", {}), "type": "string"}
            description = "One interest as a string, or a list of interests; blank ones are dropped."
            properties[name] = {"anyOf": [one, listed], "title": listed.get("title", name), "description": description}
    for name in ("organisation", "location"):  # a blank one counts as none (_blank_is_none)
        for branch in properties.get(name, {}).get("anyOf", []):
            if branch.get("type") == "string":
                branch.pop("minLength", None)
                branch["pattern"] = SingleLine.pattern()
    if "offers" in properties and "seeks" in properties:
        schema["anyOf"] = [{"required": [name], "properties": {name: _SOME_INTEREST}} for name in ("offers", "seeks")]


class ParticipantFields(BaseModel):
    """The fields a participant fills in themselves (the form and the self-service API)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_document_interests)

    kind: Kind
    name: Text
    email: EmailStr = Field(max_length=254)
    organisation: Text | None = None
    language: Literal["nb", "en"] = "nb"
    domains: list[Domain] = Field(min_length=1)
    engagements: list[Engagement] = Field(default_factory=list)
    available_from: IsoDate | None = None
    available_until: IsoDate | None = None
    capacity: int | None = Field(default=None, ge=1, le=100)
    location: Text | None = None
    offers: list[Interest] = Field(default_factory=list, max_length=MAX_INTERESTS)
    seeks: list[Interest] = Field(default_factory=list, max_length=MAX_INTERESTS)

    @field_validator("organisation", "location", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("offers", "seeks", mode="before")
    @classmethod
    def _interest_list(cls, value: object) -> object:
        return _as_interest_list(value)

    @field_validator("domains", "engagements")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @model_validator(mode="after")
    def _check_combinations(self) -> ParticipantFields:
        if self.available_from and self.available_until and self.available_from > self.available_until:
            raise _field_error(
                "available_until", "date_order", "Available until must be on or after available from",
                self.available_until,
            )
        if not self.offers and not self.seeks:
            raise _field_error("offers", "no_interest", "Describe at least one thing you offer or seek", [])
        return self

    def effective_capacity(self) -> int:
        """Capacity as given, else the default (3 for students and everyone else, docs/contracts.md §1)."""
        if self.capacity is not None:
            return self.capacity
        return STUDENT_CAPACITY if self.kind == "student" else OTHER_CAPACITY


class ParticipantImport(ParticipantFields):
    """One line of a participant file (docs/contracts.md §1): the fields plus the source's stable id."""

    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NonBlankLine]


class ParticipantCreate(ParticipantFields):
    """A registration through the API: the fields plus explicit consent to the privacy notice."""

    consent: bool = Field(description="Must be true: the participant accepts the privacy notice.",
                          json_schema_extra={"const": True})

    @field_validator("consent")
    @classmethod
    def _must_consent(cls, value: bool) -> bool:
        if not value:
            raise PydanticCustomError("consent", "You must accept the privacy notice to register")
        return value


class ParticipantUpdate(BaseModel):
    """A partial update of one's own profile; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    name: Text | None = None
    email: EmailStr | None = None
    organisation: Text | None = None
    language: Literal["nb", "en"] | None = None
    domains: list[Domain] | None = None
    engagements: list[Engagement] | None = None
    available_from: IsoDate | None = None
    available_until: IsoDate | None = None
    capacity: int | None = Field(default=None, ge=1, le=100)
    location: Text | None = None
    offers: list[Interest] | str | None = None
    seeks: list[Interest] | str | None = None


class ParticipantOut(BaseModel):
    """A participant as shown to themselves (API and data download)."""

    external_id: str
    kind: Kind
    name: str
    email: str
    organisation: str | None
    language: Literal["nb", "en"]
    domains: list[Domain]
    engagements: list[Engagement]
    available_from: dt.date | None
    available_until: dt.date | None
    capacity: int
    location: str | None
    offers: list[str]
    seeks: list[str]
    pending_email: str | None = Field(
        None, description="A new address waiting for confirmation by the link sent to it"
    )
    verified: bool
    hidden: bool
    created_at: dt.datetime
    updated_at: dt.datetime
