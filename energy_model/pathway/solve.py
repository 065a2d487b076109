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
:class:`TargetOutOfReachError` (an :class:`~energy_model.exceptions.InfeasibleError`) with each
period's largest reachable share. Every study re-solves the pathway's one model
(:class:`energy_model.pathway.lp.PathwayModel`) with its changes made in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy_model.accounting import mix_constraint_name_of, share_constraint_name
from energy_model.exceptions import InfeasibleError
from energy_model.optimization.model import objective_value
from energy_model.optimization.solve import (
    ENFORCED_SHARE_TOLERANCE,
    MAX_MIX_ITERATIONS,
    MIX_RATIO_TOLERANCE,
)
from energy_model.pathway.build import PathwayNetwork, active_mask
from energy_model.pathway.constraints import (
    SIZE_VARIABLE,
    evaluate_period,
    price_per_point,
    target_name,
)
from energy_model.pathway.lp import PathwayModel

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
    unreached: dict[int, float] = field(default_factory=dict)
    """Periods whose target was out of reach (myopic): their largest reachable share [-]."""

    @property
    def total_cost(self) -> float:
        """Total discounted system cost [CNY] (new investment + operation; the 2022 fleet is sunk)."""
        return float(self.costs["discounted_cny"].sum())


class TargetOutOfReachError(InfeasibleError):
    """A period's target is above the largest share the model reaches (``reachable``: per period [-])."""

    def __init__(self, message: str, reachable: dict[int, float]) -> None:
        super().__init__(message, status="warning", condition="infeasible")
        self.reachable = reachable


def _solve(pm: PathwayModel, label: str, ratios: dict[int, float] | None) -> Any:
    run = pm.solve()
    if not run.optimal:
        msg = (f"pathway '{pm.pn.spec.name}' ({label}): the optimisation ended with status "
               f"'{run.status}' and condition '{run.condition}' (mix ratios {ratios})")
        raise InfeasibleError(msg, status=run.status, condition=run.condition)
    pm.write()
    return run


def _out_of_reach(pm: PathwayModel, shares: dict[int, float], periods: list[int],
                  label: str, why: str) -> TargetOutOfReachError:
    """The error for targets the model cannot meet, with each period's largest reachable share."""
    pm.set_targets({}, {})
    if not periods:
        return TargetOutOfReachError(f"pathway '{pm.pn.spec.name}' ({label}): {why}", {})
    reach = {p: pm.max_reachable_share(p) for p in periods}
    short = {p: r for p, r in reach.items() if not r >= shares[p] - ENFORCED_SHARE_TOLERANCE}
    described = "; ".join(f"{p}: target {shares[p] * 100:.2f} %, largest reachable share "
                          f"{r * 100:.2f} %" for p, r in (short or reach).items())
    verdict = "out of reach" if short else "reachable one by one, not found by the iteration"
    msg = f"pathway '{pm.pn.spec.name}' ({label}): {why}; targets {verdict} ({described})"
    return TargetOutOfReachError(msg, reach)


def solve_with_targets(
    pm: PathwayModel,
    shares: dict[int, float] | None,
    *,
    periods: list[int] | None = None,
    label: str = "perfect",
    reach: bool = True,
) -> tuple[PathwayResult, dict[int, float]]:
    """Least-cost pathway meeting ``shares`` in ``periods`` on the re-used model ``pm``.

    ``shares=None`` solves without share targets. ``periods`` limits the targets to these
    periods (myopic steps; the caller sets contracts, weightings and candidate bounds). The
    iteration of :func:`energy_model.optimization.solve.solve_scenario`: free solve; ratios
    :math:`\\max(\\text{mix}, \\text{needed})`; when that first ratio is out of reach, restart
    from each period's largest mix ratio (:meth:`PathwayModel.max_mix_ratio`); then the mix of
    the last solution until no ratio moves. Raises :class:`TargetOutOfReachError` (with each
    period's largest reachable share; ``reach=False``: without computing it, e.g. for a
    cost-curve point whose answer is known) when a target cannot be met.
    """
    pn, root = pm.pn, pm.root
    scope = list(periods or pn.spec.periods)
    timings: dict[str, float] = {}
    pm.timings = timings
    pm.set_targets({}, {})
    run = _solve(pm, label, None)
    steps: list[dict[str, float]] = []
    ratios: dict[int, float] = {}
    if shares:
        states = {p: evaluate_period(pn, p, shares[p], root) for p in scope}
        steps.append(_step(0, pm.m, states))
        if any(states[p].share < shares[p] for p in scope):
            ratios = {p: min(max(states[p].mix_ratio, states[p].needed_ratio), 1.0) for p in scope}
            for iteration in range(1, MAX_MIX_ITERATIONS + 1):
                pm.set_targets(shares, ratios)
                run = pm.solve(expect_failure=iteration == 1)
                if not run.optimal and iteration == 1:
                    # the first ratio can be out of the network's reach: start from the largest
                    # mix the period reaches (as solve_scenario does); a period whose first
                    # ratio is within its reach keeps it
                    fallback = {p: min(ratios[p], pm.max_mix_ratio(p)) for p in scope}
                    logger.info("pathway %s: mix ratios %s out of reach; starting from the largest "
                                "mix %s", label, ratios, fallback)
                    ratios = fallback
                    pm.set_targets(shares, ratios)
                    run = pm.solve(expect_failure=True)
                if not run.optimal:
                    raise _out_of_reach(pm, shares, scope if reach else [], label,
                                        f"no solution at mix ratios {_fmt(ratios)}")
                pm.write()
                states = {p: evaluate_period(pn, p, shares[p], root) for p in scope}
                steps.append(_step(iteration, pm.m, states, ratios))
                moved = max(abs(states[p].mix_ratio - ratios[p]) for p in scope)
                logger.info("pathway %s mix-ratio iteration %d: objective %.6g, largest move %.3g",
                            label, iteration, objective_value(pm.m), moved)
                if moved < MIX_RATIO_TOLERANCE:
                    break
                ratios = {p: min(states[p].mix_ratio, 1.0) for p in scope}
        short = [p for p in scope if states[p].share < shares[p] - ENFORCED_SHARE_TOLERANCE]
        if short:
            raise _out_of_reach(pm, shares, short if reach else [], label,
                                f"reported shares {_fmt({p: states[p].share for p in short})} "
                                f"below target after {len(steps) - 1} mix-ratio solves")
    del run
    result = collect_result(pn, root, pm.m, shares, label=label, periods=scope)
    result.timings, result.lp_size, result.iterations = timings, dict(pm.size), steps
    return result, ratios


def _fmt(values: dict[int, float]) -> str:
    return "{" + ", ".join(f"{p}: {v:.6f}" for p, v in values.items()) + "}"


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
                                    float(m.constraints[mix].dual.values.item()),
                                    slack_pp=(state.share - target_path[p]) * 100)
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
                  label: str = "perfect", model: PathwayModel | None = None,
                  reach: bool = True) -> tuple[PathwayResult, dict[int, float]]:
    """Perfect foresight: all periods in one LP (``targets=False``: no share targets).

    ``model``: the pathway's re-used model (built here when not given); ``reach``: see
    :func:`solve_with_targets`.
    """
    pm = model or PathwayModel(pn, root, options)
    build = dict(pm.timings) if model is None else {}
    pm.reset()
    shares = pn.spec.target_shares(last_target) if targets and pn.spec.targets.enforce else None
    result, ratios = solve_with_targets(pm, shares, label=label, reach=reach)
    for key, value in build.items():
        result.timings[key] = result.timings.get(key, 0.0) + value
    return result, ratios


def solve_myopic(pn: PathwayNetwork, root: Path, options: dict[str, Any], *,
                 model: PathwayModel | None = None) -> PathwayResult:
    r"""Myopic foresight: period by period, built capacity carried forward.

    Step *k* re-solves the pathway's model with the objective weighting of every other period
    set to 0 (so an asset built in :math:`p_k` is paid for and valued over :math:`p_k` only;
    PyPSA's objective builder), candidates of earlier periods fixed at the sizes chosen then and
    those of later periods at 0 (variable bounds), and the share target and export contracts of
    :math:`p_k` only. Period :math:`p_k`'s dispatch, share and cost come from step *k*; the
    total is evaluated with the true weightings (:func:`compute_costs`). A period whose target
    is out of the carried-forward fleet's reach is solved at its largest reachable share
    (:class:`TargetOutOfReachError`; ``target_met`` False, ``largest_reachable_share`` in the
    shares table) and the steps go on.
    """
    n = pn.n
    pm = model or PathwayModel(pn, root, options)
    build = dict(pm.timings) if model is None else {}
    pm.reset()
    saved_weights = pm.weights.copy()
    shares = pn.spec.target_shares() if pn.spec.targets.enforce else None
    parts: list[PathwayResult] = []
    timings: dict[str, float] = dict(build)
    fixed: dict[str, float] = {}
    reach: dict[int, float] = {}
    try:
        for period in pn.spec.periods:
            weights = saved_weights.copy()
            weights.loc[weights.index != period, "objective"] = 0.0
            pm.timings = timings
            pm.set_weightings(weights)
            pm.set_contract_periods([period])
            later = pn.candidates.loc[pn.candidates["period"] > period, "name"]
            pm.set_candidates(fixed, [str(x) for x in later])
            step_shares = {period: shares[period]} if shares else None
            try:
                result, _ = solve_with_targets(pm, step_shares, periods=[period], label="myopic")
            except TargetOutOfReachError as err:
                if not step_shares or not np.isfinite(err.reachable.get(period, np.nan)):
                    raise
                reach[period] = err.reachable[period]
                logger.warning("myopic %d: %s; solved at the largest reachable share", period, err)
                best = {period: max(reach[period] - 1e-5, 0.0)}
                result, _ = solve_with_targets(pm, best, periods=[period], label="myopic")
            _add_timings(timings, result.timings)
            parts.append(result)
            # carry the capacity built in this period forward
            for _, row in pn.candidates[pn.candidates["period"] == period].iterrows():
                static = n.components[str(row["component"])].static
                size = SIZE_VARIABLE[str(row["component"])]
                fixed[str(row["name"])] = max(float(static.at[row["name"], f"{size}_opt"]), 0.0)
        pm.set_weightings(None)
        final = parts[-1]
        costs = compute_costs(pn)
        # operation of period p is the dispatch of step p
        opex = {p: float(part.costs.set_index("period")["opex_cny_per_a"].loc[p])
                for p, part in zip(pn.spec.periods, parts, strict=True)}
        costs["opex_cny_per_a"] = costs["period"].map(opex)
        annual = costs["capex_new_cny_per_a"] + costs["opex_cny_per_a"]
        costs["discounted_cny"] = costs["weighting_a"] * annual
        shares_frame = pd.concat([part.shares for part in parts], ignore_index=True)
        if shares:
            shares_frame["target_share"] = shares_frame["period"].map(shares)
            shares_frame["margin_pp"] = (shares_frame["achieved_share"]
                                         - shares_frame["target_share"]) * 100
            shares_frame["target_met"] = ~shares_frame["period"].isin(list(reach))
            shares_frame["largest_reachable_share"] = shares_frame["period"].map(reach)
        generation = pd.concat([part.generation[part.generation["period"] == p]
                                for p, part in zip(pn.spec.periods, parts, strict=True)], ignore_index=True)
        return PathwayResult(label="myopic", shares=shares_frame, capacities=final.capacities,
                             generation=generation, costs=costs, objective=float("nan"),
                             timings=timings, lp_size=dict(pm.size),
                             iterations=[s for part in parts for s in part.iterations],
                             built=final.built, unreached=reach)
    finally:
        pm.reset()


def _add_timings(total: dict[str, float], part: dict[str, float]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0.0) + value


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
              ratios: dict[int, float], *, model: PathwayModel | None = None) -> pd.DataFrame:
    """Minimise and maximise each technology's new capacity in the last period within each slack.

    On the pathway's re-used model: the share requirements at the optimum's fixed mix ratios
    (any solution then meets the targets,
    :func:`energy_model.optimization.constraints.add_share_requirement`), the cost budget as one
    added row per slack and the objective swapped per direction; the shares of each alternative
    are evaluated afterwards and reported (``min_margin_pp``).
    """
    config = pn.spec.mga
    if config is None:
        return pd.DataFrame()
    pm = model or PathwayModel(pn, root, options)
    shares = pn.spec.target_shares() if pn.spec.targets.enforce else {}
    rows = []
    reference = new_capacity_last_period_from_result(pn, optimum)
    directions = [(t, mga_weights(pn, t)) for t in config.technologies]
    for technology, weights in directions:
        if not weights:
            logger.warning("MGA: no %s candidate is active in the last period; skipped", technology)
    directions = [(t, w) for t, w in directions if w]
    if shares and not ratios:  # no target bound at the optimum: hold its own mix ratios
        ratios = {int(p): float(r) for p, r in zip(optimum.shares["period"],
                                                   optimum.shares["mix_ratio"], strict=True)}
    pm.reset()
    pm.set_targets(shares, ratios)
    try:
        for slack in config.slacks:
            pm.near_optimal(optimum.objective, slack)  # one row; the directions swap the objective
            for technology, weights in directions:
                for sense in ("min", "max"):
                    timings: dict[str, float] = {}
                    pm.timings = timings
                    pm.direct(weights, sense)
                    run = pm.solve()
                    if not run.optimal:
                        msg = f"MGA {technology} {sense} at +{slack:.0%}: ended '{run.condition}'"
                        raise InfeasibleError(msg, status=run.status, condition=run.condition)
                    values = new_capacity_last_period(pn, pm.m)
                    pm.write()
                    margins = [(evaluate_period(pn, p, shares[p], root).share - shares[p]) * 100
                               for p in shares]
                    rows.append({"slack": slack, "technology": technology, "sense": sense,
                                 "value_mw": values[technology], "optimum_mw": reference[technology],
                                 **{f"{k}_mw": v for k, v in values.items()},
                                 "min_margin_pp": min(margins) if margins else float("nan"),
                                 "build_s": timings.get("update", 0.0),
                                 "solve_s": timings.get("solve", 0.0),
                                 "cpu_s": sum(v for k, v in timings.items() if k.endswith("_cpu"))})
                    logger.info("MGA +%.0f%% %s %s: %.0f MW (optimum %.0f MW)", slack * 100, sense,
                                technology, values[technology], reference[technology])
    finally:
        pm.reset()
    return pd.DataFrame(rows)


def new_capacity_last_period_from_result(pn: PathwayNetwork, result: PathwayResult) -> dict[str, float]:
    """New capacity active in the last period per technology of a solved pathway [MW]."""
    out = {}
    for technology in ("wind", "solar", "storage", "corridor"):
        names = [x for attrs in mga_weights(pn, technology).values() for s in attrs.values() for x in s.index]
        out[technology] = float(result.built.reindex(names).fillna(0.0).sum())
    return out


__all__ = [
    "PathwayModel",
    "PathwayResult",
    "TargetOutOfReachError",
    "compute_capacities",
    "compute_costs",
    "compute_generation",
    "solve_mga",
    "solve_myopic",
    "solve_perfect",
    "solve_with_targets",
]
