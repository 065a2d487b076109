"""The one place that builds and solves linopy models.

Every optimisation of the engine — the scenario solve, the screening's coarse run, the
infeasibility diagnosis, the largest reachable share, the cross-check's reference solve — goes
through :func:`build_model` (``n.optimize.create_model`` + the caller's constraints + limits as
bounds) and :func:`run_highs` (``Model.solve`` with HiGHS through its direct API), with one
options policy (:func:`main_solver_options` for the run the user asked for,
:func:`auxiliary_solver_options` for every helper solve).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_model.exceptions import ScenarioError
from energy_model.optimization.compat import rebuild_cost_objective, set_variable_bounds
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


#: HiGHS string options that name a file HiGHS writes; confined to the result folder.
WRITE_FILE_OPTIONS = ("log_file", "solution_file", "write_basis_file", "write_model_file",
                      "write_presolved_model_file")
#: HiGHS options that make HiGHS read a file: refused (a run reads only its tracked inputs).
READ_FILE_OPTIONS = ("read_basis_file", "read_solution_file")
#: Switches that make HiGHS write a file, and the file option (with HiGHS's default name).
WRITE_SWITCHES = {"write_model_to_file": ("write_model_file", "model.mps"),
                  "write_solution_to_file": ("solution_file", "solution.sol")}
#: Files of a result bundle a solver file may not overwrite.
BUNDLE_FILES = frozenset({"run.json", "metrics.csv", "verdict.csv", "network.nc", "scenario.yaml",
                          "log.txt", "index.html", "temperature.csv"})


def validate_solver_options(options: Mapping[str, Any], file: str | Path | None = None) -> dict[str, Any]:
    """Check scenario options against HiGHS's own option list, types and ranges.

    Each option must be a HiGHS option (``highspy.Highs().getOptionType``) and HiGHS must
    accept its value (``setOptionValue`` on a scratch instance: type, bounds, allowed words).
    An integer given for a float option is passed as a float; a boolean for a string option
    (YAML reads ``off`` as ``false``) is an error. File-reading options are refused; a file
    HiGHS writes must be a plain name (it is written into the result folder, see
    :func:`main_solver_options`) and not one of :data:`BUNDLE_FILES`.

    Returns
    -------
    dict
        The options with float options as ``float``.

    Raises
    ------
    ScenarioError
        ``key 'solver.options.<name>'`` (in ``file``): unknown option, wrong type or value.
    """
    import highspy  # noqa: PLC0415 - only when a solve is set up

    scratch = highspy.Highs()  # type: ignore[no-untyped-call]
    scratch.setOptionValue("output_flag", False)
    kinds = {
        highspy.HighsOptionType.kBool: bool,
        highspy.HighsOptionType.kInt: int,
        highspy.HighsOptionType.kDouble: float,
        highspy.HighsOptionType.kString: str,
    }
    def error(name: str, message: str) -> ScenarioError:
        return ScenarioError(message, file=file, key=f"solver.options.{name}")

    checked: dict[str, Any] = {}
    for name, given in options.items():
        value = given
        status, kind = scratch.getOptionType(name)
        if status != highspy.HighsStatus.kOk or kind not in kinds:
            msg = "not a HiGHS option (see the HiGHS option list)"
            raise error(name, msg)
        wanted = kinds[kind]
        if name in READ_FILE_OPTIONS:
            msg = "makes HiGHS read a file; the engine reads only the scenario's tracked inputs"
            raise error(name, msg)
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not wanted:
            hint = ' (YAML reads on/off/yes/no as booleans: quote the word, e.g. "off")' \
                if wanted is str and isinstance(value, bool) else ""
            kind_name = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
            msg = f"needs {kind_name[wanted]}, got {value!r}{hint}"
            raise error(name, msg)
        if scratch.setOptionValue(name, value) != highspy.HighsStatus.kOk:  # type: ignore[arg-type]
            msg = f"HiGHS refuses the value {value!r} (out of range or not an allowed word)"
            raise error(name, msg)
        if name in WRITE_FILE_OPTIONS:
            _check_file_name(str(value), functools.partial(error, name))
        checked[name] = value
    return checked


def _check_file_name(name: str, error: Callable[[str], ScenarioError]) -> None:
    if "/" in name or "\\" in name or name.startswith(".") or not name.strip():
        msg = (
            f"must be a plain file name (got {name!r}); solver files are written into the "
            "result folder, never elsewhere"
        )
        raise error(msg)
    if name in BUNDLE_FILES:
        msg = f"'{name}' is a file of the result bundle; choose another name"
        raise error(msg)


def _confine(options: dict[str, Any], folder: Path | None) -> None:
    """Point every file HiGHS would write into ``folder`` (or switch the writing off)."""
    for switch, (option, default) in WRITE_SWITCHES.items():
        if options.get(switch):
            options.setdefault(option, default)
    for option in WRITE_FILE_OPTIONS:
        if option not in options:
            continue
        name = str(options[option])
        if folder is None:
            del options[option]
        else:
            options[option] = str(folder / name)
    if folder is None:
        for switch in WRITE_SWITCHES:
            options[switch] = False


def main_solver_options(user: Mapping[str, Any], log_file: Path | None = None) -> dict[str, Any]:
    """HiGHS options of the solve the user asked for: the scenario's options, logged to a file.

    The scenario's options are validated (:func:`validate_solver_options`). Files HiGHS writes
    (``log_file``, ``solution_file``, ``write_model_file``, ...) must be plain names and go into
    the folder of ``log_file`` (the temporary result folder); without ``log_file`` nothing is
    written. The solver log goes to ``log_file`` unless the scenario names its own; HiGHS never
    prints to the console unless the scenario sets ``log_to_console``/``output_flag`` itself.
    """
    options = validate_solver_options(user)  # also checked when the scenario is loaded
    _confine(options, log_file.parent if log_file is not None else None)
    if log_file is not None:
        options.setdefault("log_file", str(log_file))
    options.setdefault("output_flag", log_file is not None)
    options.setdefault("log_to_console", False)
    return options


def recorded_options(options: Mapping[str, Any], log_file: Path | None) -> dict[str, Any]:
    """The options as passed to HiGHS, file paths relative to the result folder (for run.json)."""
    recorded = dict(options)
    if log_file is not None:
        for option in WRITE_FILE_OPTIONS:
            if option in recorded:
                recorded[option] = Path(str(recorded[option])).name
    return recorded


def auxiliary_solver_options(
    user: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """HiGHS options of a helper solve (screening, diagnosis, reachable share, cross-check).

    The scenario's algorithmic options (``solver``, ``threads``, tolerances, …) carry over; the
    log options do not: a helper solve writes no log and prints nothing. ``extra`` options a
    helper needs for its own problem (e.g. crossover) are applied last.
    """
    options = {
        key: value for key, value in user.items()
        if key not in LOG_OPTIONS and key not in WRITE_FILE_OPTIONS and key not in READ_FILE_OPTIONS
    }
    options.update(output_flag=False, log_to_console=False)
    options.update(dict.fromkeys(WRITE_SWITCHES, False))
    options.update(extra or {})
    return options


@contextmanager
def quiet_linopy() -> Iterator[None]:
    """Silence linopy's warnings about a non-optimal end (an expected outcome of some solves,
    e.g. an infeasible sweep sample, which is recorded, not printed)."""
    linopy_logger = logging.getLogger("linopy")
    level = linopy_logger.level
    linopy_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        linopy_logger.setLevel(level)


def _flush_c_stdio() -> None:
    """Flush the C library's stdout buffer (HiGHS prints through it)."""
    with suppress(OSError, AttributeError, TypeError):  # no libc symbol table (e.g. Windows)
        ctypes.CDLL(None).fflush(None)


@contextmanager
def _solver_stdout(log_file: str | Path | None) -> Iterator[None]:
    """Route what the solver prints on file descriptor 1 to ``log_file`` (appended), or drop it.

    HiGHS prints its banner ("Running HiGHS …") to the console as soon as linopy hands it the
    model, before the ``output_flag``/``log_to_console`` options are set; the console shows
    only the engine's own lines. Without a usable descriptor 1 nothing is redirected.
    """
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            yield
        finally:
            _flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
    if text.strip():
        logger.debug("solver console output: %s", " | ".join(text.split("\n")[:3]))
        if log_file:
            with Path(log_file).open("a", encoding="utf-8") as log:
                log.write(text)


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
    decides what a non-optimal end means. Whatever HiGHS prints on the process's stdout (its
    banner, printed before linopy applies the log options) goes to the options' ``log_file``, or
    nowhere (:func:`_solver_stdout`).
    """
    start = time.perf_counter()
    log_file = options.get("log_file") if options.get("output_flag", True) else None
    with _solver_stdout(log_file):
        if expect_failure:
            with quiet_linopy():
                status, condition = m.solve(solver_name=SOLVER_NAME, io_api="direct", **options)
        else:
            status, condition = m.solve(solver_name=SOLVER_NAME, io_api="direct", **options)
    return HighsRun(status=str(status), condition=str(condition), seconds=time.perf_counter() - start)


def infeasible_global_constraints(
    n: pypsa.Network, m: linopy.Model, options: Mapping[str, Any], own: Sequence[str]
) -> list[str]:
    """Global constraints without which a model that has no solution solves, described.

    Removes PyPSA's ``GlobalConstraint-<name>`` rows of the network's own global constraints
    ``own`` (those of ``global_constraints.csv``, not the scenario's contracts and targets, which
    the diagnosis explains) from ``m`` (the model is spent) and solves again with the helper
    options; when that is optimal, those global constraints make the problem infeasible.
    Returns ``"'name' (type: carrier_attribute sense constant)"`` per constraint, or an empty
    list (no such constraint, or infeasible without them as well).
    """
    names = [f"GlobalConstraint-{name}" for name in own]
    names = [name for name in names if name in m.constraints]
    if not names:
        return []
    for name in names:
        m.remove_constraints(name)
    run = run_highs(m, auxiliary_solver_options(options), expect_failure=True)
    if not run.optimal:
        return []
    table = n.global_constraints
    described = []
    for name in names:
        label = name.removeprefix("GlobalConstraint-")
        if label in table.index:
            row = table.loc[label]
            described.append(
                f"'{label}' ({row['type']}: {row['carrier_attribute']} {row['sense']} "
                f"{float(row['constant']):g})"
            )
        else:
            described.append(f"'{label}'")
    return described


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


def build_multi_period_model(
    n: pypsa.Network, constraints: ConstraintAdder | None = None
) -> linopy.Model:
    """Build PyPSA's multi-investment-period model of ``n`` and add ``constraints``.

    ``n.optimize.create_model(multi_investment_periods=True)`` (snapshots indexed by
    ``(period, timestep)``; capital costs weighted by the investment-period weightings of the
    periods an asset is active in). Single-variable limit rows are left as rows: with periods
    they carry the activity mask of each asset.
    """
    m = n.optimize.create_model(multi_investment_periods=True, include_objective_constant=False)
    if constraints is not None:
        constraints(n, n.snapshots)
    return m


#: Name of the cost-budget constraint of a near-optimal (MGA) model.
MGA_BUDGET = "GlobalConstraint-mga_budget"


def set_capacity_objective(
    n: pypsa.Network, m: linopy.Model, weights: Mapping[str, Mapping[str, Any]], sense: str
) -> None:
    """Replace the objective of ``m`` by ``+w'x`` (``min``) or ``-w'x`` (``max``).

    ``w'x`` is PyPSA's ``n.optimize.build_linexpr_from_weights`` (as in ``optimize_mga``); the
    constraints (the MGA budget included) stay, so one near-optimal model serves every direction.
    """
    direction = n.optimize.build_linexpr_from_weights(dict(weights), model=m)
    if sense not in ("min", "max"):
        msg = f"sense must be 'min' or 'max', got {sense!r}"
        raise ValueError(msg)
    m.objective = direction if sense == "min" else -1 * direction


# --- re-solving one multi-period model with changes (the pathway studies) --------------------

#: A removed constraint block, kept to be added again: ``(lhs, sign, rhs)``.
SavedRows = tuple[Any, Any, Any]


def remove_rows(m: linopy.Model, names: Sequence[str]) -> dict[str, SavedRows]:
    """Remove the constraint blocks ``names`` (absent ones skipped); return them for :func:`add_rows`."""
    saved = {}
    for name in names:
        if name in m.constraints:
            con = m.constraints[name]
            saved[name] = (con.lhs, con.sign, con.rhs)
            m.remove_constraints(name)
    return saved


def add_rows(m: linopy.Model, rows: Mapping[str, SavedRows]) -> None:
    """Add constraint blocks ``name -> (lhs, sign, rhs)`` (e.g. removed by :func:`remove_rows`)."""
    for name, (lhs, sign, rhs) in rows.items():
        m.add_constraints(lhs, sign, rhs, name=name)


def set_cost_objective(n: pypsa.Network, m: linopy.Model, cost: Any | None = None) -> None:
    """Make the cost the objective of ``m`` again (minimised).

    ``cost`` (an expression saved from ``m.objective.expression``) is put back as it is; without
    it PyPSA's objective builder writes the cost at the network's current period weightings
    (:func:`energy_model.optimization.compat.rebuild_cost_objective`).
    """
    if cost is None:
        rebuild_cost_objective(n)
    else:
        m.add_objective(cost, overwrite=True, sense="min")


def set_size_bounds(m: linopy.Model, variable: str, lower: pd.Series, upper: pd.Series) -> None:
    """Set the bounds of the ``name`` entries ``lower.index`` of ``variable`` (others kept).

    Candidates fixed at a size (``lower = upper``) or not buildable (``upper = 0``) without a
    new model (the pathway's myopic steps).
    """
    var = m.variables[variable]
    low, high = var.lower.copy(), var.upper.copy()
    names = list(lower.index)
    low.loc[{"name": names}] = lower.reindex(names).to_numpy(dtype=float)
    high.loc[{"name": names}] = upper.reindex(names).to_numpy(dtype=float)
    set_variable_bounds(var, lower=low, upper=high)


def add_cost_budget(m: linopy.Model, cost: Any, optimal_objective: float, slack: float) -> None:
    r"""Add the near-optimal (MGA) budget :math:`C(x) \le C^* + \varepsilon\, |C^*|` (:data:`MGA_BUDGET`).

    :math:`(1 + \varepsilon) C^*` for a positive optimum, and still a relaxation when export
    revenue makes the optimum negative. With the objective swapped to a capacity direction
    (:func:`set_capacity_objective`, the expression PyPSA's ``optimize_mga`` uses; its
    ``optimize_mga`` itself takes no extra constraints, so the budget is added here) one model
    serves every direction of a slack.

    ==================  =================================================  =====
    symbol              meaning                                            unit
    ==================  =================================================  =====
    :math:`C(x)`        ``cost``: the model's cost objective               CNY
    :math:`C^*`         ``optimal_objective``: the optimum of that model   CNY
    :math:`\varepsilon`  ``slack``                                          \-
    ==================  =================================================  =====
    """
    budget = optimal_objective + slack * abs(optimal_objective)
    m.add_constraints(cost <= budget, name=MGA_BUDGET)
