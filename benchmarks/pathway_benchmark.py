"""Pathway benchmark: build/solve split and LP size of the pathway studies, and the error of the
time aggregation on one period.

``study_pathway``
    ``scenarios/pathway-2035.yaml`` at ``--segments`` segments per period (default: the spec's):
    network build, the one multi-period model (``model``: built once, re-used by every study),
    perfect foresight (with the per-period targets), MGA ranges of the spec and myopic
    foresight. Figures per study: ``wall_s`` and ``cpu_s`` (this process; the machine may be
    shared), ``build_s`` (the model build, only in ``model``), ``share_terms_s`` (the periods'
    share terms, computed once), ``update_s`` (rows, objective and bounds changed in place),
    ``solve_s`` (HiGHS incl. the hand-over), ``highs_s`` (HiGHS's own run time), ``lps``,
    ``variables``/``constraints`` (of the LP), ``load_before``.

``study_aggregation``
    The last period alone (a one-period pathway, targets as in the spec) at ``--segments`` and at
    ``--fine-segments`` (default 876; 8760 = hourly): relative difference of the total discounted
    cost and the difference of new wind, solar and storage capacity and of the achieved share
    [pp]. ``--fine-solver`` overrides HiGHS options of the fine solve (e.g. interior point
    without crossover and a ``time_limit``); a fine solve that ends without a solution is
    reported (``fine_failed``), not raised. HiGHS's log of the fine solve:
    ``benchmarks/output/one-period-<fine>-highs.log``.

``study_hourly_dispatch`` (``--hourly-dispatch``)
    The last period's optimum at ``--segments`` dispatched hourly: every candidate fixed at its
    coarse size, the same one-period model at 8760 h (``--dispatch-segments``) solved with the
    period's target by the pathway's mix-ratio iteration. Figures: achieved share and mix ratio
    at both resolutions, annual operating cost (the capex is equal by construction), total cost,
    curtailed wind and solar energy [TWh] (PyPSA's statistics), wall/CPU time and LP size; when
    the fixed fleet cannot meet the target hourly, the largest reachable share. HiGHS's log:
    ``benchmarks/output/hourly-dispatch-<segments>-highs.log``.

Usage::

    .venv/bin/python benchmarks/pathway_benchmark.py                 # pathway + MGA + 876-segment error
    .venv/bin/python benchmarks/pathway_benchmark.py --no-pathway --no-aggregation --hourly-dispatch \
        --fine-solver '{"run_crossover": "off"}'                     # 48-segment fleet run hourly
    .venv/bin/python benchmarks/pathway_benchmark.py --no-pathway --fine-segments 8760 \
        --fine-solver '{"run_crossover": "off", "time_limit": 1500.0}'   # hourly expansion, time-boxed
    .venv/bin/python benchmarks/pathway_benchmark.py --no-aggregation --segments 48
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "scenarios" / "pathway-2035.yaml"
OUT = ROOT / "benchmarks" / "output"


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _study_figures(timings: dict[str, float], start: tuple[float, float], lp: dict[str, int],
                   cost: float | None = None) -> dict[str, Any]:
    wall, cpu = _clock()
    figures: dict[str, Any] = {"wall_s": round(wall - start[0], 1), "cpu_s": round(cpu - start[1], 1)}
    for key in ("build", "share_terms", "update", "solve", "highs", "post"):
        if key in timings:
            figures[f"{key}_s"] = round(timings[key], 1)
    figures["lps"] = int(timings.get("solves", 0))
    figures.update(lp)
    if cost is not None:
        figures["total_cost_bn_cny"] = round(cost / 1e9, 3)
    return figures


def study_pathway(segments: int | None, *, mga: bool) -> dict[str, Any]:
    """Network build, the model, perfect foresight, MGA and myopic foresight."""
    from energy_model.optimization.model import main_solver_options
    from energy_model.pathway.build import build_pathway_network, load_base_network
    from energy_model.pathway.lp import PathwayModel
    from energy_model.pathway.solve import solve_mga, solve_myopic, solve_perfect
    from energy_model.pathway.spec import load_pathway_spec

    spec = load_pathway_spec(SPEC)
    if segments is not None:
        spec = spec.model_copy(update={"segments": segments})
    figures: dict[str, Any] = {"segments": spec.segments, "load_before": os.getloadavg()}
    total = _clock()
    with tempfile.TemporaryDirectory() as tmp:
        start = _clock()
        pn = build_pathway_network(spec, ROOT, load_base_network(spec, ROOT), Path(tmp))
        figures["network"] = _study_figures({}, start, {})
        options = main_solver_options(spec.solver.options)
        start = _clock()
        pm = PathwayModel(pn, ROOT, options)
        figures["model"] = _study_figures(pm.timings, start, pm.size)
        start = _clock()
        perfect, ratios = solve_perfect(pn, ROOT, options, model=pm)
        figures["perfect"] = _study_figures(perfect.timings, start, pm.size, perfect.total_cost)
        if mga and spec.mga is not None:
            start = _clock()
            table = solve_mga(pn, ROOT, options, perfect, ratios, model=pm)
            figures["mga"] = {**_study_figures({}, start, pm.size), "lps": len(table),
                              "update_s": round(float(table["build_s"].sum()), 1),
                              "solve_s": round(float(table["solve_s"].sum()), 1)}
            figures["mga_ranges_mw"] = table[["slack", "technology", "sense", "value_mw"]].to_dict(
                orient="records")
        start = _clock()
        myopic = solve_myopic(pn, ROOT, options, model=pm)
        figures["myopic"] = _study_figures(myopic.timings, start, pm.size, myopic.total_cost)
        figures["myopic"]["unreached"] = myopic.unreached
        figures["perfect_plus_model_wall_s"] = round(figures["model"]["wall_s"]
                                                     + figures["perfect"]["wall_s"], 1)
    wall, cpu = _clock()
    figures["total"] = {"wall_s": round(wall - total[0], 1), "cpu_s": round(cpu - total[1], 1)}
    return figures


def _one_period_network(segments: int | None, solver: dict[str, Any] | None, folder: Path) -> Any:
    """The last period alone: a one-period pathway with the spec's target of that period."""
    from energy_model.pathway.build import build_pathway_network, load_base_network
    from energy_model.pathway.spec import load_pathway_spec

    spec = load_pathway_spec(SPEC)
    segments = segments or spec.segments
    last = spec.periods[-1]
    shares = spec.target_shares()
    spec = spec.model_copy(update={
        "segments": segments, "periods": [last], "first_build_period": None, "mga": None,
        "corridors": [c.model_copy(update={"first_period": last}) for c in spec.corridors],
        "targets": spec.targets.model_copy(update={"anchors": {last: shares[last]}}),
        "solver": spec.solver.model_copy(update={"options": {**spec.solver.options, **(solver or {})}}),
    })
    return build_pathway_network(spec, ROOT, load_base_network(spec, ROOT), folder)


def _solver_options(pn: Any, log: str | None) -> dict[str, Any]:
    """The spec's HiGHS options; with ``log``: HiGHS's log written to ``benchmarks/output/<log>``."""
    from energy_model.optimization.model import main_solver_options

    if log is None:
        return main_solver_options(pn.spec.solver.options)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / log).unlink(missing_ok=True)
    return main_solver_options(pn.spec.solver.options, log_file=OUT / log)


def _one_period(segments: int | None, solver: dict[str, Any] | None = None,
                log: str | None = None) -> Any:
    from energy_model.pathway.solve import solve_perfect

    with tempfile.TemporaryDirectory() as tmp:
        pn = _one_period_network(segments, solver, Path(tmp))
        start = _clock()
        result, _ = solve_perfect(pn, ROOT, _solver_options(pn, log))
        wall, cpu = _clock()
        result.timings["bench_cpu"] = cpu - start[1]
        return result, wall - start[0]


def _vre_curtailment_twh(pn: Any) -> dict[str, float]:
    """Curtailed wind and solar energy of the solved one-period network (PyPSA's statistics) [TWh]."""
    stats = pn.n.statistics.curtailment(components="Generator", groupby="carrier", nice_names=False)
    frame = stats.to_frame() if hasattr(stats, "to_frame") else stats
    totals = frame.sum(axis=1) if frame.ndim == 2 else frame
    return {str(k): round(float(totals.get(k, 0.0)) * 1e-6, 3) for k in ("onwind", "solar")}


def study_hourly_dispatch(segments: int | None, solver: dict[str, Any] | None,
                          hourly_segments: int = 8760) -> dict[str, Any]:
    """The last period's optimum at ``segments`` dispatched hourly with its fleet fixed.

    The coarse one-period optimum (as :func:`study_aggregation`); then the same one-period model
    at 8760 h with every candidate's size fixed at that optimum (lower = upper bound, the myopic
    steps' :meth:`PathwayModel.set_candidates`), solved with the period's target by the
    mix-ratio iteration (:func:`energy_model.pathway.solve.solve_with_targets`). When the fixed
    fleet cannot meet the target hourly, the largest reachable share is reported.
    """
    from energy_model.pathway.lp import PathwayModel
    from energy_model.pathway.solve import (
        TargetOutOfReachError,
        solve_perfect,
        solve_with_targets,
    )

    figures: dict[str, Any] = {"segments": segments or "spec", "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        pn = _one_period_network(segments, None, Path(tmp))
        start = _clock()
        coarse, _ = solve_perfect(pn, ROOT, _solver_options(pn, None))
        figures["coarse"] = _study_figures(coarse.timings, start, coarse.lp_size, coarse.total_cost)
        figures["coarse"]["curtailment_twh"] = _vre_curtailment_twh(pn)
        fleet = {str(k): max(float(v), 0.0) for k, v in coarse.built.items()}
    with tempfile.TemporaryDirectory() as tmp:
        start = _clock()
        pn = _one_period_network(hourly_segments, solver, Path(tmp))
        figures["hourly_network"] = _study_figures({}, start, {})
        start = _clock()
        pm = PathwayModel(pn, ROOT, _solver_options(pn, f"hourly-dispatch-{hourly_segments}-highs.log"))
        build = dict(pm.timings)  # the model build; solve_with_targets swaps in its own dict
        pm.set_candidates(fleet, [])
        shares = pn.spec.target_shares() if pn.spec.targets.enforce else None
        period = pn.spec.periods[-1]
        try:
            hourly, _ = solve_with_targets(pm, shares, label="hourly dispatch")
            reachable = None
        except TargetOutOfReachError as err:
            reachable = err.reachable.get(period)
            hourly = None
        figures["hourly"] = _study_figures({**build, **pm.timings}, start, pm.size,
                                           hourly.total_cost if hourly is not None else None)
        if hourly is None:
            figures["hourly"]["target_met"] = False
            figures["hourly"]["largest_reachable_share"] = reachable
            figures["share_pct_coarse"] = float(coarse.shares["achieved_share"].iloc[0] * 100)
            return figures
        figures["hourly"]["target_met"] = True
        figures["hourly"]["curtailment_twh"] = _vre_curtailment_twh(pn)
    a, b = coarse.shares.iloc[0], hourly.shares.iloc[0]
    opex_a = float(coarse.costs["opex_cny_per_a"].iloc[0])
    opex_b = float(hourly.costs["opex_cny_per_a"].iloc[0])
    figures.update({
        "target_share": float(a["target_share"]),
        "share_pct_coarse": float(a["achieved_share"] * 100),
        "share_pct_hourly": float(b["achieved_share"] * 100),
        "share_pp_hourly_minus_coarse": float((b["achieved_share"] - a["achieved_share"]) * 100),
        "mix_ratio_coarse": float(a["mix_ratio"]), "mix_ratio_hourly": float(b["mix_ratio"]),
        "opex_bn_cny_per_a_coarse": opex_a * 1e-9, "opex_bn_cny_per_a_hourly": opex_b * 1e-9,
        "opex_rel_hourly_minus_coarse": (opex_b - opex_a) / abs(opex_a),
        "total_cost_rel_hourly_minus_coarse": (hourly.total_cost - coarse.total_cost)
        / abs(coarse.total_cost),
        "capex_equal": bool(abs(float(hourly.costs["capex_new_cny_per_a"].iloc[0])
                                - float(coarse.costs["capex_new_cny_per_a"].iloc[0])) < 1.0),
        "hourly_mix_iterations": len(hourly.iterations) - 1 if hourly.iterations else 0,
    })
    return figures


def study_aggregation(segments: int | None, fine: int,
                      solver: dict[str, Any] | None = None) -> dict[str, Any]:
    """The last period at ``segments`` and at ``fine`` segments: cost, capacity and share error."""
    from energy_model.exceptions import InfeasibleError

    coarse, coarse_s = _one_period(segments)
    start = _clock()
    try:
        reference, fine_s = _one_period(fine, solver, f"one-period-{fine}-highs.log")
    except InfeasibleError as err:  # e.g. a HiGHS time_limit in ``solver``: report, do not crash
        wall, cpu = _clock()
        return {"segments": segments or "spec", "fine_segments": fine, "fine_solver": solver or "spec",
                "coarse_wall_s": round(coarse_s, 1), "fine_wall_s": round(wall - start[0], 1),
                "fine_cpu_s": round(cpu - start[1], 1), "fine_failed": str(err),
                "fine_status": err.status, "fine_condition": err.condition}

    def new_mw(result: Any) -> dict[str, float]:
        cap = result.capacities[result.capacities["origin"] == "new"]
        return {str(k): float(v) for k, v in cap.groupby("technology")["capacity"].sum().items()}

    a, b = new_mw(coarse), new_mw(reference)
    return {
        "segments": segments or "spec", "fine_segments": fine, "fine_solver": solver or "spec",
        "coarse_wall_s": round(coarse_s, 1), "coarse_cpu_s": round(coarse.timings["bench_cpu"], 1),
        "fine_wall_s": round(fine_s, 1), "fine_cpu_s": round(reference.timings["bench_cpu"], 1),
        "fine_highs_s": round(reference.timings.get("highs", float("nan")), 1),
        "fine_lp": reference.lp_size,
        "cost_rel_error": (coarse.total_cost - reference.total_cost) / abs(reference.total_cost),
        "new_capacity_mw_coarse": a, "new_capacity_mw_fine": b,
        "share_pp_coarse_minus_fine": float(
            (coarse.shares["achieved_share"].iloc[0] - reference.shares["achieved_share"].iloc[0]) * 100),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=None, help="default: the spec's")
    parser.add_argument("--fine-segments", type=int, default=876,
                        help="reference resolution of the aggregation error (8760: hourly; its "
                             "LP has ~0.8 M variables x 1.7 M constraints and took > 30 min)")
    parser.add_argument("--no-mga", action="store_true", help="skip the MGA ranges")
    parser.add_argument("--no-pathway", action="store_true")
    parser.add_argument("--no-aggregation", action="store_true")
    parser.add_argument("--hourly-dispatch", action="store_true",
                        help="dispatch the last period's optimum at --segments hourly with its "
                             "fleet fixed (share, operating cost, curtailment against the coarse run)")
    parser.add_argument("--fine-solver", type=json.loads, default=None, metavar="JSON",
                        help='HiGHS options over the spec\'s for the --fine-segments and the hourly '
                             'dispatch solves, e.g. \'{"run_crossover": "off"}\'')
    parser.add_argument("--dispatch-segments", type=int, default=8760,
                        help="resolution of --hourly-dispatch (8760: hourly; fewer for a quick check)")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if not args.no_pathway:
        figures["pathway"] = study_pathway(args.segments, mga=not args.no_mga)
        print(json.dumps(figures["pathway"], indent=2))
    if args.hourly_dispatch:
        figures["hourly_dispatch"] = study_hourly_dispatch(args.segments, args.fine_solver,
                                                           args.dispatch_segments)
        print(json.dumps(figures["hourly_dispatch"], indent=2))
    if not args.no_aggregation:
        figures["aggregation"] = study_aggregation(args.segments, args.fine_segments, args.fine_solver)
        print(json.dumps(figures["aggregation"], indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pathway-latest.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
