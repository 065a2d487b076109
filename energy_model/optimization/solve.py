"""Solve stage: build PyPSA's linopy model, add the scenario constraints, solve with HiGHS.

Reads a network with the scenario applied; writes the solution into the network (PyPSA's
``assign_solution``). A solve that does not end ``optimal`` raises
:class:`~energy_model.exceptions.InfeasibleError`; there is never a silent result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from energy_model.accounting import evaluate_enforced_target
from energy_model.checks import check_solution, check_supply
from energy_model.exceptions import InfeasibleError
from energy_model.optimization.compat import detach_solver_model
from energy_model.optimization.constraints import extra_functionality, read_duals
from energy_model.optimization.diagnose import diagnose_infeasibility
from energy_model.optimization.model import (
    build_model,
    infeasible_global_constraints,
    lp_size,
    main_solver_options,
    objective_value,
    recorded_options,
    run_highs,
    write_solution,
)
from energy_model.optimization.reachable import compute_max_mix_ratio
from energy_model.optimization.screening import certify, fix_candidates, propose_candidates, release

if TYPE_CHECKING:
    from pathlib import Path

    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)

#: Termination conditions of a solve stopped by a limit, and the HiGHS option that sets it.
LIMIT_CONDITIONS = {"time_limit": "time_limit", "iteration_limit": "simplex_iteration_limit"}
#: Termination conditions that say the model has no solution (as opposed to a stopped solve).
NO_SOLUTION = ("infeasible", "infeasible_or_unbounded", "unbounded")


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
    mix_iterations
        Steps of the mix-ratio iteration of enforced final-energy targets
        (:func:`solve_scenario`): objective, fixed and achieved mix ratio and share per step.
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
    mix_iterations: list[dict[str, float]] = field(default_factory=list)


def solve(
    n: pypsa.Network,
    sc: Scenario,
    project_root: Path,
    *,
    log_file: Path | None = None,
    count_nonzeros: bool = False,
    diagnose: bool = True,
    mix_ratios: dict[str, float] | None = None,
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
    mix_ratios
        Fixed mix ratio of each enforced final-energy target
        (:func:`energy_model.optimization.constraints.add_renewable_share_constraint`);
        :func:`solve_scenario` chooses them.
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
    check_supply(n, sc.name)
    detach_solver_model(n)  # a network solved before (mix-ratio iteration) can then be copied

    start = time.perf_counter()
    candidates, screening = propose_candidates(n, sc, project_root, mix_ratios)
    timings["screen"] = time.perf_counter() - start

    start = time.perf_counter()
    own_constraints = [str(name) for name in n.global_constraints.index]  # before the scenario's
    m = build_model(n, extra_functionality(sc, project_root, mix_ratios))
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
        if run.condition in LIMIT_CONDITIONS:
            option = LIMIT_CONDITIONS[run.condition]
            message = (
                f"scenario '{sc.name}': the solver stopped at its {run.condition.replace('_', ' ')} "
                f"({option} = {options.get(option, 'HiGHS default')}) before reaching the optimum; "
                f"no result was written. Raise solver.options.{option} or make the problem smaller "
                "(time: {method: segment, ...})"
            )
            raise InfeasibleError(message, status=run.status, condition=run.condition)
        culprits = (
            infeasible_global_constraints(n, m, options, own_constraints)
            if run.condition in NO_SOLUTION else []
        )
        if culprits:
            message = (
                f"scenario '{sc.name}': the optimisation is infeasible because of the global "
                f"constraint(s) {', '.join(culprits)}: without them the model solves; no result "
                "was written. Relax the constraint's constant or add what it allows"
            )
            raise InfeasibleError(message, status=run.status, condition=run.condition)
        if diagnose:
            try:
                diagnosis = diagnose_infeasibility(
                    n, sc, project_root, condition=run.condition, mix_ratios=mix_ratios
                )
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
        solver_options=recorded_options(options, log_file),
        screening=screening.as_dict(),
    )


#: Convergence tolerance of the mix ratio between two solves of an enforced target [-].
MIX_RATIO_TOLERANCE = 1e-6
#: Tolerance of the proof that the reported share meets an enforced target [-] (1e-6 = 1e-4 pp).
ENFORCED_SHARE_TOLERANCE = 1e-6
#: Largest number of solves of the mix-ratio iteration.
MAX_MIX_ITERATIONS = 12


def solve_scenario(
    n: pypsa.Network,
    sc: Scenario,
    project_root: Path,
    *,
    log_file: Path | None = None,
    count_nonzeros: bool = False,
    diagnose: bool = True,
) -> SolveResult:
    r"""Solve a scenario; enforced final-energy targets by successive mix ratios.

    Under an annual mix rule the share of final energy is a ratio of decision variables. With
    the mix ratio fixed at :math:`\rho_k` the target is linear
    (:func:`energy_model.optimization.constraints.add_renewable_share_constraint`) and every
    solution of that LP meets the target under the true, variable mix. The iteration:

    1. solve without the share constraints; if every enforced target is already met under
       the enforced rule, that solution is optimal for the constrained problem too: done;
    2. :math:`\rho_1 = \max(\text{mix ratio}, \text{ratio the target needs})` of that
       solution; solve (if that ratio is out of the network's reach, start from the largest mix
       ratio it reaches, :func:`energy_model.optimization.reachable.compute_max_mix_ratio`);
    3. :math:`\rho_{k+1}` = the mix ratio of solution *k* (:math:`\ge \rho_k`, since the LP
       required it): solution *k* is feasible for LP *k+1*, so the cost never rises; stop when
       :math:`\rho` moves less than :data:`MIX_RATIO_TOLERANCE`.

    After the last solve the reported share under the enforced rule (numbers from the solved
    network, the same definitions as the metrics) must meet every target within
    :data:`ENFORCED_SHARE_TOLERANCE`, else :class:`~energy_model.exceptions.InfeasibleError`.
    ``SolveResult.mix_iterations`` records each step.
    """
    enforced = [t for t in sc.targets if t.enforce and t.indicator == "final_energy"]
    kwargs: dict[str, Any] = {
        "log_file": log_file,
        "count_nonzeros": count_nonzeros,
        "diagnose": diagnose,
    }
    if not enforced:
        return solve(n, sc, project_root, **kwargs)
    free = sc.model_copy(
        update={"targets": [t.model_copy(update={"enforce": False}) for t in sc.targets]}
    )
    result = solve(n, free, project_root, **kwargs)
    states = {t.name: evaluate_enforced_target(n, sc, t, project_root) for t in enforced}
    steps: list[dict[str, float]] = [_step(0, states, result)]
    if all(states[t.name].share >= t.min_share for t in enforced):
        logger.info("enforced targets hold at the free optimum; no share constraint binds")
        return _with_steps(result, steps)
    ratios = {
        t.name: min(max(states[t.name].mix_ratio, states[t.name].needed_ratio), 1.0)
        for t in enforced
    }
    for iteration in range(1, MAX_MIX_ITERATIONS + 1):
        try:
            result = solve(
                n, sc, project_root, mix_ratios=ratios, **{**kwargs, "diagnose": iteration > 1}
            )
        except InfeasibleError:
            if iteration > 1:
                raise
            # the first ratio can be out of reach of the network's mix: start from the largest
            # mix the network reaches instead (its solutions meet the target if any does)
            contracts_only = extra_functionality(free, project_root)
            fallback = {
                t.name: compute_max_mix_ratio(
                    n, sc, t, project_root, extra_functionality=contracts_only
                )
                for t in enforced
            }
            logger.info("mix ratios %s out of reach; starting from the largest mix %s",
                        ratios, fallback)
            ratios = fallback
            result = solve(n, sc, project_root, mix_ratios=ratios, **kwargs)
        states = {t.name: evaluate_enforced_target(n, sc, t, project_root) for t in enforced}
        steps.append(_step(iteration, states, result, ratios))
        moved = max(abs(states[name].mix_ratio - ratios[name]) for name in ratios)
        logger.info(
            "mix-ratio iteration %d: objective %.6g, largest move of the mix ratio %.3g",
            iteration,
            result.objective,
            moved,
        )
        if moved < MIX_RATIO_TOLERANCE:
            break
        ratios = {name: min(states[name].mix_ratio, 1.0) for name in ratios}
    for target in enforced:
        share = states[target.name].share
        if share < target.min_share - ENFORCED_SHARE_TOLERANCE:
            msg = (
                f"scenario '{sc.name}': target '{target.name}' is enforced but the reported "
                f"{sc.enforced_attribution} share is {share * 100:.4f} % < "
                f"{target.min_share * 100:.4f} % after {len(steps) - 1} mix-ratio solves"
            )
            raise InfeasibleError(msg, status="warning", condition="not_converged")
    return _with_steps(result, steps)


def _step(
    iteration: int,
    states: dict[str, Any],
    result: SolveResult,
    ratios: dict[str, float] | None = None,
) -> dict[str, float]:
    step: dict[str, float] = {"iteration": float(iteration), "objective": result.objective}
    for name, state in states.items():
        if ratios is not None:
            step[f"{name}.fixed_mix_ratio"] = ratios[name]
        step[f"{name}.mix_ratio"] = state.mix_ratio
        step[f"{name}.share"] = state.share
    return step


def _with_steps(result: SolveResult, steps: list[dict[str, float]]) -> SolveResult:
    return replace(result, mix_iterations=steps)
