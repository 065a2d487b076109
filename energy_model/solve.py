"""Solve stage: build PyPSA's linopy model, add the scenario constraints, solve with HiGHS.

Reads a network with the scenario applied; writes the solution into the network (PyPSA's
``assign_solution``). A solve that does not end ``optimal`` raises
:class:`~energy_model.exceptions.InfeasibleError`; there is never a silent result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from energy_model.checks import check_solution
from energy_model.constraints import (
    constraint_names,
    extra_functionality,
    move_fixed_limits_to_bounds,
)
from energy_model.exceptions import InfeasibleError
from energy_model.screening import certify, fix_candidates, propose_candidates, release

if TYPE_CHECKING:
    from pathlib import Path

    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SolveResult:
    """Outcome of one optimisation.

    Attributes
    ----------
    status, condition
        linopy solver status and termination condition.
    objective
        Objective value [CNY/yr in the Zhangjiakou networks; the network's currency unit].
    duals
        Dual value of each scenario constraint, by constraint name [currency per unit of the
        constraint's right-hand side].
    timings
        Wall time per step [s]: ``screen`` (coarse proposal run of the investment screening),
        ``certify`` (pricing the screened capacities after the solve; absent without screening),
        ``build`` (linopy model incl. scenario constraints), ``solve`` (solver incl. hand-over,
        summed over the solves of the full LP), ``post`` (writing the solution back to the
        network).
    lp_size
        ``variables``, ``constraints`` and ``nonzeros`` of the LP.
    solver_options
        Options passed to the solver.
    screening
        What the investment screening did (:meth:`energy_model.screening.ScreeningReport.as_dict`).
    """

    status: str
    condition: str
    objective: float
    duals: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    lp_size: dict[str, int] = field(default_factory=dict)
    solver_options: dict[str, Any] = field(default_factory=dict)
    screening: dict[str, Any] = field(default_factory=dict)


def _lp_size(m: Any) -> dict[str, int]:
    """Count variables, constraints and non-zeros of a linopy model."""
    try:
        matrices = m.matrices
        nonzeros = int(matrices.A.nnz) if matrices.A is not None else 0
    except Exception:  # noqa: BLE001 - size is informative only
        nonzeros = -1
    return {
        "variables": int(m.nvars),
        "constraints": int(m.ncons),
        "nonzeros": nonzeros,
    }


def solve(
    n: pypsa.Network,
    sc: Scenario,
    project_root: Path,
    *,
    log_file: Path | None = None,
    count_nonzeros: bool = False,
    diagnose: bool = True,
) -> SolveResult:
    """Optimise the network for the scenario with HiGHS through linopy.

    Parameters
    ----------
    n
        Network with the scenario already applied (:func:`energy_model.network.apply_scenario`).
    sc
        The scenario (solver options, export contracts, enforced targets).
    project_root
        Folder that relative data paths in the scenario refer to.
    log_file
        File for the solver log; ``None`` keeps HiGHS quiet.
    count_nonzeros
        Also count the non-zeros of the constraint matrix (costs a matrix build).
    diagnose
        On a non-optimal end, re-solve a relaxed copy
        (:func:`energy_model.diagnose.diagnose_infeasibility`) and put its summary into the
        error message.

    Raises
    ------
    InfeasibleError
        When the termination condition is not ``optimal``; the message says where and when
        the system falls short and which requirement cannot be met.
    PhysicsCheckError
        When the solution violates a physical invariant (:func:`energy_model.checks.check_solution`).
    """
    options: dict[str, Any] = dict(sc.solver.options)
    if log_file is not None:
        options.setdefault("log_file", str(log_file))
    options.setdefault("output_flag", log_file is not None)
    options.setdefault("log_to_console", False)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    candidates, screening = propose_candidates(n, sc, project_root)
    timings["screen"] = time.perf_counter() - start

    start = time.perf_counter()
    m = n.optimize.create_model(include_objective_constant=False)
    extra_functionality(sc, project_root)(n, n.snapshots)
    moved = move_fixed_limits_to_bounds(m)
    logger.info("moved %d single-variable limit rows to variable bounds", moved)
    if candidates and len(m.integers):
        screening.reason = "the model has integer variables; the LP certificate does not apply"
        candidates = []
    fix_candidates(m, candidates)
    timings["build"] = time.perf_counter() - start
    lp_size = _lp_size(m) if count_nonzeros else {"variables": int(m.nvars), "constraints": int(m.ncons)}
    logger.info(
        "built LP in %.2f s: %d variables, %d constraints",
        timings["build"],
        lp_size["variables"],
        lp_size["constraints"],
    )

    timings["solve"] = 0.0
    while True:
        start = time.perf_counter()
        status, condition = m.solve(solver_name=sc.solver.name, io_api="direct", **options)
        timings["solve"] += time.perf_counter() - start
        screening.solves += 1
        logger.info(
            "solver finished in %.2f s: status %s, condition %s", timings["solve"], status, condition
        )
        if not candidates:
            break
        if status != "ok" or condition != "optimal":
            logger.warning(
                "screening: the restricted LP ended '%s'; solving again with every option open",
                condition,
            )
            screening.released += [c.key for c in candidates]
            candidates = release(m, candidates, [])
            continue
        start = time.perf_counter()
        costs, failing = certify(n, m, candidates)
        timings["certify"] = timings.get("certify", 0.0) + time.perf_counter() - start
        screening.savings = costs
        if not failing:
            logger.info(
                "screening: certified, no fixed capacity would lower the cost (largest saving "
                "%.4g CNY/yr, within tolerance)",
                max(costs.values()),
            )
            break
        logger.info(
            "screening: %s would pay (saving %s CNY/yr at the restricted prices); released, "
            "solving again",
            ", ".join(c.key for c in failing),
            ", ".join(f"{costs[c.key]:.4g}" for c in failing),
        )
        screening.released += [c.key for c in failing]
        candidates = release(m, candidates, [c for c in candidates if c not in failing])
    if status != "ok" or condition != "optimal":
        message = (
            f"scenario '{sc.name}': the optimisation ended with status '{status}' and "
            f"condition '{condition}', not optimal; no result was written"
        )
        if diagnose:
            from energy_model.diagnose import diagnose_infeasibility  # noqa: PLC0415

            try:
                diagnosis = diagnose_infeasibility(n, sc, project_root, condition=str(condition))
                message = f"{message}. Diagnosis: {diagnosis.summary}"
            except Exception as err:  # noqa: BLE001 - the original failure must be reported
                logger.warning("diagnosis failed: %s: %s", type(err).__name__, err)
                message = f"{message} (diagnosis failed: {type(err).__name__}: {err})"
        raise InfeasibleError(message, status=str(status), condition=str(condition))

    start = time.perf_counter()
    n.optimize.assign_solution()
    n.optimize.assign_duals(False)
    n.optimize.post_processing()
    check_solution(n, sc)
    duals = {
        name: float(m.constraints[name].dual.values.item())
        for name in constraint_names(sc)
        if name in m.constraints
    }
    timings["post"] = time.perf_counter() - start
    return SolveResult(
        status=str(status),
        condition=str(condition),
        objective=float(m.objective.value),
        duals=duals,
        timings=timings,
        lp_size=lp_size,
        solver_options=options,
        screening=screening.as_dict(),
    )
