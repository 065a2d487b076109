"""Pathway benchmark: build/solve split and LP size of the pathway studies, and the error of the
time aggregation on one period.

``study_pathway``
    ``pathways/pathway-2035.yaml`` at ``--segments`` segments per period: network build,
    perfect foresight (with the per-period targets), myopic foresight and, with ``--mga``, the
    MGA ranges of the spec. Figures per study: ``wall_s``, ``build_s`` (linopy model incl. the
    pathway constraints, summed over the study's LPs), ``solve_s`` (HiGHS incl. hand-over),
    ``lps`` (number of LPs), ``variables``/``constraints`` (of one LP), ``load_before``.

``study_aggregation``
    The last period alone (a one-period pathway, targets as in the spec) at ``--segments`` and at
    ``--fine-segments`` (8760 = hourly): relative difference of the total discounted cost and
    the difference of new wind, solar and storage capacity and of the achieved share [pp].

Usage::

    .venv/bin/python benchmarks/pathway_benchmark.py --segments 48 --fine-segments 400
    .venv/bin/python benchmarks/pathway_benchmark.py --segments 48 --mga --no-aggregation
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
SPEC = ROOT / "pathways" / "pathway-2035.yaml"
OUT = ROOT / "benchmarks" / "output"


def _study_figures(result: Any, wall: float) -> dict[str, Any]:
    return {"wall_s": round(wall, 1), "build_s": round(result.timings.get("build", 0.0), 1),
            "solve_s": round(result.timings.get("solve", 0.0), 1),
            "lps": int(result.timings.get("solves", 0)), **result.lp_size,
            "total_cost_bn_cny": round(result.total_cost / 1e9, 3)}


def study_pathway(segments: int, *, mga: bool) -> dict[str, Any]:
    """Network build, perfect and myopic foresight (and MGA) at ``segments`` per period."""
    from energy_model.optimization.model import main_solver_options
    from energy_model.pathway.build import build_pathway_network, load_base_network
    from energy_model.pathway.solve import solve_mga, solve_myopic, solve_perfect
    from energy_model.pathway.spec import load_pathway_spec

    spec = load_pathway_spec(SPEC).model_copy(update={"segments": segments})
    figures: dict[str, Any] = {"segments": segments, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        pn = build_pathway_network(spec, ROOT, load_base_network(spec, ROOT), Path(tmp))
        figures["network_build_s"] = round(time.perf_counter() - start, 1)
        options = main_solver_options(spec.solver.options)
        start = time.perf_counter()
        perfect, ratios = solve_perfect(pn, ROOT, options)
        figures["perfect"] = _study_figures(perfect, time.perf_counter() - start)
        start = time.perf_counter()
        myopic = solve_myopic(pn, ROOT, options)
        figures["myopic"] = _study_figures(myopic, time.perf_counter() - start)
        if mga and spec.mga is not None:
            start = time.perf_counter()
            table = solve_mga(pn, ROOT, options, perfect, ratios)
            figures["mga"] = {"wall_s": round(time.perf_counter() - start, 1), "lps": len(table),
                              "build_s": round(float(table["build_s"].sum()), 1),
                              "solve_s": round(float(table["solve_s"].sum()), 1)}
    return figures


def _one_period(segments: int) -> Any:
    from energy_model.optimization.model import main_solver_options
    from energy_model.pathway.build import build_pathway_network, load_base_network
    from energy_model.pathway.solve import solve_perfect
    from energy_model.pathway.spec import load_pathway_spec

    spec = load_pathway_spec(SPEC)
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


def study_aggregation(segments: int, fine: int) -> dict[str, Any]:
    """The last period at ``segments`` and at ``fine`` segments: cost, capacity and share error."""
    coarse, coarse_s = _one_period(segments)
    reference, fine_s = _one_period(fine)

    def new_mw(result: Any) -> dict[str, float]:
        cap = result.capacities[result.capacities["origin"] == "new"]
        return {str(k): float(v) for k, v in cap.groupby("technology")["capacity"].sum().items()}

    a, b = new_mw(coarse), new_mw(reference)
    return {
        "segments": segments, "fine_segments": fine, "coarse_wall_s": round(coarse_s, 1),
        "fine_wall_s": round(fine_s, 1),
        "cost_rel_error": (coarse.total_cost - reference.total_cost) / abs(reference.total_cost),
        "new_capacity_mw_coarse": a, "new_capacity_mw_fine": b,
        "share_pp_coarse_minus_fine": float(
            (coarse.shares["achieved_share"].iloc[0] - reference.shares["achieved_share"].iloc[0]) * 100),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=48)
    parser.add_argument("--fine-segments", type=int, default=400)
    parser.add_argument("--mga", action="store_true", help="also time the MGA ranges")
    parser.add_argument("--no-pathway", action="store_true")
    parser.add_argument("--no-aggregation", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if not args.no_pathway:
        figures["pathway"] = study_pathway(args.segments, mga=args.mga)
        print(json.dumps(figures["pathway"], indent=2))
    if not args.no_aggregation:
        figures["aggregation"] = study_aggregation(args.segments, args.fine_segments)
        print(json.dumps(figures["aggregation"], indent=2))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pathway-latest.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
