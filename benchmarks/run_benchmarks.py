"""Benchmarks: end-to-end run times, solver tuning, time aggregation and the Pyomo cross-check.

Every case runs in a fresh Python process, so that its peak memory (``ru_maxrss`` of that
process, HiGHS included) and its timings do not depend on the cases before it. Figures are
printed and written to ``benchmarks/output/<study>.csv`` (git-ignored). Nothing here asserts on
time; the targets are discussed in ``docs/performance.md``.

Studies
-------
``e2e`` (default)
    ``energy-model run`` of each shipped scenario into a temporary results folder: LP size
    (variables, constraints, non-zeros), stage timings from ``run.json`` (load, build, solve,
    post-processing, metrics, write, report), total wall time, peak memory, total / solver time.
``tuning``
    One scenario solved with several HiGHS option sets (simplex, IPM with/without crossover,
    presolve off, one thread, HiPO ...): build / solve / post time, objective, peak memory.
``aggregation``
    One scenario at several time resolutions (``resample`` hours, ``segment`` counts), each
    compared with the hourly run: speed-up and error in objective, renewable share, curtailment
    and corridor flows.
``screening``
    Each scenario solved hourly with and without investment screening
    (:mod:`energy_model.optimization.screening`): time of screen + build + solve + certify, objectives.
``crosscheck``
    Model build time linopy vs Pyomo on the same network (and the objective comparison).
``sweep``
    32 samples of ``sweeps/plan-2022-uncertainty.yaml`` (LHS) at 876 segments on 2 Dask workers:
    wall time, seconds per sample, overhead ratio wall x workers / sum of the solver seconds
    (``solve_s``; and against HiGHS's own run time), stage means and medians
    (``benchmarks/sweep_benchmark.py``); ``--sweep-aggregation-samples 5`` adds the error of
    the share at 876 segments against hourly.

Examples
--------
``python benchmarks/run_benchmarks.py``  (all shipped scenarios, end to end)
``python benchmarks/run_benchmarks.py --scenarios plan-2022 --study tuning``
``python benchmarks/run_benchmarks.py --scenarios plan-2022 --study aggregation
--aggregation resample:3 segment:876``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
RESULT_PREFIX = "BENCHMARK-RESULT "

#: HiGHS option sets of the tuning study (``threads`` is added from ``--threads``).
#: (HiGHS' new HiPO IPM is not in the PyPI highspy 1.15 wheel: "unavailable: amd, blas, metis, rcm";
#: asking for it silently falls back to simplex, so it is not listed.)
TUNING: dict[str, dict[str, Any]] = {
    "ipm_nocrossover": {"solver": "ipm", "run_crossover": "off"},
    "ipm_crossover": {"solver": "ipm", "run_crossover": "on"},
    "ipm_nocrossover_presolve_off": {"solver": "ipm", "run_crossover": "off", "presolve": "off"},
    "ipm_nocrossover_1thread": {"solver": "ipm", "run_crossover": "off", "threads": 1},
    "dual_simplex": {"solver": "simplex", "simplex_strategy": 1},
    "simplex_parallel": {"solver": "simplex", "simplex_strategy": 2, "parallel": "on"},
    "pdlp": {"solver": "pdlp"},
}
#: Time resolutions of the aggregation study (``hourly`` is always run as the reference).
AGGREGATION = [
    "resample:2",
    "resample:3",
    "resample:4",
    "resample:6",
    "resample:12",
    "segment:4380",
    "segment:2190",
    "segment:1460",
    "segment:876",
    "segment:438",
]


# ---------------------------------------------------------------------------------------------
# Child process: one measured case
# ---------------------------------------------------------------------------------------------


def _peak_memory_mb() -> float:
    """Peak resident memory of this process so far [MB] (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _configure_child() -> None:
    import logging

    import pypsa

    pypsa.options.api.legacy_string_dtype = False
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("pypsa", "linopy", "pyomo"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _override_solver_options(options: dict[str, Any]) -> None:
    """Make every scenario loaded in this (child) process use ``options`` for HiGHS."""
    import energy_model.scenario as scenario_module

    original = scenario_module.load_scenario

    def load_with_options(path: str | Path) -> Any:
        sc = original(path)
        return sc.model_copy(update={"solver": scenario_module.SolverConfig(options=options)})

    scenario_module.load_scenario = load_with_options


def _count_nonzeros(scenario_path: Path) -> int:
    """Rebuild the scenario's LP and count the non-zeros of its constraint matrix."""
    from energy_model.network import apply_scenario, load_network
    from energy_model.optimization.constraints import extra_functionality
    from energy_model.optimization.model import build_model, lp_size
    from energy_model.scenario import load_scenario, resolve_project_path

    sc = load_scenario(scenario_path)
    n = load_network(resolve_project_path(scenario_path, sc.network), sc.allow_custom_columns)
    apply_scenario(n, sc, file=scenario_path)
    m = build_model(n, extra_functionality(sc, ROOT), limits_as_bounds=False)
    return lp_size(m, count_nonzeros=True)["nonzeros"]


def child_e2e(case: dict[str, Any]) -> dict[str, Any]:
    """``energy-model run`` of one scenario into a temporary results folder."""
    from energy_model.cli import run_scenario

    if case.get("options") is not None:
        _override_solver_options(case["options"])
    scenario_path = ROOT / "scenarios" / f"{case['scenario']}.yaml"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bundle = run_scenario(scenario_path, ROOT, Path(tmp))
        wall = time.perf_counter() - start
        peak = _peak_memory_mb()
        run = json.loads((bundle / "run.json").read_text(encoding="utf-8"))
    timings = run["timings_s"]
    out: dict[str, Any] = {
        "scenario": case["scenario"],
        "snapshots": run.get("snapshots"),
        "variables": run["lp_size"].get("variables"),
        "constraints": run["lp_size"].get("constraints"),
        "objective": run["objective"],
        **{f"t_{stage}_s": seconds for stage, seconds in timings.items()},
        "wall_s": wall,
        "peak_memory_mb": peak,
    }
    out["outside_solver_pct"] = 100 * (1 - timings["solve"] / timings["total"])
    out["total_over_solver"] = timings["total"] / timings["solve"]
    screening = run.get("screening", {})
    out["screened"] = ",".join(screening.get("candidates", []))
    out["full_lp_solves"] = screening.get("full_lp_solves")
    if case.get("nonzeros", True):
        out["nonzeros"] = _count_nonzeros(scenario_path)
    return out


def _summaries(n: Any, sc: Any, result: Any) -> dict[str, Any]:
    """Quantities compared across time resolutions."""
    from energy_model.accounting import compute_verdicts
    from energy_model.analysis.metrics import compute_metrics

    metrics = compute_metrics(n, sc, result, ROOT)
    out: dict[str, Any] = {"objective": result.objective}
    if sc.targets:
        verdicts = compute_verdicts(metrics, sc)
        out["renewable_share_pct"] = 100 * float(verdicts["achieved_share"].iloc[0])
    renewable = set(sc.accounting.renewable_carriers)
    curtailment = metrics[(metrics["metric"] == "curtailment") & metrics["carrier"].isin(renewable)]
    out["curtailment_twh"] = float(curtailment["value"].sum())
    exports = metrics[metrics["metric"] == "export"].groupby("variant")["value"].sum()
    imports = metrics[metrics["metric"] == "import"].groupby("variant")["value"].sum()
    out["corridors_twh"] = {k: float(exports.get(k, 0.0) - imports.get(k, 0.0)) for k in exports.index}
    return out


def child_solve(case: dict[str, Any]) -> dict[str, Any]:
    """Load, apply (optionally another time resolution / solver options), solve, summarise."""
    from energy_model.network import apply_scenario, load_network
    from energy_model.optimization.solve import solve
    from energy_model.scenario import (
        ScreeningConfig,
        TimeResolution,
        load_scenario,
        resolve_project_path,
    )
    from energy_model.timeseries import apply_time_resolution

    scenario_path = ROOT / "scenarios" / f"{case['scenario']}.yaml"
    start = time.perf_counter()
    sc = load_scenario(scenario_path)
    update: dict[str, Any] = {"time": TimeResolution()}
    solver: dict[str, Any] = {}
    if case.get("options") is not None:
        solver["options"] = case["options"]
    if case.get("screening") is not None:
        solver["screening"] = ScreeningConfig(**case["screening"])
    if solver:
        update["solver"] = sc.solver.model_copy(update=solver)
    sc = sc.model_copy(update=update)
    n = load_network(resolve_project_path(scenario_path, sc.network), sc.allow_custom_columns)
    apply_scenario(n, sc, file=scenario_path)
    t_load = time.perf_counter() - start
    mark = time.perf_counter()
    time_resolution = TimeResolution(**case.get("time", {"method": "hourly"}))
    apply_time_resolution(n, time_resolution)
    t_aggregate = time.perf_counter() - mark
    result = solve(n, sc, ROOT, count_nonzeros=case.get("nonzeros", False))
    mark = time.perf_counter()
    summary = _summaries(n, sc, result)
    t_metrics = time.perf_counter() - mark
    return {
        "scenario": case["scenario"],
        "label": case.get("label", ""),
        "snapshots": len(n.snapshots),
        **result.lp_size,
        "t_load_s": t_load,
        "t_aggregate_s": t_aggregate,
        **{f"t_{k}_s": v for k, v in result.timings.items()},
        "t_metrics_s": t_metrics,
        "wall_s": time.perf_counter() - start,
        "peak_memory_mb": _peak_memory_mb(),
        "options": json.dumps(result.solver_options, sort_keys=True),
        "screened": ",".join(result.screening.get("candidates", [])),
        "full_lp_solves": result.screening.get("full_lp_solves"),
        **summary,
    }


def child_crosscheck(case: dict[str, Any]) -> dict[str, Any]:
    """Build times linopy vs Pyomo and objectives on one scenario (optionally aggregated)."""
    from energy_model.analysis.crosscheck import run_crosscheck
    from energy_model.network import apply_scenario, load_network
    from energy_model.scenario import TimeResolution, load_scenario, resolve_project_path

    scenario_path = ROOT / "scenarios" / f"{case['scenario']}.yaml"
    sc = load_scenario(scenario_path)
    sc = sc.model_copy(update={"time": TimeResolution(**case.get("time", {"method": "hourly"}))})
    n = load_network(resolve_project_path(scenario_path, sc.network), sc.allow_custom_columns)
    apply_scenario(n, sc, file=scenario_path)
    if case.get("build_only"):
        return _build_times(n, sc, case)
    result = run_crosscheck(n, sc, ROOT, check_feasibility=case.get("feasibility", False))
    return {
        "scenario": case["scenario"],
        "label": case.get("label", ""),
        "snapshots": len(n.snapshots),
        "objective_pypsa": result.objective_pypsa,
        "objective_pyomo": result.objective_pyomo,
        "rel_diff": result.rel_diff,
        "max_dispatch_diff": result.max_dispatch_diff,
        "pypsa_max_violation": result.pypsa_max_violation,
        "build_linopy_s": result.build_seconds["linopy"],
        "build_pyomo_s": result.build_seconds["pyomo"],
        "solve_linopy_s": result.solve_seconds["linopy"],
        "solve_pyomo_s": result.solve_seconds["pyomo"],
        "variables_linopy": result.lp_size["linopy"]["variables"],
        "variables_pyomo": result.lp_size["pyomo"]["variables"],
        "peak_memory_mb": _peak_memory_mb(),
        "ok": result.ok,
    }


def _build_times(n: Any, sc: Any, case: dict[str, Any]) -> dict[str, Any]:
    """Build the same LP with linopy (PyPSA) and with Pyomo, without solving; time and size."""
    import gc

    from energy_model.analysis.crosscheck import build_pyomo_model
    from energy_model.optimization.constraints import extra_functionality
    from energy_model.optimization.model import build_model

    start = time.perf_counter()
    m = build_model(n, extra_functionality(sc, ROOT))  # as the engine's build does
    build_linopy = time.perf_counter() - start
    peak_linopy = _peak_memory_mb()
    size_linopy = (int(m.nvars), int(m.ncons))
    del m
    gc.collect()
    start = time.perf_counter()
    model, _ = build_pyomo_model(n, sc, ROOT)
    build_pyomo = time.perf_counter() - start
    return {
        "scenario": case["scenario"],
        "label": case.get("label", "") + " (build only)",
        "snapshots": len(n.snapshots),
        "build_linopy_s": build_linopy,
        "build_pyomo_s": build_pyomo,
        "variables_linopy": size_linopy[0],
        "constraints_linopy": size_linopy[1],
        "variables_pyomo": model.nvariables(),
        "constraints_pyomo": model.nconstraints(),
        "peak_memory_linopy_mb": peak_linopy,
        "peak_memory_mb": _peak_memory_mb(),
    }


CHILDREN = {"e2e": child_e2e, "solve": child_solve, "crosscheck": child_crosscheck}


def run_child(spec: str) -> None:
    """Entry point of a child process: run one case and print its result as JSON."""
    case = json.loads(spec)
    _configure_child()
    result = CHILDREN[case["kind"]](case)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=float) + "\n")


# ---------------------------------------------------------------------------------------------
# Parent: schedule cases, collect, print, write CSV
# ---------------------------------------------------------------------------------------------


def run_case(case: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one case in a fresh interpreter; return its result with load and process wall time."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(case)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
    process_wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {**case, "error": f"exit {proc.returncode}: {tail}", "process_wall_s": process_wall}
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result["process_wall_s"] = process_wall
    result["load_avg_before"] = load_before
    result["load_avg_after"] = os.getloadavg()[0]
    return result


def _parse_time(spec: str) -> dict[str, Any]:
    method, _, value = spec.partition(":")
    if method == "hourly":
        return {"method": "hourly"}
    if method == "resample":
        return {"method": "resample", "hours": int(value)}
    if method == "segment":
        return {"method": "segment", "segments": int(value)}
    msg = f"unknown time resolution '{spec}' (use hourly, resample:<hours> or segment:<n>)"
    raise SystemExit(msg)


def _write(table: pd.DataFrame, study: str, output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = output / f"{study}-{stamp}.csv"
    table.to_csv(path, index=False, float_format="%.6g")
    table.to_csv(output / f"{study}-latest.csv", index=False, float_format="%.6g")
    return path


def _show(table: pd.DataFrame, columns: list[str], title: str) -> None:
    present = [c for c in columns if c in table.columns]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 3):
        print(f"\n== {title}")
        print(table[present].to_string(index=False))


def study_e2e(scenarios: list[str], args: argparse.Namespace) -> pd.DataFrame:
    rows = []
    for name in scenarios:
        print(f"[e2e] {name} ...", flush=True)
        case = {"kind": "e2e", "scenario": name, "nonzeros": not args.no_nonzeros,
                "options": args.solver_options}
        rows.append(run_case(case, args.timeout))
    table = pd.DataFrame(rows)
    _show(
        table,
        ["scenario", "snapshots", "variables", "constraints", "nonzeros", "t_load_and_validate_s",
         "t_screen_s", "t_build_s", "t_solve_s", "t_certify_s", "t_post_s", "t_metrics_s", "t_write_s",
         "t_report_s", "t_total_s", "outside_solver_pct", "total_over_solver", "screened",
         "full_lp_solves", "peak_memory_mb", "load_avg_before", "error"],
        "end to end (energy-model run), seconds / MB",
    )
    if "t_total_s" in table.columns:
        print(
            f"all {len(table)} scenarios one after another: {table['t_total_s'].sum():.1f} s "
            f"(sum of run totals), {table['process_wall_s'].sum():.1f} s (sum of process wall times "
            "incl. interpreter start and imports)"
        )
    return table


def study_tuning(scenarios: list[str], args: argparse.Namespace) -> pd.DataFrame:
    rows = []
    for name in scenarios:
        for label, options in TUNING.items():
            if args.options and label not in args.options:
                continue
            full = {"threads": args.threads, **options}
            print(f"[tuning] {name} {label} ...", flush=True)
            case = {"kind": "solve", "scenario": name, "label": label, "options": full,
                    "time": _parse_time(args.tuning_time)}
            rows.append(run_case(case, args.timeout))
    table = pd.DataFrame(rows)
    if "objective" in table.columns:
        best = table.groupby("scenario")["objective"].transform("min")
        table["objective_rel_gap"] = table["objective"] / best - 1
    _show(
        table,
        ["scenario", "label", "snapshots", "t_build_s", "t_solve_s", "t_post_s", "wall_s", "objective",
         "objective_rel_gap", "peak_memory_mb", "load_avg_before", "error"],
        "HiGHS option sets",
    )
    return table


def _solver_path(row: Any) -> float:
    """Screen + build + solve + certify [s] of one solve case (absent stages count 0)."""
    stages = (row.get(f"t_{k}_s") for k in ("screen", "build", "solve", "certify"))
    return float(sum(t for t in stages if pd.notna(t)))


def study_aggregation(scenarios: list[str], args: argparse.Namespace) -> pd.DataFrame:
    settings = ["hourly", *[s for s in args.aggregation if s != "hourly"]]
    rows = []
    for name in scenarios:
        for spec in settings:
            print(f"[aggregation] {name} {spec} ...", flush=True)
            case = {"kind": "solve", "scenario": name, "label": spec, "time": _parse_time(spec),
                    "options": args.solver_options}
            rows.append(run_case(case, args.timeout))
    table = pd.DataFrame(rows)
    if "error" in table.columns and table["error"].notna().all():
        _show(table, ["scenario", "label", "error"], "time aggregation (all failed)")
        return table
    out = []
    for _, group in table.groupby("scenario", sort=False):
        reference = group[group["label"] == "hourly"].iloc[0]
        ref_time = _solver_path(reference)
        ref_total = reference["wall_s"]
        for _, r in group.iterrows():
            row = r.to_dict()
            if pd.isna(r.get("objective")):
                out.append(row)
                continue
            row["t_solver_path_s"] = _solver_path(r)
            row["speedup_solver_path"] = ref_time / _solver_path(r)
            row["speedup_wall"] = ref_total / r["wall_s"]
            row["objective_err_pct"] = 100 * (r["objective"] / reference["objective"] - 1)
            if "renewable_share_pct" in r and pd.notna(r["renewable_share_pct"]):
                row["share_err_pp"] = r["renewable_share_pct"] - reference["renewable_share_pct"]
            row["curtailment_err_twh"] = r["curtailment_twh"] - reference["curtailment_twh"]
            ref_corr, corr = reference["corridors_twh"], r["corridors_twh"]
            diffs = {k: corr.get(k, 0.0) - v for k, v in ref_corr.items()}
            worst = max(diffs, key=lambda k: abs(diffs[k])) if diffs else ""
            row["corridor_max_err_twh"] = diffs.get(worst, 0.0) if worst else 0.0
            row["corridor_max_err_pct"] = (
                100 * diffs[worst] / ref_corr[worst] if worst and abs(ref_corr[worst]) > 1e-9 else 0.0
            )
            row["corridor_worst"] = worst
            out.append(row)
    result = pd.DataFrame(out)
    result["corridors_twh"] = result["corridors_twh"].map(json.dumps)
    _show(
        result,
        ["scenario", "label", "snapshots", "t_aggregate_s", "t_screen_s", "t_build_s", "t_solve_s",
         "t_certify_s", "t_solver_path_s", "wall_s", "speedup_solver_path", "speedup_wall",
         "objective_err_pct", "share_err_pp",
         "curtailment_twh", "curtailment_err_twh", "corridor_max_err_twh", "corridor_max_err_pct",
         "corridor_worst", "peak_memory_mb", "load_avg_before", "error"],
        "time aggregation vs hourly",
    )
    return result


def study_screening(scenarios: list[str], args: argparse.Namespace) -> pd.DataFrame:
    """Each scenario solved hourly with and without investment screening: times and objectives."""
    rows = []
    for name in scenarios:
        for label, config in (("screening_off", {"enabled": False}), ("screening_on", {"enabled": True})):
            print(f"[screening] {name} {label} ...", flush=True)
            case = {"kind": "solve", "scenario": name, "label": label, "screening": config,
                    "options": args.solver_options, "time": {"method": "hourly"}}
            rows.append(run_case(case, args.timeout))
    table = pd.DataFrame(rows)
    if "objective" in table.columns:
        timed = table.assign(t_solver_path_s=table.apply(_solver_path, axis=1))
        off = timed[timed["label"] == "screening_off"].set_index("scenario")
        reference_path = timed["scenario"].map(off["t_solver_path_s"])
        timed["speedup_solver_path"] = reference_path / timed["t_solver_path_s"]
        timed["objective_rel_diff"] = timed["objective"] / timed["scenario"].map(off["objective"]) - 1
        table = timed
    _show(
        table,
        ["scenario", "label", "snapshots", "t_screen_s", "t_build_s", "t_solve_s", "t_certify_s",
         "t_solver_path_s", "speedup_solver_path", "objective", "objective_rel_diff", "screened",
         "full_lp_solves", "peak_memory_mb", "load_avg_before", "error"],
        "investment screening on/off (hourly)",
    )
    return table


def study_crosscheck(scenarios: list[str], args: argparse.Namespace) -> pd.DataFrame:
    rows = []
    for name in scenarios:
        for spec in args.crosscheck_time:
            print(f"[crosscheck] {name} {spec} ...", flush=True)
            case = {"kind": "crosscheck", "scenario": name, "label": spec, "time": _parse_time(spec),
                    "build_only": args.build_only}
            rows.append(run_case(case, args.timeout))
    table = pd.DataFrame(rows)
    _show(
        table,
        ["scenario", "label", "snapshots", "variables_linopy", "variables_pyomo", "build_linopy_s",
         "build_pyomo_s", "peak_memory_linopy_mb", "solve_linopy_s",
         "solve_pyomo_s", "objective_pypsa", "objective_pyomo", "rel_diff", "ok", "peak_memory_mb",
         "load_avg_before", "error"],
        "linopy vs Pyomo (same network, same HiGHS options with crossover)",
    )
    return table


def study_sweep(scenarios: list[str], args: argparse.Namespace) -> pd.DataFrame:
    """Uncertainty sweep on Dask: ``--sweep-samples`` of plan-2022-uncertainty on ``--sweep-workers``.

    Figures and their definitions: ``benchmarks/sweep_benchmark.py``. With
    ``--sweep-aggregation-samples N`` also the error of the share at ``--sweep-time`` against
    hourly on N samples (``--sweep-samples 0``: only that).
    """
    del scenarios
    from sweep_benchmark import study_sweep as throughput
    from sweep_benchmark import study_sweep_aggregation

    table = pd.DataFrame()
    if args.sweep_samples > 0:
        table = throughput(args)
        _show(table, list(table.columns), "Uncertainty sweep on Dask")
    if args.sweep_aggregation_samples:
        errors = study_sweep_aggregation(args)
        _show(errors, list(errors.columns), f"Share at {args.sweep_time} vs hourly")
        print(f"wrote {_write(errors, 'sweep-aggregation', args.output)}")
        if table.empty:
            return errors
    return table


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scenarios", nargs="+", help="scenario names (default: all in scenarios/)")
    parser.add_argument(
        "--study",
        nargs="+",
        choices=["e2e", "tuning", "aggregation", "screening", "crosscheck", "sweep"],
        default=["e2e"],
        help="which studies to run (default: e2e)",
    )
    parser.add_argument("--aggregation", nargs="+", default=AGGREGATION,
                        help="time resolutions for the aggregation study, e.g. resample:3 segment:876")
    parser.add_argument("--options", nargs="+", help=f"subset of tuning option sets: {', '.join(TUNING)}")
    parser.add_argument("--solver-options", type=json.loads, default=None,
                        help='HiGHS options replacing the scenario\'s (e2e, aggregation), JSON, '
                        'e.g. \'{"solver": "simplex", "threads": 2}\'')
    parser.add_argument("--tuning-time", default="hourly",
                        help="time resolution of the tuning study, e.g. resample:3 (default hourly)")
    parser.add_argument("--threads", type=int, default=2, help="HiGHS threads in the tuning study")
    parser.add_argument("--crosscheck-time", nargs="+", default=["hourly"],
                        help="time resolutions for the cross-check study")
    parser.add_argument("--build-only", action="store_true",
                        help="cross-check study: only time the two model builds (no solves)")
    parser.add_argument("--no-nonzeros", action="store_true", help="skip counting non-zeros (e2e)")
    parser.add_argument("--sweep-samples", type=int, default=32,
                        help="samples of the sweep study (0: only --sweep-aggregation-samples)")
    parser.add_argument("--sweep-workers", type=int, default=2, help="Dask workers of the sweep study")
    parser.add_argument("--sweep-time", default="segment:876", help="time resolution of the sweep study")
    parser.add_argument("--sweep-rebuild", action="store_true",
                        help="sweep study: build every sample's LP (no in-place re-solve)")
    parser.add_argument("--sweep-aggregation-samples", type=int, default=0,
                        help="sweep study: also solve N samples hourly, error of the share [pp]")
    parser.add_argument("--timeout", type=float, default=1800, help="per case [s]")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args.child)
        return 0
    scenarios = args.scenarios or shipped_scenarios()
    load = os.getloadavg()[0]
    print(f"benchmarks on {os.cpu_count()} CPUs, load average {load:.2f}; scenarios {scenarios}")
    studies = {"e2e": study_e2e, "tuning": study_tuning, "aggregation": study_aggregation,
               "screening": study_screening, "crosscheck": study_crosscheck, "sweep": study_sweep}
    failed = False
    for study in args.study:
        table = studies[study](scenarios, args)
        path = _write(table, study, args.output)
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        failed |= "error" in table.columns and table["error"].notna().any()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
