"""What every JSON router shares: JSON-only routes that name the field at fault, and the OpenAPI
documentation of the error answers and of the session cookie (docs/contracts.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, ClassVar

from fastapi import HTTPException, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie
from pydantic import BaseModel, Field

NOT_JSON_DETAIL = "body: send a JSON object with Content-Type: application/json"


def name_fields(errors: Sequence[Any], record_fields: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Validation errors of a JSON body, with record-level errors (`record_fields`: error type -> field) pinned
    to the field the person should fix."""
    record_fields = record_fields or {}
    named = []
    for original in errors:
        error = dict(original)
        loc, kind = tuple(error.get("loc", ())), str(error.get("type"))
        if loc == ("body",) and kind in record_fields:
            error["loc"] = ("body", record_fields[kind])
        elif kind == "json_invalid":
            # FastAPI puts the character offset where the field name goes.
            reason = (error.get("ctx") or {}).get("error", "")
            error |= {"loc": ("body",), "msg": f"The body is not valid JSON ({reason} at character {loc[-1]})"}
        elif loc == ("body",) and kind in ("model_attributes_type", "dict_type"):
            error["msg"] = "The body must be a JSON object"
        named.append(error)
    return named


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header announces JSON (application/json or application/*+json)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class FieldNamingRoute(APIRoute):
    """A JSON-only route whose body validation errors always name a field (see name_fields).

    A subclass sets `record_fields` to pin its models' record-level errors to a field.
    """

    record_fields: ClassVar[Mapping[str, str]] = {}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, refusing non-JSON bodies and re-raising errors with named fields."""
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def named_handler(request: Request) -> Response:
            # Only JSON: an HTML form from another site (which needs no CORS preflight) never gets in.
            if takes_body and not is_json(request.headers.get("content-type")):
                raise HTTPException(415, NOT_JSON_DETAIL)
            if takes_body and not await _is_utf8(request):
                # FastAPI would answer 400 "error parsing the body"; the contract promises 422 naming the body.
                raise RequestValidationError([NOT_UTF8_ERROR])
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(name_fields(exc.errors(), self.record_fields)) from None

        return named_handler


NOT_UTF8_ERROR = {"loc": ("body",), "msg": "The body is not valid JSON (not UTF-8 text)", "type": "json_invalid"}


async def _is_utf8(request: Request) -> bool:
    try:
        (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Documents the cookie in OpenAPI; the identity dependencies (service.auth.dependencies) do the check.
_session_cookie = APIKeyCookie(
    name="koble_session", auto_error=False,
    description="The signed session cookie set when a participant follows a sign-in or verification link.",
)
SessionCookie = Security(_session_cookie)


class Message(BaseModel):
    """A plain answer or error: `{"detail": "..."}`, naming the field where one is at fault."""

    detail: str = Field(examples=["email: already used by another participant"])


class FieldError(BaseModel):
    """One invalid field: where it is, its name, why it is refused and the error type."""

    loc: list[str | int] = Field(examples=[["body", "domains"]])
    field: str = Field(examples=["domains"])
    msg: str = Field(examples=["List should have at least 1 item after validation, not 0"])
    type: str = Field(examples=["too_short"])


class ValidationErrorOut(BaseModel):
    """The answer to invalid input: every invalid field, none of the submitted values."""

    detail: list[FieldError]


def error_doc(model: type[BaseModel], description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry: the answer's model and what it means."""
    return {"model": model, "description": description}


INVALID = error_doc(ValidationErrorOut, "Invalid input: each invalid field is named with the reason")
TOO_LARGE = error_doc(Message, "Request body over 1 MiB")
NOT_JSON = error_doc(Message, "The body is not sent as `application/json`")
NO_SESSION = error_doc(Message, "No valid session cookie: sign in first")
MALFORMED = error_doc(Message, "A control character in the path or query, or a form body that is not UTF-8")
CSRF_REFUSED = error_doc(
    Message, "With the session cookie, a POST that is not JSON needs the X-CSRFToken header (cross-site forms)"
)
NOT_ALLOWED = error_doc(Message, "This path does not take this method; `Allow` lists those it takes")
# Answered by the middlewares and the router before any route (kit.security, kit.errors), so every API
# operation can answer them; `document_common_errors` adds them to each operation's documentation.
COMMON_ERRORS: dict[str, dict[str, Any]] = {"400": MALFORMED, "405": NOT_ALLOWED, "413": TOO_LARGE}


def document_common_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the answers every API operation can give (see COMMON_ERRORS) added."""
    for operations in openapi.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            extra = {**COMMON_ERRORS, **({"403": CSRF_REFUSED} if method == "post" else {}),
                     **({"415": NOT_JSON} if "requestBody" in operation else {})}
            for status, doc in extra.items():
                responses.setdefault(status, {"description": doc["description"], "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Message"}}}})
    return openapi


TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: error_doc(Message, "Missing bearer token"),
    403: error_doc(Message, "Wrong bearer token, or no KOBLE_API_TOKEN configured"),
}
