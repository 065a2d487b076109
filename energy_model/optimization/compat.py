"""Every use of a PyPSA or linopy internal, in one place.

Each function here relies on something PyPSA or linopy does not document as public API. Each
names the versions it was written against (:data:`WRITTEN_AGAINST`); ``tests/test_compat.py``
exercises each on a tiny network and fails loudly when an upgrade changes the behaviour, so an
upgrade is a one-module review instead of a hunt through the engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import linopy
    import pypsa

#: Versions the internals below were written and tested against.
WRITTEN_AGAINST = {"pypsa": "1.4.0", "linopy": "0.10"}

#: Infix of the row names PyPSA (1.x) gives the operating limits of fixed-capacity assets:
#: ``<Component>-fix-<attribute>-lower`` / ``-upper``.
FIXED_LIMIT_INFIX = "-fix-"


@dataclass(frozen=True)
class FixedLimitRows:
    """A constraint of PyPSA's fixed-capacity operating limits and the variable it bounds."""

    constraint: str
    """Row-block name, e.g. ``Generator-fix-p-upper``."""
    variable: str
    """Variable name, e.g. ``Generator-p``."""
    side: str
    """``lower`` (rows ``a x >= b``) or ``upper`` (rows ``a x <= b``)."""


def fixed_limit_rows(m: linopy.Model) -> Iterator[FixedLimitRows]:
    """The row blocks PyPSA writes for the limits of fixed-capacity assets (PyPSA 1.4.0).

    PyPSA names them ``<Component>-fix-<attribute>-lower/upper`` (e.g.
    ``Generator-fix-p-upper``: :math:`p_{g,t} \\le \\bar p_{g,t} P_g` with :math:`P_g` a
    number). The names are not public API; this parser is the only place that relies on them.
    Blocks whose variable does not exist are skipped.
    """
    for name in list(m.constraints):
        component, _, rest = name.partition(FIXED_LIMIT_INFIX)
        if not rest or not rest.endswith(("-lower", "-upper")):
            continue
        attribute, _, side = rest.rpartition("-")
        variable = f"{component}-{attribute}"
        if variable in m.variables:
            yield FixedLimitRows(constraint=name, variable=variable, side=side)


def set_variable_bounds(variable: Any, **bounds: Any) -> None:
    """Set a linopy variable's ``lower``/``upper`` bounds (linopy 0.9 and 0.10).

    linopy 0.10 replaced the bound setters (``variable.upper = …``) by ``Variable.update``;
    0.9 has only the setters.
    """
    if hasattr(variable, "update"):
        variable.update(**bounds)
        return
    for side, value in bounds.items():
        setattr(variable, side, value)


def variable_label_count(m: linopy.Model) -> int:
    """Number of variable labels linopy has handed out (the next free label; linopy 0.10).

    Read from the private counter ``Model._xCounter``; labels of removed variables stay
    allocated, so this is an upper bound of every label in the model plus one.
    """
    return int(m._xCounter)  # noqa: SLF001 - the only reader of this private counter


def detach_solver_model(n: pypsa.Network) -> None:
    """Drop the live HiGHS object of ``n``'s linopy model so that ``n.copy()`` works (PyPSA 1.4).

    After a direct-API solve linopy keeps the solver object on ``n.model.solver_model``;
    ``pypsa.Network.copy`` refuses to deep-copy it. The model lives on the private attribute
    ``n._model`` (``n.model`` raises when there is none).
    """
    model = getattr(n, "_model", None)
    if getattr(model, "solver_model", None) is not None:
        model.solver_model = None  # type: ignore[union-attr]


def model_window(n: pypsa.Network) -> Any:
    """The snapshot window of ``n``'s model build (PyPSA 1.4's private ``n._optimize_window``)."""
    return getattr(n, "_optimize_window", None)


def attach_model(n: pypsa.Network, m: linopy.Model | None, window: Any = None) -> None:
    """Put ``m`` on ``n`` as its model (``None`` removes it) without building (PyPSA 1.4).

    PyPSA 1.4 keeps the model on the private ``n._model`` and the snapshot window of its build
    (model snapshot labels <-> ``n.snapshots``) on ``n._optimize_window``;
    ``n.optimize.assign_solution`` and ``post_processing`` read both. Used to write a model
    re-solved in place (:mod:`energy_model.optimization.resolve`) into a sample network with
    the same snapshots as the network it was built on (``window`` = :func:`model_window` of
    that network).
    """
    n._model = m  # noqa: SLF001 - the only writer of these private attributes
    n._optimize_window = window if m is not None else None  # noqa: SLF001


def solver_run_seconds(m: linopy.Model) -> float:
    """HiGHS's own run time of the last solve of ``m`` [s]; NaN when unknown (linopy 0.10).

    linopy 0.10 keeps the solver on ``m.solver`` after ``Model.solve`` and its report on
    ``m.solver.report`` (``runtime`` = ``Highs.getRunTime()``, without linopy's hand-over).
    """
    report = getattr(getattr(m, "solver", None), "report", None)
    runtime = getattr(report, "runtime", None)
    return float(runtime) if runtime is not None else float("nan")


@contextmanager
def absent_slots_as_zero() -> Iterator[None]:
    """Keep linopy's legacy rule that an absent variable slot adds 0 to a sum (linopy 0.10).

    In a multi-period model PyPSA masks the dispatch variables of assets that are not active in
    a period (retired or not yet built). Sums over assets and snapshots (the accounting's annual
    balance) must count those slots as 0, linopy's legacy semantics; linopy 0.10 warns
    (``LinopySemanticsWarning``) that a future "v1" semantics would propagate the absence
    instead. The warning is silenced inside this block only; ``tests/test_pathway.py`` checks
    the sums by hand on a network with a retired asset.
    """
    try:
        from linopy.config import LinopySemanticsWarning  # noqa: PLC0415 - linopy >= 0.10
    except ImportError:  # older linopy: no such warning, legacy semantics
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=LinopySemanticsWarning)
        yield


def fresh_highs_scheduler() -> None:
    """Discard the calling thread's HiGHS task scheduler before a HiGHS run in this thread.

    HiGHS keeps one task scheduler per thread, sized by the ``threads`` option of the first run
    in that thread. A later run in the same thread with another ``threads`` value does not
    solve: ``run()`` returns an error and the model status stays "Not Set" (HiGHS 1.11-1.15,
    ``Highs::resetGlobalScheduler``). linopy's solves run in a thread of their own and are not
    affected; the direct HiGHS runs of this engine (the screening's pricing LPs, the Pyomo
    cross-check through appsi) call this first, so their result does not depend on which solve
    ran earlier in the process. Only safe while no other HiGHS run is active in this thread
    (the engine runs one at a time per thread).
    """
    import highspy  # noqa: PLC0415

    reset = getattr(highspy.Highs, "resetGlobalScheduler", None)
    if reset is not None:
        reset(True)


def native_solver(solver: Any) -> Any:
    """The solver's own object (``highspy.Highs``) behind a linopy ``Solver`` after a solve.

    Written against linopy 0.10 (direct API): ``Solver.solver_model`` holds it; used by the
    in-place re-solve of sweeps to read and reset the basis.
    """
    return solver.solver_model


def rebuild_cost_objective(n: pypsa.Network) -> None:
    """Write PyPSA's cost objective of ``n`` into ``n.model`` again (PyPSA 1.4).

    ``pypsa.optimization.optimize.define_objective`` (not public API) is the builder
    ``create_model`` calls last; it reads the current ``investment_period_weightings`` and
    snapshot weightings, so a multi-period model re-weighted per period (the pathway's myopic
    steps) needs only this, not a new model. No objective constant (as the engine's builds).
    Run under linopy's legacy absent-slot rule, as ``create_model`` runs it
    (:func:`absent_slots_as_zero`).
    """
    from pypsa.optimization.optimize import define_objective  # noqa: PLC0415 - internal, lazy

    with absent_slots_as_zero():
        define_objective(n, n.snapshots, False, [])


def assign_primal_result(m: linopy.Model, result: Any, solver: Any) -> None:
    """Write a linopy ``Result``'s status, objective and primal values onto ``m``, no duals (linopy 0.10).

    ``Model.assign_result`` also turns every constraint's duals into DataArrays, which costs
    about as much as a warm HiGHS re-solve of a sweep sample; the sweep records use no dual.
    The primal part is ``Model.assign_result``'s own code (``Variable.range``,
    ``solver_scaling``, the private ``Objective._value``). ``m``'s constraints must never have
    had duals assigned: PyPSA's ``assign_duals`` then writes no shadow prices (it returns early
    when no constraint has duals) instead of another solve's.
    """
    import xarray as xr  # noqa: PLC0415 - lazy, as linopy

    m.solver = solver
    m.status = result.status.status.value
    m.termination_condition = result.status.termination_condition.value
    if result.solution is not None:
        m.objective._value = result.solution.objective / m.objective.scaling  # noqa: SLF001
    if not result.status.is_ok or result.solution is None or len(result.solution.primal) == 0:
        return
    primal = result.solution.primal
    for _, var in m.variables.items():
        start, end = var.range
        values = primal[start:end].reshape(var.shape) / var.solver_scaling.values
        var.solution = xr.DataArray(values, var.coords, dims=var.dims)


def result_duals(m: linopy.Model, result: Any, names: list[str]) -> dict[str, float]:
    """Duals of the named single-row constraints of ``m`` from a linopy ``Result`` (linopy 0.10).

    Scaled as ``Model.assign_result`` scales them (constraint scaling over objective scaling);
    for models whose duals are not assigned (:func:`assign_primal_result`).
    """
    dual = result.solution.dual
    out = {}
    for name in names:
        con = m.constraints[name]
        start, end = con.range
        values = dual[start:end] * con.scaling.to_numpy().ravel() / m.objective.scaling
        out[name] = float(values.item())
    return out


def label_positions(m: linopy.Model) -> tuple[Any, Any]:
    """Column of every variable label and row of every constraint label in the solver (linopy 0.10).

    ``label_index.label_to_pos`` (-1: not in the LP), the order in which linopy's direct-API
    build hands the columns and rows to HiGHS (the order its solution is read back in).
    """
    return m.variables.label_index.label_to_pos, m.constraints.label_index.label_to_pos
