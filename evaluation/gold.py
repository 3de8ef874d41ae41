"""Reading a gold file (docs/contracts.md §4): `{"a", "b", "relevance"}` per line, checked against the participants."""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from service.flows.importer import LineError, numbered_lines


@dataclass
class Gold:
    """Relevant candidates per query, in file order, and the line each pair came from."""

    queries: dict[str, dict[str, float]] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, line: int, a: str, b: str, relevance: float) -> LineError | None:
        """Record one pair; an error naming the earlier line when the pair was given before."""
        earlier = self.lines.setdefault((a, b), line)
        if earlier != line:
            return LineError(line, "b", f"duplicate of line {earlier} (same a and b)")
        self.queries.setdefault(a, {})[b] = relevance
        return None


def parse_gold(data: bytes, known: Collection[str]) -> tuple[Gold, list[LineError]]:
    """The gold pairs and every line's errors; `known` are the participant file's external ids."""
    gold = Gold()
    errors: list[LineError] = []
    for number, raw in numbered_lines(data):
        obj, error = _decode(number, raw)
        line_errors = [error] if error else _check(number, obj, known)
        if not line_errors:
            duplicate = gold.add(number, obj["a"], obj["b"], float(obj["relevance"]))
            line_errors = [duplicate] if duplicate else []
        errors += line_errors
    return gold, errors


def _decode(number: int, raw: bytes) -> tuple[dict[str, Any], LineError | None]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return {}, LineError(number, "-", f"invalid UTF-8 at byte {exc.start + 1} of the line")
    except json.JSONDecodeError as exc:
        return {}, LineError(number, "-", f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(obj, dict):
        return {}, LineError(number, "-", "must be a JSON object")
    return obj, None


def _check(number: int, obj: dict[str, Any], known: Collection[str]) -> list[LineError]:
    errors = [LineError(number, key, reason) for key in ("a", "b") if (reason := _id_problem(obj, key, known))]
    if not errors and obj["a"] == obj["b"]:
        errors.append(LineError(number, "b", "must differ from a"))
    if reason := _relevance_problem(obj):
        errors.append(LineError(number, "relevance", reason))
    return errors


def _id_problem(obj: dict[str, Any], key: str, known: Collection[str]) -> str | None:
    if key not in obj:
        return "required"
    value = obj[key]
    if not isinstance(value, str):
        return "must be a string (an external_id)"
    return None if value in known else "unknown external_id (not in the participant file)"


def _relevance_problem(obj: dict[str, Any]) -> str | None:
    if "relevance" not in obj:
        return "required"
    value = obj["relevance"]
    # bool is an int in Python, but `true` is no relevance.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a number greater than 0"
    return None if value > 0 else "must be greater than 0"
