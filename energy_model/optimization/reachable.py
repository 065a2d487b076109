"""The largest renewable share a network can reach, whatever it costs.

Answers "is this target reachable at all?" for a target the scenario solve could not meet:
a linear-fractional program over the network's feasible set, solved by Dinkelbach's method
through :mod:`energy_model.optimization.model`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from energy_model.accounting import MixPool, compute_model_share_terms, find_target
from energy_model.exceptions import InfeasibleError
from energy_model.optimization.compat import detach_solver_model
from energy_model.optimization.constraints import as_linear
from energy_model.optimization.model import (
    ConstraintAdder,
    auxiliary_solver_options,
    build_model,
    run_highs,
)

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import Scenario, Target

logger = logging.getLogger(__name__)


#: Relative margin below the largest mix ratio at which step 2 of the reachable share is solved.
RATIO_FLOOR_REL = 1e-7


def _evaluate(term: Any) -> float:
    """Value of a linopy expression at the solution, or of a constant."""
    if hasattr(term, "solution") and not isinstance(term, xr.DataArray):
        return float(term.solution)
    return float(term)


def maximise_ratio(
    m: Any, numerator: Any, denominator: Any, options: dict[str, Any], what: str,
    *, max_iter: int = 8, tol: float = 1e-7,
) -> float:
    """Largest ``numerator / denominator`` over the feasible set of the built model ``m`` (Dinkelbach).

    The objective of ``m`` is overwritten (the caller restores it). Raises
    :class:`~energy_model.exceptions.InfeasibleError` when ``m`` has no feasible point.
    """
    q = 0.0
    value = 0.0
    for _ in range(max_iter):
        objective = as_linear(m, numerator - q * denominator)
        objective = objective - objective.const  # linopy objectives take no constant
        m.add_objective(objective, overwrite=True, sense="max")
        run = run_highs(m, options)
        if not run.optimal:
            msg = (
                f"cannot compute the largest reachable {what}: the network has no feasible "
                f"dispatch (status {run.status}, {run.condition})"
            )
            raise InfeasibleError(msg, status=run.status, condition=run.condition)
        den = _evaluate(denominator)
        if den <= 0:
            return 0.0
        value = _evaluate(numerator) / den
        if value - q <= tol:
            break
        q = value
    return value


def compute_max_mix_ratio(
    n: pypsa.Network,
    sc: Scenario,
    target: Target | str,
    project_root: str | Path,
    *,
    extra_functionality: ConstraintAdder | None = None,
    max_iter: int = 8,
    tol: float = 1e-7,
) -> float:
    r"""Largest renewable fraction :math:`R/T` of the enforced rule's pool the network reaches [-].

    Step 1 of :func:`compute_max_reachable_share` (same arguments; a copy is optimised).
    """
    target = find_target(sc, target)
    *_, ratio = _max_mix(
        n, sc, target, project_root, extra_functionality, f"max_mix_{target.name}", max_iter, tol
    )
    return ratio


def _max_mix(
    n: pypsa.Network,
    sc: Scenario,
    target: Target,
    project_root: str | Path,
    extra_functionality: ConstraintAdder | None,
    prefix: str,
    max_iter: int,
    tol: float,
) -> tuple[pypsa.Network, Any, dict[str, Any], MixPool, float]:
    """Optimise a copy of ``n`` for its largest mix ratio; return copy, model, options, pool, ratio."""
    detach_solver_model(n)  # n.copy() refuses a network with a live solver model
    work = n.copy()
    m = build_model(work, extra_functionality, limits_as_bounds=False)
    options = ratio_solver_options(sc.solver.options)
    _, pool = compute_model_share_terms(
        work, sc, target, project_root, prefix=prefix, rule=sc.enforced_attribution, mix_ratio=0.0
    )
    ratio = maximise_ratio(m, pool.renewable, pool.total, options, "mix ratio", max_iter=max_iter, tol=tol)
    return work, m, options, pool, ratio


def ratio_solver_options(options: dict[str, Any]) -> dict[str, Any]:
    """Solver options of the ratio solves from the scenario's ``options``.

    Objectives without costs have a large optimal face: an interior-point run without
    crossover may stop without a reliable vertex, so crossover is switched on.
    """
    crossover = {"run_crossover": "on"} if options.get("solver", "ipm") == "ipm" else {}
    return auxiliary_solver_options(options, crossover)


def compute_max_reachable_share(
    n: pypsa.Network,
    sc: Scenario,
    target: Target | str,
    project_root: str | Path,
    *,
    extra_functionality: ConstraintAdder | None = None,
    max_iter: int = 8,
    tol: float = 1e-5,
) -> float:
    r"""Largest share of ``target``'s indicator the network reaches at its largest renewable mix.

    Two linear-fractional programs over the network's feasible set (costs ignored), each
    solved by Dinkelbach's method (solve :math:`\max N - q_k D`, set :math:`q_{k+1} = N/D`,
    stop when the gain is below ``tol``):

    1. the largest mix ratio of the enforced rule, :math:`\rho^* = \max R/T`
       (:func:`energy_model.accounting.compute_mix_pool`);
    2. with :math:`R \ge \rho^* T` added, the largest share with the locally consumed renewable
       electricity :math:`\rho^* E_{el}` (:func:`energy_model.accounting.compute_share_terms`).

    ==============  =====================================================  ============
    symbol          meaning                                                unit
    ==============  =====================================================  ============
    :math:`R, T`    renewable and total electricity pool of the rule       MWh
    :math:`N, D`    share numerator and denominator at the fixed ratio     tce (MWh for
                                                                           electricity)
    ==============  =====================================================  ============

    For an ``electricity`` target the share is the mix ratio, so step 1 is exact. For a
    ``final_energy`` target the result is exact when the share cannot gain from a lower mix
    ratio with more local electricity use, e.g. when the network exports nothing; otherwise it
    is a lower bound of the true maximum.

    Parameters
    ----------
    n
        Network (not modified; a copy is optimised).
    sc, target, project_root
        As in :func:`energy_model.optimization.constraints.add_renewable_share_constraint`.
    extra_functionality
        Adds the scenario's other constraints (e.g. export contracts) to the copy's model; it
        must not add the renewable-share constraint itself.
    max_iter
        Iteration limit of each Dinkelbach loop.
    tol
        Convergence tolerance on the ratio and the share [-].

    Returns
    -------
    float
        Largest reachable share [-].

    Raises
    ------
    InfeasibleError
        The network is infeasible even without the target.
    """
    target = find_target(sc, target)
    name = f"max_share_{target.name}"
    work, m, options, pool, ratio = _max_mix(
        n, sc, target, project_root, extra_functionality, name, max_iter, tol
    )
    if target.indicator == "electricity":
        return ratio
    # rho* is the ratio at a feasible point, so R >= rho* T holds there in exact arithmetic; the
    # floor keeps rounding at that vertex from making step 2 infeasible (found by the property
    # test), at a relative cost of 1e-7 in the ratio (the result stays a lower bound).
    floor = ratio * (1.0 - RATIO_FLOOR_REL)
    m.add_constraints(as_linear(m, pool.renewable - floor * pool.total) >= 0, name=f"{name}_mix")
    terms, _ = compute_model_share_terms(
        work, sc, target, project_root, prefix=f"{name}_at_ratio", rule=sc.enforced_attribution,
        mix_ratio=floor,
    )
    return maximise_ratio(
        m, terms.numerator, terms.denominator, options, "share", max_iter=max_iter, tol=tol
    )
