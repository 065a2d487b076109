"""The one place that builds and solves linopy models.

Every optimisation of the engine — the scenario solve, the screening's coarse run, the
infeasibility diagnosis, the largest reachable share, the cross-check's reference solve — goes
through :func:`build_model` (``n.optimize.create_model`` + the caller's constraints + limits as
bounds) and :func:`run_highs` (``Model.solve`` with HiGHS through its direct API), with one
options policy (:func:`main_solver_options` for the run the user asked for,
:func:`auxiliary_solver_options` for every helper solve).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_model.optimization.constraints import move_fixed_limits_to_bounds

if TYPE_CHECKING:
    import linopy
    import pandas as pd
    import pypsa

logger = logging.getLogger(__name__)

#: Solver the engine uses (the scenario schema admits only this one).
SOLVER_NAME = "highs"
#: HiGHS options that only control where its log goes.
LOG_OPTIONS = ("log_file", "output_flag", "log_to_console")

#: Signature of a function that adds constraints to ``n.model`` (PyPSA's ``extra_functionality``).
ConstraintAdder = Callable[["pypsa.Network", "pd.Index"], None]


@dataclass(frozen=True)
class HighsRun:
    """Outcome of one :func:`run_highs` call."""

    status: str
    """linopy's solver status (``ok``, ``warning``, …)."""
    condition: str
    """linopy's termination condition (``optimal``, ``infeasible``, …)."""
    seconds: float
    """Wall time of the solve incl. the hand-over to HiGHS [s]."""

    @property
    def optimal(self) -> bool:
        """Whether the solve ended with status ``ok`` and condition ``optimal``."""
        return self.status == "ok" and self.condition == "optimal"


def main_solver_options(user: Mapping[str, Any], log_file: Path | None = None) -> dict[str, Any]:
    """HiGHS options of the solve the user asked for: the scenario's options, logged to a file.

    The scenario's options are passed as given. With ``log_file`` the solver log goes there
    (unless the scenario names its own ``log_file``); HiGHS never prints to the console unless
    the scenario sets ``log_to_console``/``output_flag`` itself.
    """
    options = dict(user)
    if log_file is not None:
        options.setdefault("log_file", str(log_file))
    options.setdefault("output_flag", log_file is not None)
    options.setdefault("log_to_console", False)
    return options


def auxiliary_solver_options(
    user: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """HiGHS options of a helper solve (screening, diagnosis, reachable share, cross-check).

    The scenario's algorithmic options (``solver``, ``threads``, tolerances, …) carry over; the
    log options do not: a helper solve writes no log and prints nothing. ``extra`` options a
    helper needs for its own problem (e.g. crossover) are applied last.
    """
    options = {key: value for key, value in user.items() if key not in LOG_OPTIONS}
    options.update(output_flag=False, log_to_console=False)
    options.update(extra or {})
    return options


@contextmanager
def _quiet_linopy() -> Iterator[None]:
    """Silence linopy's warnings about a non-optimal end (an expected outcome of some solves)."""
    linopy_logger = logging.getLogger("linopy")
    level = linopy_logger.level
    linopy_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        linopy_logger.setLevel(level)


def build_model(
    n: pypsa.Network,
    constraints: ConstraintAdder | None = None,
    *,
    limits_as_bounds: bool = True,
    quiet: bool = False,
) -> linopy.Model:
    """Build PyPSA's linopy model of ``n``, add ``constraints``, move limit rows to bounds.

    Parameters
    ----------
    n
        Network (the model is stored on it, ``n.model``).
    constraints
        Adds the caller's constraints, called as ``constraints(n, n.snapshots)`` — usually
        :func:`energy_model.optimization.constraints.extra_functionality`.
    limits_as_bounds
        Rewrite PyPSA's single-variable limit rows as variable bounds
        (:func:`energy_model.optimization.constraints.move_fixed_limits_to_bounds`; same
        feasible set, smaller LP).
    quiet
        Suppress PyPSA's warnings while building (the diagnosis builds a network with slack
        generators PyPSA would warn about).
    """
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        m = n.optimize.create_model(include_objective_constant=False)
    if constraints is not None:
        constraints(n, n.snapshots)
    if limits_as_bounds:
        moved = move_fixed_limits_to_bounds(m)
        logger.info("moved %d single-variable limit rows to variable bounds", moved)
    return m


def run_highs(m: linopy.Model, options: Mapping[str, Any], *, expect_failure: bool = False) -> HighsRun:
    """Solve ``m`` with HiGHS through its direct API; return status, condition and wall time.

    ``expect_failure`` silences linopy's warning on a non-optimal end (the diagnosis solves
    problems that may well be infeasible). Never raises on a non-optimal end: the caller
    decides what a non-optimal end means.
    """
    start = time.perf_counter()
    if expect_failure:
        with _quiet_linopy():
            status, condition = m.solve(solver_name=SOLVER_NAME, io_api="direct", **options)
    else:
        status, condition = m.solve(solver_name=SOLVER_NAME, io_api="direct", **options)
    return HighsRun(status=str(status), condition=str(condition), seconds=time.perf_counter() - start)


def write_solution(n: pypsa.Network, *, duals: bool = True, quiet: bool = False) -> None:
    """Write the solved model's primal (and dual) solution into the network's tables."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        n.optimize.assign_solution()
        if duals:
            n.optimize.assign_duals(False)
            n.optimize.post_processing()


def objective_value(m: linopy.Model) -> float:
    """Objective value of a solved model [the network's currency per year]."""
    value = m.objective.value
    if value is None:
        msg = "the model has no objective value: it was not solved to optimality"
        raise ValueError(msg)
    return float(value)


def lp_size(m: linopy.Model, *, count_nonzeros: bool = False) -> dict[str, int]:
    """Variables, constraints and (optionally, costs a matrix build) non-zeros of a model."""
    size = {"variables": int(m.nvars), "constraints": int(m.ncons)}
    if count_nonzeros:
        try:
            matrix = m.matrices.A
            size["nonzeros"] = int(matrix.nnz) if matrix is not None else 0
        except Exception:  # noqa: BLE001 - size is informative only
            size["nonzeros"] = -1
    return size
