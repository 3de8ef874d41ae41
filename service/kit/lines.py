"""A problem on one line of a file a person gave Koble (`koble import`, a mapping round's list, the evaluation
files), printed as `FILE:LINE: field: reason` (docs/contracts.md §2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineError:
    """One problem on one line; `field` names the key or column at fault, or '-' for the line as a whole."""

    line: int
    field: str
    reason: str

    def format(self, source: str) -> str:
        """The error as docs/contracts.md §2 prints it: `FILE:LINE: field: reason`."""
        return f"{source}:{self.line}: {self.field}: {self.reason}"
