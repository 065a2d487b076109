r"""Solve a pathway: per-period share targets by successive mix ratios, foresight variants,
the cost of the target and near-optimal ranges.

Per-period targets use the single-year iteration of
:func:`energy_model.optimization.solve.solve_scenario`, period by period: the share of period
*p* is linear once its mix ratio :math:`\rho_p` is fixed
(:func:`energy_model.optimization.constraints.add_share_requirement`); start from the free
optimum, fix :math:`\rho_p = \max(\text{mix}_p, \text{needed}_p)`, then move every
:math:`\rho_p` to the last solution's mix until no ratio moves more than
:data:`~energy_model.optimization.solve.MIX_RATIO_TOLERANCE`. After the last solve every
period's reported share (:func:`energy_model.pathway.constraints.evaluate_period`, the verdict's
definition) must meet its target within
:data:`~energy_model.optimization.solve.ENFORCED_SHARE_TOLERANCE`, else
:class:`~energy_model.exceptions.InfeasibleError`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from energy_model.accounting import mix_constraint_name_of, share_constraint_name
from energy_model.exceptions import InfeasibleError
from energy_model.optimization.compat import detach_solver_model
from energy_model.optimization.model import (
    build_multi_period_model,
    build_near_optimal_model,
    lp_size,
    objective_value,
    run_highs,
    set_capacity_objective,
    write_solution,
)
from energy_model.optimization.solve import (
    ENFORCED_SHARE_TOLERANCE,
    MAX_MIX_ITERATIONS,
    MIX_RATIO_TOLERANCE,
)
from energy_model.pathway.build import PathwayNetwork, active_mask
from energy_model.pathway.constraints import (
    SIZE_VARIABLE,
    evaluate_period,
    pathway_constraints,
    price_per_point,
    target_name,
)

logger = logging.getLogger(__name__)

#: Carriers of each MGA/reporting technology group.
GROUP_CARRIERS = {"wind": ("onwind",), "solar": ("solar",), "storage": ("battery",)}


@dataclass
class PathwayResult:
    """One solved pathway (a foresight variant or a point of the cost curve)."""

    label: str
    shares: pd.DataFrame
    """Per period: ``target_share``, ``achieved_share``, ``mix_ratio`` [-], ``margin_pp``,
    ``shadow_price_cny_per_pp`` (discounted CNY per percentage point of the period's share,
    :func:`energy_model.pathway.constraints.price_per_point`) and ``shadow_price_cny_per_pp_a``
    (that divided by the period's objective weighting: CNY per point and year)."""
    capacities: pd.DataFrame
    """Active capacity per period, technology, carrier and origin (existing/new) [MW or MWh]."""
    generation: pd.DataFrame
    """Annual energy per period and carrier [TWh]."""
    costs: pd.DataFrame
    """Per period: annual capex of new assets and opex [CNY/a], weighting, discounted [CNY]."""
    objective: float = float("nan")
    """Model objective [CNY, discounted] (perfect foresight: equals the total of ``costs``)."""
    timings: dict[str, float] = field(default_factory=dict)
    lp_size: dict[str, int] = field(default_factory=dict)
    iterations: list[dict[str, float]] = field(default_factory=list)
    built: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    """Optimal size of every candidate [MW or MWh]."""

    @property
    def total_cost(self) -> float:
        """Total discounted system cost [CNY] (new investment + operation; the 2022 fleet is sunk)."""
        return float(self.costs["discounted_cny"].sum())


def _solve_once(pn: PathwayNetwork, root: Path, shares: dict[int, float],
                ratios: dict[int, float] | None, options: dict[str, Any],
                periods: list[int] | None, timings: dict[str, float]) -> tuple[Any, dict[str, int]]:
    n = pn.n
    detach_solver_model(n)
    start = time.perf_counter()
    m = build_multi_period_model(n, pathway_constraints(pn, root, shares, ratios, periods=periods))
    timings["build"] = timings.get("build", 0.0) + time.perf_counter() - start
    size = lp_size(m)
    run = run_highs(m, options)
    timings["solve"] = timings.get("solve", 0.0) + run.seconds
    timings["solves"] = timings.get("solves", 0.0) + 1
    if not run.optimal:
        msg = (f"pathway '{pn.spec.name}': the optimisation ended with status '{run.status}' and "
               f"condition '{run.condition}' (mix ratios {ratios}); no result was written")
        raise InfeasibleError(msg, status=run.status, condition=run.condition)
    start = time.perf_counter()
    write_solution(n)
    timings["post"] = timings.get("post", 0.0) + time.perf_counter() - start
    logger.info("pathway solve: %d variables, %d constraints, %.1f s, objective %.6g",
                size["variables"], size["constraints"], run.seconds, objective_value(m))
    return m, size


def solve_with_targets(
    pn: PathwayNetwork,
    root: Path,
    shares: dict[int, float] | None,
    options: dict[str, Any],
    *,
    periods: list[int] | None = None,
    label: str = "perfect",
) -> tuple[PathwayResult, dict[int, float]]:
    """Least-cost pathway meeting ``shares`` in ``periods``; returns result and final mix ratios.

    ``shares=None`` solves without share targets. ``periods`` limits the targets and export
    contracts to these periods (myopic steps); every period is still in the model.
    """
    scope = list(periods or pn.spec.periods)
    timings: dict[str, float] = {}
    targets = shares or {}
    m, size = _solve_once(pn, root, targets, None, options, scope, timings)
    steps: list[dict[str, float]] = []
    ratios: dict[int, float] = {}
    if shares:
        states = {p: evaluate_period(pn, p, shares[p], root) for p in scope}
        steps.append(_step(0, m, states))
        if any(states[p].share < shares[p] for p in scope):
            ratios = {p: min(max(states[p].mix_ratio, states[p].needed_ratio), 1.0) for p in scope}
            for iteration in range(1, MAX_MIX_ITERATIONS + 1):
                m, size = _solve_once(pn, root, shares, ratios, options, scope, timings)
                states = {p: evaluate_period(pn, p, shares[p], root) for p in scope}
                steps.append(_step(iteration, m, states, ratios))
                moved = max(abs(states[p].mix_ratio - ratios[p]) for p in scope)
                logger.info("pathway mix-ratio iteration %d: objective %.6g, largest move %.3g",
                            iteration, objective_value(m), moved)
                if moved < MIX_RATIO_TOLERANCE:
                    break
                ratios = {p: min(states[p].mix_ratio, 1.0) for p in scope}
        for p in scope:
            if states[p].share < shares[p] - ENFORCED_SHARE_TOLERANCE:
                msg = (f"pathway '{pn.spec.name}': period {p}: the reported share "
                       f"{states[p].share * 100:.4f} % < target {shares[p] * 100:.4f} % after "
                       f"{len(steps) - 1} mix-ratio solves")
                raise InfeasibleError(msg, status="warning", condition="not_converged")
    result = collect_result(pn, root, m, shares, label=label, periods=scope)
    result.timings, result.lp_size, result.iterations = timings, size, steps
    return result, ratios


def _step(iteration: int, m: Any, states: dict[int, Any],
          ratios: dict[int, float] | None = None) -> dict[str, float]:
    step = {"iteration": float(iteration), "objective": objective_value(m)}
    for p, state in states.items():
        if ratios:
            step[f"{p}.fixed_mix_ratio"] = ratios.get(p, float("nan"))
        step[f"{p}.mix_ratio"] = state.mix_ratio
        step[f"{p}.share"] = state.share
    return step


def compute_costs(pn: PathwayNetwork) -> pd.DataFrame:
    r"""Annual and discounted cost per period of the solved network.

    .. math::

        K_p = \sum_{a \in \text{candidates active in } p} c_a P_a, \qquad
        O_p = \sum_{t \in p} w_t \sum_j m_{j,t}\, q_{j,t}, \qquad
        \text{discounted}_p = W_p (K_p + O_p)

    ==================  ===================================================  ==========
    symbol              meaning                                              unit
    ==================  ===================================================  ==========
    :math:`c_a, P_a`    annualised cost and optimal size of candidate *a*    CNY/(MW a)
    :math:`m_{j,t}`     marginal cost of generator / link / storage unit     CNY/MWh
    :math:`q_{j,t}`     its dispatch (``p``, ``p0``, ``p_dispatch``)         MW
    :math:`w_t`         ``objective`` snapshot weighting                     h
    :math:`W_p`         ``objective`` investment-period weighting            a
    ==================  ===================================================  ==========

    The existing fleet's capital cost is sunk (not in the objective either).
    """
    n = pn.n
    w = n.snapshot_weightings["objective"]
    periods = n.snapshots.get_level_values("period")
    opex = pd.Series(0.0, index=n.snapshots)
    for component, attr in (("Generator", "p"), ("Link", "p0"), ("StorageUnit", "p_dispatch"),
                            ("Store", "p")):
        c = n.components[component]
        if c.static.empty or attr not in c.dynamic or c.dynamic[attr].empty:
            continue
        cost = n.get_switchable_as_dense(component, "marginal_cost")
        flow = c.dynamic[attr].reindex(columns=cost.columns, fill_value=0.0)
        opex = opex + (cost * flow).sum(axis=1)
    opex_by_period = (opex * w).groupby(periods).sum()
    rows = []
    weights = n.investment_period_weightings["objective"]
    for period in pn.spec.periods:
        capex = 0.0
        for kind, group in pn.candidates.groupby("component"):
            component = str(kind)
            static = n.components[component].static
            size = SIZE_VARIABLE[component] + "_opt"
            names = [x for x in group["name"] if bool(active_mask(n, str(component), period).get(x, False))]
            capex += float((static.loc[names, "capital_cost"] * static.loc[names, size]).sum())
        op = float(opex_by_period.get(period, 0.0))
        rows.append({"period": period, "capex_new_cny_per_a": capex, "opex_cny_per_a": op,
                     "weighting_a": float(weights[period]),
                     "discounted_cny": float(weights[period]) * (capex + op)})
    return pd.DataFrame(rows)


def _sizes_opt(pn: PathwayNetwork) -> pd.Series:
    n = pn.n
    values = {}
    for _, row in pn.candidates.iterrows():
        static = n.components[str(row["component"])].static
        values[row["name"]] = float(static.at[row["name"], SIZE_VARIABLE[str(row["component"])] + "_opt"])
    return pd.Series(values, dtype=float)


def compute_capacities(pn: PathwayNetwork) -> pd.DataFrame:
    """Active capacity per period by technology/carrier and origin [MW; MWh for stores]."""
    n, rows = pn.n, []
    candidate_tech = dict(zip(pn.candidates["name"], pn.candidates["technology"], strict=True))
    for period in pn.spec.periods:
        for component, size in SIZE_VARIABLE.items():
            static = n.components[component].static
            if static.empty:
                continue
            active = static[active_mask(n, component, period)]
            values = active[f"{size}_opt"] if f"{size}_opt" in active else active[size]
            for name, value in values.items():
                origin = "new" if name in candidate_tech else "existing"
                rows.append({"period": period, "component": component,
                             "technology": candidate_tech.get(name, ""),
                             "carrier": str(active.at[name, "carrier"]), "origin": origin,
                             "capacity": float(value), "unit": "MWh" if component == "Store" else "MW"})
    frame = pd.DataFrame(rows)
    keys = ["period", "component", "technology", "carrier", "origin", "unit"]
    return frame.groupby(keys)["capacity"].sum().reset_index()


def compute_generation(pn: PathwayNetwork) -> pd.DataFrame:
    """Annual generator output per period and carrier [TWh] (markets and imports included)."""
    n = pn.n
    w = n.snapshot_weightings["generators"]
    energy = n.generators_t.p.mul(w, axis=0).groupby(n.snapshots.get_level_values("period")).sum()
    by_carrier = energy.T.groupby(n.generators["carrier"]).sum().T * 1e-6
    frame = by_carrier.stack().rename("energy_twh").reset_index()
    frame.columns = ["period", "carrier", "energy_twh"]
    return frame


def collect_result(pn: PathwayNetwork, root: Path, m: Any, shares: dict[int, float] | None, *,
                   label: str, periods: list[int] | None = None) -> PathwayResult:
    """Shares, capacities, generation and costs of the solved network."""
    weights = pn.n.investment_period_weightings["objective"]
    rows = []
    target_path = shares or pn.spec.target_shares()
    for p in periods or pn.spec.periods:
        state = evaluate_period(pn, p, target_path[p], root)
        name = share_constraint_name(target_name(pn.spec.targets.indicator, p))
        mix = mix_constraint_name_of(target_name(pn.spec.targets.indicator, p))
        price = 0.0
        if shares and name in m.constraints and mix in m.constraints:
            price = price_per_point(pn, p, target_path[p], root,
                                    float(m.constraints[name].dual.values.item()),
                                    float(m.constraints[mix].dual.values.item()))
        rows.append({"period": p, "target_share": target_path[p], "enforced": bool(shares),
                     "achieved_share": state.share, "mix_ratio": state.mix_ratio,
                     "margin_pp": (state.share - target_path[p]) * 100,
                     "shadow_price_cny_per_pp": price,
                     "shadow_price_cny_per_pp_a": price / float(weights[p])})
    return PathwayResult(label=label, shares=pd.DataFrame(rows), capacities=compute_capacities(pn),
                         generation=compute_generation(pn), costs=compute_costs(pn),
                         objective=objective_value(m), built=_sizes_opt(pn))


def solve_perfect(pn: PathwayNetwork, root: Path, options: dict[str, Any], *,
                  last_target: float | None = None, targets: bool = True,
                  label: str = "perfect") -> tuple[PathwayResult, dict[int, float]]:
    """Perfect foresight: all periods in one LP (``targets=False``: no share targets)."""
    shares = pn.spec.target_shares(last_target) if targets and pn.spec.targets.enforce else None
    return solve_with_targets(pn, root, shares, options, label=label)


def solve_myopic(pn: PathwayNetwork, root: Path, options: dict[str, Any]) -> PathwayResult:
    r"""Myopic foresight: period by period, built capacity carried forward.

    Step *k* solves the same multi-period model with the objective weighting of every other
    period set to 0 (so an asset built in :math:`p_k` is paid for and valued over
    :math:`p_k` only), candidates of earlier periods fixed at the sizes chosen then, those of
    later periods not buildable, and the share target and export contracts of :math:`p_k`
    only. Period :math:`p_k`'s dispatch, share and cost come from step *k*; the total is
    evaluated with the true weightings (:func:`compute_costs`).
    """
    n = pn.n
    saved_weights = n.investment_period_weightings.copy()
    static_saved = {c: n.components[c].static[[f"{s}", f"{s}_extendable"]].copy()
                    for c, s in SIZE_VARIABLE.items()}
    shares = pn.spec.target_shares() if pn.spec.targets.enforce else None
    parts: list[PathwayResult] = []
    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    try:
        for period in pn.spec.periods:
            weights = saved_weights.copy()
            weights.loc[weights.index != period, "objective"] = 0.0
            n.investment_period_weightings = weights
            for _, row in pn.candidates.iterrows():
                static = n.components[str(row["component"])].static
                size = SIZE_VARIABLE[str(row["component"])]
                if row["period"] != period:
                    static.loc[row["name"], f"{size}_extendable"] = False
                if row["period"] > period:
                    static.loc[row["name"], size] = 0.0
            result, _ = solve_with_targets(pn, root, {period: shares[period]} if shares else None,
                                           options, periods=[period], label="myopic")
            for key, value in result.timings.items():
                timings[key] = timings.get(key, 0.0) + value
            sizes = result.lp_size
            parts.append(result)
            # carry the capacity built in this period forward
            for _, row in pn.candidates[pn.candidates["period"] == period].iterrows():
                static = n.components[str(row["component"])].static
                size = SIZE_VARIABLE[str(row["component"])]
                static.loc[row["name"], size] = float(static.at[row["name"], f"{size}_opt"])
                static.loc[row["name"], f"{size}_extendable"] = False
        n.investment_period_weightings = saved_weights
        final = parts[-1]
        costs = compute_costs(pn)
        # operation of period p is the dispatch of step p
        opex = {p: float(part.costs.set_index("period")["opex_cny_per_a"].loc[p])
                for p, part in zip(pn.spec.periods, parts, strict=True)}
        costs["opex_cny_per_a"] = costs["period"].map(opex)
        annual = costs["capex_new_cny_per_a"] + costs["opex_cny_per_a"]
        costs["discounted_cny"] = costs["weighting_a"] * annual
        shares_frame = pd.concat([part.shares for part in parts], ignore_index=True)
        generation = pd.concat([part.generation[part.generation["period"] == p]
                                for p, part in zip(pn.spec.periods, parts, strict=True)], ignore_index=True)
        return PathwayResult(label="myopic", shares=shares_frame, capacities=final.capacities,
                             generation=generation, costs=costs, objective=float("nan"),
                             timings=timings, lp_size=sizes,
                             iterations=[s for part in parts for s in part.iterations],
                             built=final.built)
    finally:
        n.investment_period_weightings = saved_weights
        for c, frame in static_saved.items():
            n.components[c].static.loc[frame.index, frame.columns] = frame


def mga_weights(pn: PathwayNetwork, technology: str) -> dict[str, dict[str, pd.Series]]:
    """Direction of an MGA technology: the sizes of its candidates active in the last period."""
    last = pn.spec.periods[-1]
    frame = pn.candidates[pn.candidates["technology"] == technology]
    weights: dict[str, dict[str, pd.Series]] = {}
    for component, group in frame.groupby("component"):
        live = [x for x in group["name"] if bool(active_mask(pn.n, str(component), last).get(x, False))]
        if live:
            weights[str(component)] = {SIZE_VARIABLE[str(component)]: pd.Series(1.0, index=live)}
    return weights


def new_capacity_last_period(pn: PathwayNetwork, m: Any) -> dict[str, float]:
    """New capacity active in the last period per MGA technology, from a solved model [MW]."""
    out = {}
    for technology in ("wind", "solar", "storage", "corridor"):
        total = 0.0
        for component, attrs in mga_weights(pn, technology).items():
            for attr, coeffs in attrs.items():
                values = m.variables[f"{component}-{attr}"].solution.to_pandas()
                total += float(values.reindex(coeffs.index).fillna(0.0).sum())
        out[technology] = total
    return out


def solve_mga(pn: PathwayNetwork, root: Path, options: dict[str, Any], optimum: PathwayResult,
              ratios: dict[int, float]) -> pd.DataFrame:
    """Minimise and maximise each technology's new capacity in the last period within each slack.

    The share requirements stay at the optimum's fixed mix ratios (any solution then meets the
    targets, :func:`energy_model.optimization.constraints.add_share_requirement`); the shares
    of each alternative are evaluated afterwards and reported (``min_margin_pp``).
    """
    config = pn.spec.mga
    if config is None:
        return pd.DataFrame()
    shares = pn.spec.target_shares() if pn.spec.targets.enforce else {}
    rows = []
    reference = new_capacity_last_period_from_result(pn, optimum)
    directions = [(t, mga_weights(pn, t)) for t in config.technologies]
    for technology, weights in directions:
        if not weights:
            logger.warning("MGA: no %s candidate is active in the last period; skipped", technology)
    directions = [(t, w) for t, w in directions if w]
    for slack in config.slacks:
        if not directions:
            break
        detach_solver_model(pn.n)
        start = time.perf_counter()
        # one model per slack: the budget stays, only the objective changes per direction
        m = build_near_optimal_model(
            pn.n, pathway_constraints(pn, root, shares, ratios or None),
            optimal_objective=optimum.objective, slack=slack, weights=directions[0][1], sense="min")
        build = time.perf_counter() - start
        for technology, weights in directions:
            for sense in ("min", "max"):
                start = time.perf_counter()
                set_capacity_objective(pn.n, m, weights, sense)
                build += time.perf_counter() - start
                run = run_highs(m, options)
                if not run.optimal:
                    msg = f"MGA {technology} {sense} at +{slack:.0%}: ended '{run.condition}'"
                    raise InfeasibleError(msg, status=run.status, condition=run.condition)
                values = new_capacity_last_period(pn, m)
                write_solution(pn.n)
                margins = [(evaluate_period(pn, p, shares[p], root).share - shares[p]) * 100
                           for p in shares]
                rows.append({"slack": slack, "technology": technology, "sense": sense,
                             "value_mw": values[technology], "optimum_mw": reference[technology],
                             **{f"{k}_mw": v for k, v in values.items()},
                             "min_margin_pp": min(margins) if margins else float("nan"),
                             "build_s": build, "solve_s": run.seconds})
                build = 0.0
                logger.info("MGA +%.0f%% %s %s: %.0f MW (optimum %.0f MW)", slack * 100, sense,
                            technology, values[technology], reference[technology])
    return pd.DataFrame(rows)


def new_capacity_last_period_from_result(pn: PathwayNetwork, result: PathwayResult) -> dict[str, float]:
    """New capacity active in the last period per technology of a solved pathway [MW]."""
    out = {}
    for technology in ("wind", "solar", "storage", "corridor"):
        names = [x for attrs in mga_weights(pn, technology).values() for s in attrs.values() for x in s.index]
        out[technology] = float(result.built.reindex(names).fillna(0.0).sum())
    return out


__all__ = [
    "PathwayResult",
    "compute_capacities",
    "compute_costs",
    "compute_generation",
    "solve_mga",
    "solve_myopic",
    "solve_perfect",
    "solve_with_targets",
]
