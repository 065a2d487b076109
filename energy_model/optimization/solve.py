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
from energy_model.exceptions import InfeasibleError
from energy_model.optimization.constraints import extra_functionality, read_duals
from energy_model.optimization.diagnose import diagnose_infeasibility
from energy_model.optimization.model import (
    build_model,
    lp_size,
    main_solver_options,
    objective_value,
    run_highs,
    write_solution,
)
from energy_model.optimization.screening import certify, fix_candidates, propose_candidates, release

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
        What the investment screening did
        (:meth:`energy_model.optimization.screening.ScreeningReport.as_dict`).
    """

    status: str
    condition: str
    objective: float
    duals: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    lp_size: dict[str, int] = field(default_factory=dict)
    solver_options: dict[str, Any] = field(default_factory=dict)
    screening: dict[str, Any] = field(default_factory=dict)


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
        (:func:`energy_model.optimization.diagnose.diagnose_infeasibility`) and put its summary into the
        error message.

    Raises
    ------
    InfeasibleError
        When the termination condition is not ``optimal``; the message says where and when
        the system falls short and which requirement cannot be met.
    PhysicsCheckError
        When the solution violates a physical invariant (:func:`energy_model.checks.check_solution`).
    """
    options = main_solver_options(sc.solver.options, log_file)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    candidates, screening = propose_candidates(n, sc, project_root)
    timings["screen"] = time.perf_counter() - start

    start = time.perf_counter()
    m = build_model(n, extra_functionality(sc, project_root))
    if candidates and len(m.integers):
        screening.reason = "the model has integer variables; the LP certificate does not apply"
        candidates = []
    fix_candidates(m, candidates)
    timings["build"] = time.perf_counter() - start
    size = lp_size(m, count_nonzeros=count_nonzeros)
    logger.info(
        "built LP in %.2f s: %d variables, %d constraints",
        timings["build"],
        size["variables"],
        size["constraints"],
    )

    timings["solve"] = 0.0
    while True:
        run = run_highs(m, options)
        timings["solve"] += run.seconds
        screening.solves += 1
        logger.info(
            "solver finished in %.2f s: status %s, condition %s",
            timings["solve"],
            run.status,
            run.condition,
        )
        if not candidates:
            break
        if not run.optimal:
            logger.warning(
                "screening: the restricted LP ended '%s'; solving again with every option open",
                run.condition,
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
    if not run.optimal:
        message = (
            f"scenario '{sc.name}': the optimisation ended with status '{run.status}' and "
            f"condition '{run.condition}', not optimal; no result was written"
        )
        if diagnose:
            try:
                diagnosis = diagnose_infeasibility(n, sc, project_root, condition=run.condition)
                message = f"{message}. Diagnosis: {diagnosis.summary}"
            except Exception as err:  # noqa: BLE001 - the original failure must be reported
                logger.warning("diagnosis failed: %s: %s", type(err).__name__, err)
                message = f"{message} (diagnosis failed: {type(err).__name__}: {err})"
        raise InfeasibleError(message, status=run.status, condition=run.condition)

    start = time.perf_counter()
    write_solution(n)
    check_solution(n, sc)
    duals = read_duals(m, sc)
    timings["post"] = time.perf_counter() - start
    return SolveResult(
        status=run.status,
        condition=run.condition,
        objective=objective_value(m),
        duals=duals,
        timings=timings,
        lp_size=size,
        solver_options=options,
        screening=screening.as_dict(),
    )
