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
    [pp].

Usage::

    .venv/bin/python benchmarks/pathway_benchmark.py                 # pathway + MGA + 876-segment error
    .venv/bin/python benchmarks/pathway_benchmark.py --no-pathway --fine-segments 8760   # hourly
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


def _one_period(segments: int | None) -> Any:
    from energy_model.optimization.model import main_solver_options
    from energy_model.pathway.build import build_pathway_network, load_base_network
    from energy_model.pathway.solve import solve_perfect
    from energy_model.pathway.spec import load_pathway_spec

    spec = load_pathway_spec(SPEC)
    segments = segments or spec.segments
    last = spec.periods[-1]
    shares = spec.target_shares()
    spec = spec.model_copy(update={
        "segments": segments, "periods": [last], "first_build_period": None, "mga": None,
        "corridors": [c.model_copy(update={"first_period": last}) for c in spec.corridors],
        "targets": spec.targets.model_copy(update={"anchors": {last: shares[last]}}),
    })
    with tempfile.TemporaryDirectory() as tmp:
        pn = build_pathway_network(spec, ROOT, load_base_network(spec, ROOT), Path(tmp))
        start = time.perf_counter()
        result, _ = solve_perfect(pn, ROOT, main_solver_options(spec.solver.options))
        return result, time.perf_counter() - start


def study_aggregation(segments: int | None, fine: int) -> dict[str, Any]:
    """The last period at ``segments`` and at ``fine`` segments: cost, capacity and share error."""
    coarse, coarse_s = _one_period(segments)
    reference, fine_s = _one_period(fine)

    def new_mw(result: Any) -> dict[str, float]:
        cap = result.capacities[result.capacities["origin"] == "new"]
        return {str(k): float(v) for k, v in cap.groupby("technology")["capacity"].sum().items()}

    a, b = new_mw(coarse), new_mw(reference)
    return {
        "segments": segments or "spec", "fine_segments": fine, "coarse_wall_s": round(coarse_s, 1),
        "fine_wall_s": round(fine_s, 1),
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
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if not args.no_pathway:
        figures["pathway"] = study_pathway(args.segments, mga=not args.no_mga)
        print(json.dumps(figures["pathway"], indent=2))
    if not args.no_aggregation:
        figures["aggregation"] = study_aggregation(args.segments, args.fine_segments)
        print(json.dumps(figures["aggregation"], indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pathway-latest.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
