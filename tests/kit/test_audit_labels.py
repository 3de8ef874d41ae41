"""Staff read words, never codes: every action the code records in the audit log has a label in both
languages, and the staff pages' times and numbers follow Europe/Oslo and the page's language."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.kit import audit, i18n

SERVICE = Path(__file__).resolve().parents[2] / "service"
# The audit log's writers: kit.audit.record / record_many and the events pages' wrappers around them.
RECORDERS = {"record", "record_many", "_audit", "_audit_view"}


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _strings(node: ast.expr, function: ast.AST) -> Iterator[str]:
    """The action strings an argument can be: a literal, either side of `a if c else b`, or a local name's."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body, function)
        yield from _strings(node.orelse, function)
    elif isinstance(node, ast.Name):
        assigned = [n.value for n in ast.walk(function) if isinstance(n, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)]
        signature = function.args if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) else None
        parameters = {a.arg for a in signature.args} if signature else set()
        assert assigned or node.id in parameters, f"cannot tell which action {node.id!r} records"
        for value in assigned:
            yield from _strings(value, function)
    else:
        raise AssertionError(f"an action recorded from an expression the test cannot read: {ast.unparse(node)}")


def recorded_actions() -> dict[str, str]:
    """Every action string passed to the audit log's writers in service/, with where it is recorded."""
    found: dict[str, str] = {}
    for path in SERVICE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(function):
                if not isinstance(call, ast.Call) or _called_name(call) not in RECORDERS:
                    continue
                action = next((k.value for k in call.keywords if k.arg == "action"), None)
                action = action or (call.args[2] if len(call.args) > 2 else None)
                if action is not None:
                    for text in _strings(action, function):
                        found[text] = f"{path.relative_to(SERVICE.parent)}:{call.lineno}"
    return found


def test_the_search_finds_the_actions_staff_do_most() -> None:
    actions = recorded_actions()
    assert {"sign_in", "staff_add", "view_match", "approve", "event_no_show", "create_participant"} <= set(actions)


@pytest.mark.parametrize("language", ["nb", "en"])
def test_every_recorded_action_has_a_label_in_both_languages(language: i18n.Language) -> None:
    token = i18n.current_language.set(language)
    try:
        labels = audit.action_labels()
        missing = {action: where for action, where in recorded_actions().items() if action not in labels}
        assert missing == {}, "add these to kit.audit.action_labels (and the .po file)"
        for action in labels:
            assert audit.action_label(action) not in ("", action)
    finally:
        i18n.current_language.reset(token)


def test_labels_are_translated_and_actors_named() -> None:
    token = i18n.current_language.set("nb")
    try:
        assert audit.action_label("view_match") == "Så på en kobling"
        assert audit.actor_label("participant") == "Deltakeren"
        assert audit.actor_label(audit.API_TOKEN_LABEL) == "Integrasjon (API-nøkkel)"
        assert audit.actor_label("kari@brighthouse.no") == "kari@brighthouse.no"
        assert audit.action_label("something_new") == "Annet: something_new"
        i18n.current_language.set("en")
        assert audit.action_label("view_match") == "Viewed a match"
        assert audit.actor_label("system") == "Koble (automatic)"
    finally:
        i18n.current_language.reset(token)


WINTER = dt.datetime(2026, 12, 7, 8, 15, 30, tzinfo=dt.UTC)  # Oslo is UTC+1
SUMMER = dt.datetime(2026, 7, 7, 8, 15, tzinfo=dt.UTC)  # UTC+2


@pytest.mark.parametrize(("language", "moment", "seconds", "shown"), [
    ("nb", WINTER, False, "07.12.2026 09:15 (Oslo)"),
    ("nb", SUMMER, False, "07.07.2026 10:15 (Oslo)"),
    ("nb", WINTER, True, "07.12.2026 09:15:30 (Oslo)"),
    ("en", WINTER, False, "7 Dec 2026 09:15 (Oslo)"),
    ("en", "2026-07-07T08:15:00+00:00", False, "7 Jul 2026 10:15 (Oslo)"),
    ("nb", None, False, ""),
])
def test_times_are_shown_in_oslo_and_say_so(
    language: i18n.Language, moment: dt.datetime | str | None, seconds: bool, shown: str,
) -> None:
    token = i18n.current_language.set(language)
    try:
        assert i18n.oslo_time(moment, seconds=seconds) == shown
    finally:
        i18n.current_language.reset(token)


def test_a_day_near_midnight_is_oslo_s_day() -> None:
    token = i18n.current_language.set("nb")
    try:
        assert i18n.oslo_date(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == "01.01.2027"
    finally:
        i18n.current_language.reset(token)


@pytest.mark.parametrize(("language", "value", "digits", "shown"), [
    ("nb", 1.034, 2, "1,03"), ("en", 1.034, 2, "1.03"), ("nb", 0.0, 1, "0,0"), ("en", 0.0, 1, "0.0"),
    ("nb", 12345, 0, "12\xa0345"), ("en", 12345, 0, "12,345"), ("en", None, 1, "\u2013"),
])
def test_numbers_follow_the_page_language(
    language: i18n.Language, value: float | None, digits: int, shown: str,
) -> None:
    token = i18n.current_language.set(language)
    try:
        assert i18n.number(value, digits) == shown
    finally:
        i18n.current_language.reset(token)
