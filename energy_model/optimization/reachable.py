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

from energy_model.accounting import compute_model_share_terms, find_target
from energy_model.exceptions import InfeasibleError
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


def _evaluate(term: Any) -> float:
    """Value of a linopy expression at the solution, or of a constant."""
    if hasattr(term, "solution") and not isinstance(term, xr.DataArray):
        return float(term.solution)
    return float(term)


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
    r"""Largest share of ``target``'s indicator (rule ``nea_annual``) the network can reach.

    Dinkelbach's method on the linear-fractional program :math:`\max N(x)/D(x)` over the
    network's feasible set (costs ignored): solve :math:`\max N - q_k D`, set
    :math:`q_{k+1} = N/D` at the optimum, stop when :math:`\max N - q_k D \le tol \cdot D`.

    ==============  =====================================================  ============
    symbol          meaning                                                unit
    ==============  =====================================================  ============
    :math:`N, D`    share numerator and denominator                        tce (MWh for
                    (:func:`energy_model.accounting.compute_share_terms`)  electricity)
    :math:`q_k`     share after iteration *k*                              –
    ==============  =====================================================  ============

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
        Iteration limit.
    tol
        Convergence tolerance on the share [-].

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
    work = n.copy()
    m = build_model(work, extra_functionality, limits_as_bounds=False)
    terms = compute_model_share_terms(
        work, sc, target, project_root, prefix=f"max_share_{target.name}"
    )
    # this objective (no costs) has a large optimal face: an interior-point run without
    # crossover may stop without a reliable vertex, so crossover is switched on
    crossover = {"run_crossover": "on"} if sc.solver.options.get("solver", "ipm") == "ipm" else {}
    options = auxiliary_solver_options(sc.solver.options, crossover)
    q = 0.0
    share = 0.0
    for _ in range(max_iter):
        objective = terms.numerator - q * terms.denominator
        objective = objective - objective.const  # linopy objectives take no constant
        m.add_objective(objective, overwrite=True, sense="max")
        run = run_highs(m, options)
        if not run.optimal:
            msg = (
                f"cannot compute the largest reachable share of target '{target.name}': "
                f"the network has no feasible dispatch (status {run.status}, {run.condition})"
            )
            raise InfeasibleError(msg, status=run.status, condition=run.condition)
        num = _evaluate(terms.numerator)
        den = _evaluate(terms.denominator)
        if den <= 0:
            return 0.0
        share = num / den
        if share - q <= tol:
            break
        q = share
    return share
