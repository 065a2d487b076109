"""Build and solve the Pyomo LP, solve the engine's LP, compare the two: the cross-check's entry point."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from energy_model.analysis.crosscheck.lp import (
    FEASIBILITY_TOL,
    OBJECTIVE_RTOL,
    CrosscheckResult,
    PyomoBuilder,
    validate_supported,
)
from energy_model.analysis.crosscheck.shares import (
    add_renewable_share_constraints,
    evaluate_shares,
    tighten_share_auxiliaries,
)
from energy_model.optimization.compat import fresh_highs_scheduler
from energy_model.optimization.constraints import renewable_share_constraint_name
from energy_model.optimization.model import (
    auxiliary_solver_options,
    build_model,
    lp_size,
    objective_value,
    run_highs,
    write_solution,
)
from energy_model.optimization.solve import solve_scenario

if TYPE_CHECKING:
    import pypsa

    from energy_model.scenario import Scenario

logger = logging.getLogger(__name__)

def build_pyomo_model(
    n: pypsa.Network,
    sc: Scenario | None = None,
    project_root: Path | None = None,
    *,
    mix_ratios: dict[str, float] | None = None,
) -> tuple[pyo.ConcreteModel, Any]:
    """Build the independent Pyomo LP of ``n`` (see the module docstring for the formulation).

    Parameters
    ----------
    n
        Network with the scenario applied; not modified.
    sc
        Scenario whose export contracts and enforced renewable-share targets are added;
        ``None`` for a bare network.
    project_root
        Folder that holds ``data/`` (final-energy and coal-equivalent tables); required when
        the scenario enforces a renewable-share target.
    mix_ratios
        Fixed mix ratio of each enforced final-energy target (the engine's last one, see
        :func:`energy_model.optimization.solve.solve_scenario`).

    Returns
    -------
    tuple
        The Pyomo model and the builder that holds the index maps.

    Raises
    ------
    CrosscheckUnsupportedError
        The network uses a feature this formulation does not model.
    """
    validate_supported(n)
    builder = PyomoBuilder(n, sc, project_root)
    enforced = [target for target in sc.targets if target.enforce] if sc is not None else []
    if not enforced:
        return builder.build(), builder
    if project_root is None:
        assert sc is not None
        msg = (
            f"scenario '{sc.name}' enforces renewable-share targets: pass "
            "project_root (the folder that holds data/) to build the cross-check"
        )
        raise ValueError(msg)
    root = project_root
    model = builder.build(lambda b: add_renewable_share_constraints(b, enforced, root, mix_ratios))
    return model, builder


def solve_pyomo_model(model: pyo.ConcreteModel, options: dict[str, Any]) -> tuple[str, float]:
    """Solve with HiGHS through ``pyomo.contrib.appsi`` and return (condition, objective).

    When the model has enforced renewable-share constraints (``model.renewable_share``), their
    duals (HiGHS row duals, CNY per tce or per MWh) are loaded into the suffix ``model.dual``.
    """
    from pyomo.contrib.appsi.solvers import Highs  # noqa: PLC0415

    # appsi runs HiGHS in the calling thread: start from a fresh task scheduler (see there)
    fresh_highs_scheduler()
    solver = Highs()
    solver.highs_options = {"output_flag": False, **options}
    solver.config.stream_solver = False
    solver.config.load_solution = False
    results = solver.solve(model)
    condition = str(results.termination_condition.name)
    if condition != "optimal":
        return condition, float("nan")
    results.solution_loader.load_vars()
    shares = model.component("renewable_share")
    if shares is not None and len(shares) > 0:
        duals = results.solution_loader.get_duals(cons_to_load=list(shares.values()))
        for con, value in duals.items():
            model.dual[con] = float(value)
    return condition, float(pyo.value(model.objective))


# --------------------------------------------------------------------------------------------
# Comparing the two solutions
# --------------------------------------------------------------------------------------------


def _frame(var: pyo.Var, names: pd.Index, n_t: int) -> pd.DataFrame:
    values = np.array(
        [[pyo.value(var[i, t], exception=False) for i in names] for t in range(n_t)], dtype=float
    )
    return pd.DataFrame(values.reshape(n_t, len(names)), columns=names)


def _pairs(n: pypsa.Network, b: PyomoBuilder) -> list[tuple[str, pd.DataFrame, Any, pd.Index]]:
    """``(label, PyPSA solution, Pyomo variable, names)`` of every dispatch quantity."""
    pairs: list[tuple[str, pd.DataFrame, Any, pd.Index]] = [
        ("Generator-p", n.generators_t.p, b.m.gen_p, b.gen_names),
        ("Link-p0", n.links_t.p0, b.m.link_p, b.link_names),
        ("StorageUnit-p_dispatch", n.storage_units_t.p_dispatch, b.m.su_dispatch, b.su_names),
        ("StorageUnit-p_store", n.storage_units_t.p_store, b.m.su_store, b.su_names),
        ("StorageUnit-state_of_charge", n.storage_units_t.state_of_charge, b.m.su_soc, b.su_names),
        ("Store-p", n.stores_t.p, b.m.store_p, b.store_names),
        ("Store-e", n.stores_t.e, b.m.store_e, b.store_names),
        ("Line-p0", n.lines_t.p0, b.m.line_p, b.line_names),
    ]
    return [p for p in pairs if len(p[3]) > 0]


def compare_dispatch(n: pypsa.Network, b: PyomoBuilder) -> dict[str, float]:
    """Largest absolute difference per quantity between PyPSA's and this LP's solution."""
    n_t = len(b.T)
    diffs: dict[str, float] = {}
    for label, solved, var, names in _pairs(n, b):
        ours = _frame(var, names, n_t).to_numpy()
        theirs = solved.reindex(columns=names).to_numpy(dtype=float)
        diffs[label] = float(np.nanmax(np.abs(ours - theirs))) if ours.size else 0.0
    optimal_attr = {"Generator-p_nom": "p_nom_opt", "Link-p_nom": "p_nom_opt",
                    "StorageUnit-p_nom": "p_nom_opt", "Store-e_nom": "e_nom_opt", "Line-s_nom": "s_nom_opt"}
    for label, (ext, var) in b.nominal.items():
        if len(ext) == 0:
            continue
        component = label.split("-")[0]
        solved = n.components[component].static.loc[ext, optimal_attr[label]].astype(float)
        ours = np.array([pyo.value(var[i]) for i in ext], dtype=float)
        diffs[label] = float(np.max(np.abs(ours - solved.to_numpy())))
    return diffs


def _load_pypsa_solution(n: pypsa.Network, b: PyomoBuilder) -> None:
    """Set the Pyomo variables to PyPSA's solution (angles from the line flows)."""
    m = b.m
    for _label, solved, var, names in _pairs(n, b):
        values = solved.reindex(columns=names).to_numpy(dtype=float)
        for j, name in enumerate(names):
            for t in b.T:
                if not var[name, t].fixed:
                    var[name, t].set_value(float(values[t, j]), skip_validation=True)
    if len(b.su_names):
        spill = n.storage_units_t.get("spill", pd.DataFrame())
        for (s, t) in m.su_spill:
            value = spill[s].iloc[t] if s in spill.columns else 0.0
            m.su_spill[s, t].set_value(float(value), skip_validation=True)
    optimal_attr = {"Generator": "p_nom_opt", "Link": "p_nom_opt", "StorageUnit": "p_nom_opt",
                    "Store": "e_nom_opt", "Line": "s_nom_opt"}
    for label, (ext, var) in b.nominal.items():
        component = label.split("-")[0]
        solved = n.components[component].static[optimal_attr[component]]
        for i in ext:
            var[i].set_value(float(solved[i]), skip_validation=True)
    if len(b.line_names):
        # angles: least-squares solution of theta_a - theta_b = x f per snapshot, the slack
        # angles fixed at zero; a KVL violation by PyPSA shows up as a residual.
        static = n.lines.loc[b.line_names]
        free = [bus for bus in b.line_buses if not m.theta[bus, 0].fixed]
        if free:
            index = {bus: i for i, bus in enumerate(free)}
            incidence = np.zeros((len(b.line_names), len(free)))
            for row, (a, c) in enumerate(zip(static["bus0"], static["bus1"], strict=True)):
                if a in index:
                    incidence[row, index[a]] += 1.0
                if c in index:
                    incidence[row, index[c]] -= 1.0
            flows = n.lines_t.p0[b.line_names].to_numpy(dtype=float)
            rhs = (flows * b.line_x_pu.to_numpy()).T
            theta, *_ = np.linalg.lstsq(incidence, rhs, rcond=None)
            for bus, i in index.items():
                for t in b.T:
                    m.theta[bus, t].set_value(float(theta[i, t]), skip_validation=True)


def max_violation(model: pyo.ConcreteModel) -> float:
    """Largest constraint or bound violation at the current variable values, scaled by
    ``max(1, |bound|)`` [-]."""
    worst = 0.0
    for con in model.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(con.body, exception=False)
        if body is None:
            continue
        for bound, sign in ((con.lower, -1.0), (con.upper, 1.0)):
            if bound is None:
                continue
            limit = pyo.value(bound)
            excess = sign * (body - limit)
            worst = max(worst, excess / max(1.0, abs(limit)))
    for var in model.component_data_objects(pyo.Var):
        value = var.value
        if value is None or var.fixed:
            continue
        if var.lb is not None:
            worst = max(worst, (var.lb - value) / max(1.0, abs(var.lb)))
        if var.ub is not None:
            worst = max(worst, (value - var.ub) / max(1.0, abs(var.ub)))
    return worst


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _crosscheck_options(sc: Scenario | None) -> dict[str, Any]:
    """HiGHS options for both solves: the scenario's, with crossover on for exact optima."""
    options: dict[str, Any] = dict(sc.solver.options) if sc is not None else {"threads": 2}
    if options.get("solver", "choose") == "ipm":
        options["run_crossover"] = "on"
    return options


def _solve_pypsa(
    n: pypsa.Network, sc: Scenario | None, project_root: Path | None, options: dict[str, Any]
) -> tuple[float, float, float, dict[str, int], dict[str, float], dict[str, float]]:
    """Solve ``n`` with PyPSA/linopy.

    With a scenario this is the engine's own :func:`energy_model.optimization.solve.solve` (limit rows as
    bounds, investment screening with its pricing certificate), so the cross-check tests what
    ``energy-model run`` computes; without one, plain ``create_model`` + HiGHS.

    Returns objective, build and solve time (solve includes the screening's coarse run and
    pricing), LP size, the duals of the enforced renewable-share constraints by target name and
    the mix ratio each enforced final-energy target was held to in the engine's last solve.
    """
    if sc is not None:
        run_sc = sc.model_copy(update={"solver": sc.solver.model_copy(update={"options": options})})
        result = solve_scenario(n, run_sc, project_root or Path.cwd(), diagnose=False)
        logger.info("PyPSA: screening %s", result.screening)
        solve_time = sum(result.timings.get(k, 0.0) for k in ("screen", "solve", "certify"))
        duals = {
            target.name: result.duals[renewable_share_constraint_name(target)]
            for target in sc.targets
            if target.enforce and renewable_share_constraint_name(target) in result.duals
        }
        last = result.mix_iterations[-1] if result.mix_iterations else {}
        ratios = {
            target.name: float(
                last.get(f"{target.name}.fixed_mix_ratio", last.get(f"{target.name}.mix_ratio", 0.0))
            )
            for target in sc.targets
            if target.enforce and target.indicator == "final_energy"
        }
        build = result.timings["build"]
        return result.objective, build, solve_time, dict(result.lp_size), duals, ratios
    start = time.perf_counter()
    m = build_model(n, limits_as_bounds=False)
    build = time.perf_counter() - start
    run = run_highs(m, auxiliary_solver_options(options))
    if not run.optimal:
        msg = f"PyPSA solve ended with status '{run.status}', condition '{run.condition}'"
        raise RuntimeError(msg)
    write_solution(n, duals=False)
    return objective_value(m), build, run.seconds, lp_size(m), {}, {}


def run_crosscheck(
    n: pypsa.Network,
    sc: Scenario | None = None,
    project_root: Path | None = None,
    *,
    solver_options: dict[str, Any] | None = None,
    check_feasibility: bool = True,
) -> CrosscheckResult:
    """Solve ``n`` with PyPSA and with the independent Pyomo LP and compare.

    Parameters
    ----------
    n
        Network with the scenario applied (time resolution included); it is solved by PyPSA
        in place (its results are overwritten).
    sc
        Scenario for the export contracts, enforced renewable-share targets and HiGHS options;
        ``None`` for a bare network.
    project_root
        Project root (holds ``data/``) for the scenario constraints of both formulations.
    solver_options
        HiGHS options for both solves; default: the scenario's, with crossover on.
    check_feasibility
        Also evaluate PyPSA's solution in the Pyomo LP (slow for full-year models: it walks
        every constraint in Python).

    Returns
    -------
    CrosscheckResult
        Objectives, differences, build and solve times; ``ok`` when the objectives agree
        within ``OBJECTIVE_RTOL`` and PyPSA's solution is feasible in the Pyomo LP.

    Raises
    ------
    CrosscheckUnsupportedError
        The network uses a feature the Pyomo formulation does not model.
    RuntimeError
        Either solve does not end optimal.
    """
    options = dict(solver_options) if solver_options is not None else _crosscheck_options(sc)

    validate_supported(n)
    objective_pypsa, build_linopy, solve_linopy, size_linopy, duals_pypsa, ratios = _solve_pypsa(
        n, sc, project_root, options
    )
    start = time.perf_counter()
    model, builder = build_pyomo_model(n, sc, project_root, mix_ratios=ratios)
    build_pyomo = time.perf_counter() - start
    size_pyomo = {"variables": model.nvariables(), "constraints": model.nconstraints()}
    logger.info("built Pyomo LP in %.2f s: %s", build_pyomo, size_pyomo)
    logger.info(
        "PyPSA: objective %.10g (build %.2f s, solve %.2f s)", objective_pypsa, build_linopy, solve_linopy
    )

    start = time.perf_counter()
    condition, objective_pyomo = solve_pyomo_model(model, options)
    solve_pyomo = time.perf_counter() - start
    if not np.isfinite(objective_pyomo):
        msg = f"Pyomo/HiGHS solve ended with condition '{condition}'"
        raise RuntimeError(msg)
    logger.info("Pyomo: objective %.10g (solve %.2f s)", objective_pyomo, solve_pyomo)

    rel_diff = abs(objective_pyomo - objective_pypsa) / max(abs(objective_pypsa), 1.0)
    diffs = compare_dispatch(n, builder)
    tighten_share_auxiliaries(builder)
    targets = {
        name: {
            "min_share": builder.shares[name].min_share,
            "share_pyomo": share,
            "share_pypsa": float("nan"),
            "denominator_pyomo": denominator,
            "dual_pypsa": duals_pypsa.get(name, float("nan")),
            "dual_pyomo": (
                float(model.dual.get(builder.shares[name].constraint, float("nan")))
                if builder.shares[name].constraint is not None
                else float("nan")
            ),
        }
        for name, (share, denominator) in evaluate_shares(builder).items()
    }

    violation, cost_in_pyomo = float("nan"), float("nan")
    if check_feasibility:
        _load_pypsa_solution(n, builder)
        tighten_share_auxiliaries(builder)
        for name, (share, _) in evaluate_shares(builder).items():
            targets[name]["share_pypsa"] = share
        violation = max_violation(model)
        cost_in_pyomo = float(pyo.value(model.objective))
    ok = rel_diff <= OBJECTIVE_RTOL and (not check_feasibility or violation <= FEASIBILITY_TOL)
    result = CrosscheckResult(
        objective_pypsa=objective_pypsa,
        objective_pyomo=objective_pyomo,
        rel_diff=rel_diff,
        max_dispatch_diff=max(diffs.values(), default=0.0),
        dispatch_diffs=diffs,
        pypsa_max_violation=violation,
        pypsa_cost_in_pyomo=cost_in_pyomo,
        build_seconds={"linopy": build_linopy, "pyomo": build_pyomo},
        solve_seconds={"linopy": solve_linopy, "pyomo": solve_pyomo},
        lp_size={"linopy": size_linopy, "pyomo": size_pyomo},
        targets=targets,
        mix_ratios=ratios,
        ok=ok,
    )
    logger.info("cross-check: %s", result.summary())
    return result


