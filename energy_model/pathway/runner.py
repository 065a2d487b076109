"""Run a pathway spec end to end and write ``results/<name>/`` (docs/pathway.md).

Order: build the multi-period network; perfect foresight with the per-period targets (the
reference); MGA ranges on it; myopic foresight; the no-target pathway and the cost-of-target
curve. The bundle is written into a temporary folder that replaces ``results/<name>/`` only
when complete.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from energy_model.exceptions import InfeasibleError
from energy_model.optimization.model import main_solver_options, validate_solver_options
from energy_model.optimization.solve import ENFORCED_SHARE_TOLERANCE
from energy_model.pathway.build import build_pathway_network, load_base_network
from energy_model.pathway.bundle import write_bundle
from energy_model.pathway.lp import PathwayModel
from energy_model.pathway.solve import (
    PathwayResult,
    solve_mga,
    solve_myopic,
    solve_perfect,
)
from energy_model.pathway.spec import PathwaySpec, load_pathway_spec

logger = logging.getLogger(__name__)


def _curve_row(label: str, last: float | None, result: PathwayResult | None, status: str) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": label, "last_target_pct": None if last is None else last * 100,
                           "status": status, "total_cost_bn_cny": float("nan")}
    if result is not None:
        row["total_cost_bn_cny"] = result.total_cost / 1e9
        for _, item in result.shares.iterrows():
            row[f"shadow_price_{int(item['period'])}_cny_per_pp_a"] = item["shadow_price_cny_per_pp_a"]
            row[f"share_{int(item['period'])}_pct"] = item["achieved_share"] * 100
    return row


def _meets(result: PathwayResult, shares: dict[int, float]) -> bool:
    achieved = result.shares.set_index("period")["achieved_share"]
    return all(float(achieved[p]) >= shares[p] - ENFORCED_SHARE_TOLERANCE for p in shares)


def _cost_curve(pm: PathwayModel, spec: PathwaySpec, perfect: PathwayResult,
                free: PathwayResult) -> list[dict[str, Any]]:
    """Rows of the cost-of-target curve: the no-target pathway and each last-period target.

    A point whose target path a solved pathway already meets is not solved again: the
    no-target optimum when it meets the path (no target binds), the reference when the path
    is at or above the reference's in every period and the reference meets it (a tighter
    problem whose feasible set holds the reference's optimum). Points above the last period's
    largest reachable share (:meth:`PathwayModel.max_reachable_share`, computed once) are
    recorded as out of reach; a point that still ends infeasible is recorded as such.
    """
    rows = [_curve_row("no_targets", None, free, "no targets")]
    reference = spec.target_shares() if spec.targets.enforce else {}
    last = spec.periods[-1]
    reach: float | None = None
    for value in spec.cost_curve:
        label = f"target_{round(value * 100)}"
        shares = spec.target_shares(value)
        if _meets(free, shares):
            rows.append(_curve_row(label, value, free, "optimal (no target binds)"))
            continue
        if reference and all(shares[p] >= reference[p] for p in shares) and _meets(perfect, shares):
            rows.append(_curve_row(label, value, perfect, "optimal (the reference meets it)"))
            continue
        if reach is None:
            pm.reset()
            reach = pm.max_reachable_share(last)
            logger.info("cost curve: largest reachable %d share %.2f %%", last, reach * 100)
        if shares[last] > reach:
            row = _curve_row(label, value, None, f"out of reach (largest {last} share "
                                                 f"{reach * 100:.1f} %)")
            rows.append(row)
            continue
        try:
            point, _ = solve_perfect(pm.pn, pm.root, pm.options, last_target=value, label=label,
                                     model=pm, reach=False)
            rows.append(_curve_row(label, value, point, "optimal"))
        except InfeasibleError as err:
            logger.warning("cost curve at %.0f %%: %s", value * 100, err)
            rows.append(_curve_row(label, value, None, "infeasible"))
    for row in rows:
        row["largest_reachable_last_pct"] = float("nan") if reach is None else reach * 100
    return rows


def _fleet_text(result: PathwayResult, spec: PathwaySpec) -> str:
    last = spec.periods[-1]
    cap = result.capacities[(result.capacities["period"] == last) & (result.capacities["unit"] == "MW")]
    by = cap.groupby("carrier")["capacity"].sum() / 1e3
    parts = [f"{carrier} {by[carrier]:.1f} GW" for carrier in ("onwind", "solar", "battery", "coal")
             if carrier in by.index]
    new = cap[(cap["origin"] == "new") & (cap["technology"] == "corridor")]["capacity"].sum() / 1e3
    return f"{', '.join(parts)}, new corridor capacity {new:.1f} GW"


def run_pathway(spec_path: Path, results_root: Path, project_root: Path) -> Path:
    """Solve every study of the spec and write the bundle; return the result folder.

    Raises
    ------
    ScenarioError
        Bad spec (exit 2).
    InfeasibleError
        A solve of the reference pathway is not optimal or a period misses its target.
    """
    spec_path = spec_path.resolve()
    spec = load_pathway_spec(spec_path)
    validate_solver_options(spec.solver.options, file=spec_path)
    results_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=results_root))
    try:
        timings: dict[str, Any] = {}
        start = time.perf_counter()
        base = load_base_network(spec, project_root, spec_path)
        pn = build_pathway_network(spec, project_root, base, work)
        timings["network_build_s"] = time.perf_counter() - start
        options = main_solver_options(spec.solver.options, work / "solver.log")

        start = time.perf_counter()
        pm = PathwayModel(pn, project_root, options)  # built once, re-solved by every study
        timings["model"] = {**pm.timings, "wall_s": time.perf_counter() - start, "lp": pm.size}

        start = time.perf_counter()
        perfect, ratios = solve_perfect(pn, project_root, options, model=pm)
        timings["perfect"] = {**perfect.timings, "wall_s": time.perf_counter() - start,
                              "lp": perfect.lp_size}
        results = [perfect]

        mga = pd.DataFrame()
        if spec.mga is not None:
            start = time.perf_counter()
            mga = solve_mga(pn, project_root, options, perfect, ratios, model=pm)
            timings["mga"] = {"wall_s": time.perf_counter() - start, "solves": len(mga),
                              "build_s": float(mga["build_s"].sum()) if not mga.empty else 0.0,
                              "solve_s": float(mga["solve_s"].sum()) if not mga.empty else 0.0}

        if "myopic" in spec.foresight:
            start = time.perf_counter()
            try:
                myopic = solve_myopic(pn, project_root, options, model=pm)
                timings["myopic"] = {**myopic.timings, "wall_s": time.perf_counter() - start,
                                     "lp": myopic.lp_size}
                results.append(myopic)
            except InfeasibleError as err:  # a finding of the study, not a failed run
                logger.warning("myopic foresight: %s", err)
                timings["myopic_failed"] = {"wall_s": time.perf_counter() - start, "error": str(err)}

        curve_rows = []
        if spec.cost_curve:
            start = time.perf_counter()
            free, _ = solve_perfect(pn, project_root, options, targets=False, label="no_targets",
                                    model=pm)
            results.append(free)
            curve_rows = _cost_curve(pm, spec, perfect, free)
            timings["cost_curve"] = {"wall_s": time.perf_counter() - start, "points": len(curve_rows)}
        curve = pd.DataFrame(curve_rows)

        summary = _summary(spec, pn.discount_rate, results, curve, mga, timings)
        write_bundle(work, summary, results, curve, mga)
        target = results_root / spec.name
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
        return target
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _summary(spec: PathwaySpec, rate: float, results: list[PathwayResult], curve: pd.DataFrame,
             mga: pd.DataFrame, timings: dict[str, Any]) -> dict[str, Any]:
    by_label = {r.label: r for r in results}
    perfect = by_label["perfect"]
    note = [
        f"Least-cost {spec.periods[-1]} fleet (perfect foresight): {_fleet_text(perfect, spec)}.",
        f"Total discounted cost (new investment + operation net of export revenue, {rate:.0%} "
        f"discount rate, the {spec.periods[0]} fleet sunk): {perfect.total_cost / 1e9:,.1f} bn CNY.",
    ]
    worst = perfect.shares["margin_pp"].min()
    note.append(f"Every period meets its target under the headline rule "
                f"(smallest margin {worst:+.3f} pp).")
    if "myopic" in by_label:
        myopic = by_label["myopic"]
        note.append(f"Myopic foresight: {myopic.total_cost / 1e9:,.1f} bn CNY "
                    f"({(myopic.total_cost - perfect.total_cost) / 1e9:+,.1f} bn); "
                    f"{spec.periods[-1]} fleet {_fleet_text(myopic, spec)}.")
    if "myopic" in by_label and by_label["myopic"].unreached:
        targets = spec.target_shares()
        for period, reach in by_label["myopic"].unreached.items():
            note.append(f"Myopic foresight cannot meet the {period} target ({targets[period]:.1%}) "
                        f"with the fleet carried forward: its largest reachable share is "
                        f"{reach:.2%}; that period was solved at it.")
    if "myopic_failed" in timings:
        note.append("Myopic foresight finds no pathway that meets every period's target: "
                    f"{timings['myopic_failed']['error']}")
    if "no_targets" in by_label:
        free = by_label["no_targets"]
        note.append(f"Without share targets: {free.total_cost / 1e9:,.1f} bn CNY; the targets cost "
                    f"{(perfect.total_cost - free.total_cost) / 1e9:+,.2f} bn CNY.")
    if not curve.empty:
        last = spec.periods[-1]
        points = []
        for _, row in curve[curve["variant"] != "no_targets"].iterrows():
            text = f"{row['last_target_pct']:.0f} %: "
            if pd.notna(row["total_cost_bn_cny"]):
                text += (f"{row['total_cost_bn_cny']:,.1f} bn CNY, {last} price "
                         f"{row.get(f'shadow_price_{last}_cny_per_pp_a', float('nan')) / 1e6:,.1f} "
                         "M CNY/pp/a")
            else:
                text += str(row["status"])
            points.append(text)
        note.append(f"Cost of the {last} target (total discounted cost; shadow price of the {last} "
                    f"share per point and year): {'; '.join(points)}.")
    if not mga.empty:
        for (slack, technology), part in mga.groupby(["slack", "technology"]):
            low = float(part.loc[part["sense"] == "min", "value_mw"].iloc[0]) / 1e3
            high = float(part.loc[part["sense"] == "max", "value_mw"].iloc[0]) / 1e3
            note.append(f"MGA +{slack:.0%}: new {technology} in {spec.periods[-1]} "
                        f"{low:,.1f}-{high:,.1f} GW (least cost "
                        f"{float(part['optimum_mw'].iloc[0]) / 1e3:,.1f} GW).")
    if "model" in timings:
        t = timings["model"]
        note.append(f"Benchmark: the multi-period model is built once ({t['wall_s']:.0f} s: "
                    f"{t['lp']['variables']:,} variables x {t['lp']['constraints']:,} constraints) "
                    "and re-solved with changes by every study.")
    for key in ("perfect", "myopic"):
        if key in timings:
            t = timings[key]
            note.append(f"Benchmark {key}: {t['wall_s']:.0f} s wall, build {t.get('build', 0):.0f} s, "
                        f"solve {t.get('solve', 0):.0f} s over {int(t.get('solves', 0))} LP(s) of "
                        f"{t['lp'].get('variables', 0):,} variables x {t['lp'].get('constraints', 0):,} "
                        "constraints.")
    if "mga" in timings:
        t = timings["mga"]
        note.append(f"Benchmark MGA: {t['wall_s']:.0f} s for {t['solves']} solves "
                    f"(build {t['build_s']:.0f} s, solve {t['solve_s']:.0f} s).")
    return {"name": spec.name, "description": spec.description, "periods": spec.periods,
            "segments": spec.segments, "discount_rate": rate,
            "targets": spec.target_shares(), "note": note, "timings": timings,
            "total_cost_cny": {r.label: r.total_cost for r in results},
            "objective_cny": {r.label: r.objective for r in results}}


__all__ = ["run_pathway"]
