"""Errors, warnings and exit codes shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes of the CLI; batch schedulers branch on them."""

    OK = 0
    ERROR = 1
    INVALID = 2
    INFEASIBLE = 3
    NO_SOLUTION = 4
    PLAN_INVALID = 5
    LATE = 6


@dataclass(frozen=True)
class Problem:
    """One problem found in an instance, located as the user sees it."""

    where: str
    message: str
    column: str | None = None
    value: Any = None
    severity: str = "error"
    label: str = "column"  # what ``column`` names: a table column, or a key of a TOML file

    def __str__(self) -> str:
        parts = [self.where]
        if self.column is not None:
            parts.append(f"{self.label} '{self.column}'")
        text = ", ".join(parts) + ": "
        if self.value is not None:
            text += f"value {self.value!r}: "
        return text + self.message


class AllocatorError(Exception):
    """Base class of every error the engine raises for a user-facing reason."""

    exit_code: ExitCode = ExitCode.ERROR


class InstanceError(AllocatorError, ValueError):
    """The instance files are unreadable or invalid; carries every problem found."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("instance", problems)]
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        head = f"{len(errors)} problem(s) in the instance"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in errors))


class InfeasibleError(AllocatorError):
    """The instance has no feasible plan."""

    exit_code = ExitCode.INFEASIBLE


class TooFewPathsError(AllocatorError):
    """The path model with its ``--paths`` cheapest paths per lot cannot move every lot under
    ``forbid``, while more paths exist: a usage problem (raise ``--paths`` or use an arc model)."""

    exit_code = ExitCode.INVALID


class SolverError(AllocatorError):
    """The solver failed or stopped without a plan; ``termination`` says how it ended, when known
    (e.g. ``time_limit_no_solution``)."""

    exit_code = ExitCode.NO_SOLUTION

    def __init__(self, message: str, termination: str = "") -> None:
        super().__init__(message)
        self.termination = str(termination)


class PlanCheckError(AllocatorError):
    """A solved plan failed the independent checker; it was not written."""

    exit_code = ExitCode.PLAN_INVALID

    def __init__(self, where: str, violations: list[str]) -> None:
        self.where = where
        self.violations = violations
        super().__init__(
            f"{where}: the plan failed the checker ({len(violations)} violation(s)); "
            "nothing was written"
        )


class OutputError(AllocatorError):
    """The output path cannot take a plan: an existing file, a folder allocator did not write,
    or a path the system refuses. Nothing there was changed."""

    exit_code = ExitCode.INVALID


class OptionsError(AllocatorError, ValueError):
    """A run option is out of range (e.g. a negative time limit, ``--paths 0``): refused before
    anything is read or solved."""

    exit_code = ExitCode.INVALID


class PlanReadError(AllocatorError):
    """A plan folder or workbook cannot be read back: a table or column is missing, a number
    column holds text, a file is not a table. Carries every problem found, located."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LedgerError(AllocatorError):
    """The run ledger of a batch folder cannot be read or written (damaged, or not a ledger)."""

    exit_code = ExitCode.INVALID


class AllocatorWarning(UserWarning):
    """A condition worth telling the user that does not stop the run."""
