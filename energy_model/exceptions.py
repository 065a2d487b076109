"""Domain exceptions of the engine; the CLI maps each class to an exit code.

``InputError`` (exit 2) covers every problem a user can fix by editing an input file;
``InfeasibleError`` (exit 3) a model that has no optimal solution; anything else is exit 1.
"""

from __future__ import annotations

from pathlib import Path


class EnergyModelError(Exception):
    """Base class of all errors raised on purpose by the engine."""

    exit_code = 1


class InputError(EnergyModelError):
    """A user input (scenario file, network CSV, data file) is invalid.

    The message is one line naming the file, the row/column or key, and the cause.

    Parameters
    ----------
    message
        What is wrong.
    file
        The offending file or folder.
    row, column
        Row label and column of a CSV cell, when known.
    key
        Dotted key of a YAML value, when known.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: object | None = None,
        column: str | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.key = key
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Render ``<file>: row 'r', column 'c': message`` on one line."""
        where = []
        if self.key is not None:
            where.append(f"key '{self.key}'")
        if self.row is not None:
            where.append(f"row '{self.row}'")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = self.file or "<input>"
        location = ", ".join(where)
        text = f"{prefix}: {location}: {self.message}" if location else f"{prefix}: {self.message}"
        return " ".join(text.split())


class ScenarioError(InputError):
    """A scenario YAML file is invalid."""


class NetworkValidationError(InputError):
    """A network CSV folder is invalid."""


class InfeasibleError(EnergyModelError):
    """The optimisation did not end with an optimal solution.

    Parameters
    ----------
    message
        What happened, including the solver status and termination condition.
    status, condition
        Solver status and termination condition as reported by linopy.
    """

    exit_code = 3

    def __init__(self, message: str, *, status: str = "", condition: str = "") -> None:
        self.status = status
        self.condition = condition
        super().__init__(" ".join(message.split()))


class PhysicsCheckError(EnergyModelError):
    """A solved network violates a physical invariant (balance, bounds, capacity)."""
