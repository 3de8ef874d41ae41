"""`koble schedule FILE.json`: the event scheduler on a file, for checking it against other solvers.

The file format and the answer are in docs/contracts.md §2. Bad input exits 2 with one line on stderr,
`FILE: field: reason` (`FILE:LINE: -: reason` when the file is not JSON); nothing is written then.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from service.events import scheduling
from service.events.scheduling import ProblemError

BAD_INPUT = 2


def run(file: str, out: str | None, time_limit: float, seed: int) -> int:
    """Read, solve and write the schedule (stdout, or `out`); returns the exit code (0, 1 or 2)."""
    try:
        problem = read_problem(file)
    except ProblemError as error:
        where = f"{file}:{error.line}" if error.line is not None else file
        print(f"{where}: {error}", file=sys.stderr)
        return BAD_INPUT
    schedule = scheduling.solve(problem, time_limit=time_limit, seed=seed)
    text = json.dumps(scheduling.schedule_to_json(schedule), ensure_ascii=False, indent=2) + "\n"
    try:
        write(text, out)
    except OSError as error:
        print(f"koble: {out}: cannot write: {error.strerror or error}", file=sys.stderr)
        return 1
    print(summary(problem, schedule), file=sys.stderr)
    return 0


def read_problem(file: str) -> scheduling.Problem:
    """The problem in FILE; ProblemError (with `line` for JSON syntax) when it cannot be read or is bad."""
    try:
        raw = Path(file).read_bytes()
    except OSError as error:
        raise ProblemError("-", f"cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProblemError("-", "not UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProblemError("-", f"not JSON: {error.msg} (column {error.colno})", line=error.lineno) from None
    return scheduling.problem_from_json(data)


def write(text: str, out: str | None) -> None:
    """Print to stdout, or replace `out` whole (a temporary file renamed: never half-written)."""
    if out is None:
        sys.stdout.write(text)
        return
    target = Path(out)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def summary(problem: scheduling.Problem, schedule: scheduling.Schedule) -> str:
    """One line for stderr: how many meetings, the objective against the proven bound, idle gaps, time."""
    gap = scheduling.optimality_gap(schedule)
    proof = "optimal" if schedule.optimal else f"within {gap:.2%} of the proven upper bound {schedule.upper_bound:.6g}"
    return (
        f"scheduled {len(schedule.assignments)} of {len(problem.meetings)} meetings: "
        f"weight {schedule.objective:.6g} ({proof}), {schedule.gaps} idle gaps, {schedule.seconds:.1f} s"
    )
