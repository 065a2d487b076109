"""Sweep studies of ``run_benchmarks.py``: throughput on Dask and the cost of the sweep's resolution.

``study_sweep``
    ``--sweep-samples`` samples (LHS) of ``sweeps/plan-2022-uncertainty.yaml`` at ``--sweep-time``
    on ``--sweep-workers`` Dask workers, into a fresh temporary folder (nothing resumed). Figures:

    * ``wall_s``: the whole ``run_sweep`` call (cluster start, every worker's base preparation and
      LP build, all samples); ``s_per_sample`` = wall_s / samples.
    * ``overhead_ratio`` = wall_s x workers / sum(``solve_s``), the issue's definition with the
      record's solver seconds ``solve_s`` (the solver call: HiGHS's run from the template's basis
      and reading the solution back; the sample's numbers are written into HiGHS before, in
      ``update_s``). ``overhead_ratio_highs`` divides
      by sum(``highs_s``) instead, HiGHS's own run time (``Highs.getRunTime()`` of that run). 1
      would mean the workers did nothing but solve. The in-place re-solve's warm start shrinks
      the denominator (a warm HiGHS run is 3-5 x shorter than a cold one) while the work around
      it stays, so a faster sweep can have a larger ratio.
    * per-sample means of the stages (``prepare_s`` once per worker, ``build_s`` the LP build,
      ``apply_s`` copy + sample values, ``update_s`` sample vs template and its numbers into the
      LP, ``solve_s``, ``highs_s``, ``post_s`` solution write-back and physics checks,
      ``metrics_s``), and ``in_place`` = samples re-solved in place; ``steady_*`` the medians
      of the stages over the in-place samples after each worker's first.
    * ``extrapolated_512_s``: labelled extrapolation to 512 samples = fixed part (wall_s minus
      the samples at the steady per-sample rate) + 512 x steady rate / workers, steady rate =
      median task wall_s of the in-place samples.
    * ``steady_task_cpu_s``, ``extrapolated_512_cpu_s``: the same from the tasks' CPU time
      (``cpu_s``), i.e. for an otherwise idle machine (cluster start not included).
    * ``load_before``/``load_after``: 1-, 5- and 15-minute load averages (the machine may be shared).

``study_sweep_aggregation``
    ``--sweep-aggregation-samples`` samples solved at ``--sweep-time`` and hourly: the error of the
    achieved renewable share [pp] per target (largest and mean absolute difference).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "sweeps" / "plan-2022-uncertainty.yaml"
#: Samples the throughput figures are extrapolated to.
EXTRAPOLATE_TO = 512


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _run(samples: int, time_option: str, workers: int, *, in_place: bool, out: Path) -> tuple[Any, float]:
    from energy_model.sweeps.runner import run_sweep
    from energy_model.sweeps.spec import load_sweep, override_sweep, parse_time_option

    sweep, base = load_sweep(SPEC)
    sweep = override_sweep(sweep, samples=samples, time=parse_time_option(time_option))
    sweep = sweep.model_copy(update={"sampler": "lhs", "in_place": in_place})
    start = time.perf_counter()
    outcome = run_sweep(sweep, base, SPEC, out, workers=workers)
    return outcome, time.perf_counter() - start


def study_sweep(args: argparse.Namespace) -> pd.DataFrame:
    """Throughput of the sweep on Dask (module docstring)."""
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        outcome, wall = _run(args.sweep_samples, args.sweep_time, args.sweep_workers,
                             in_place=not args.sweep_rebuild, out=Path(tmp) / "out")
    records = outcome.records
    workers = args.sweep_workers
    highs = float(records["highs_s"].sum())
    solve = float(records["solve_s"].sum())
    resolved = records[records["in_place"].astype(bool) & (records["build_s"] == 0)]
    steady = float(resolved["wall_s"].median()) if len(resolved) else float(records["wall_s"].median())
    fixed = max(wall - len(records) * steady / workers, 0.0)
    row: dict[str, Any] = {
        "sweep": SPEC.stem,
        "samples": len(records),
        "ok": int((records["status"] == "ok").sum()),
        "in_place": int(records["in_place"].astype(bool).sum()),
        "workers": workers,
        "time": args.sweep_time,
        "wall_s": round(wall, 1),
        "s_per_sample": round(wall / max(len(records), 1), 2),
        "sum_highs_s": round(highs, 1),
        "sum_solve_s": round(solve, 1),
        "sum_task_wall_s": round(float(records["wall_s"].sum()), 1),
        "overhead_ratio": round(wall * workers / solve, 2) if solve else float("nan"),
        "overhead_ratio_highs": round(wall * workers / highs, 2) if highs else float("nan"),
    }
    stages = ("prepare_s", "build_s", "apply_s", "update_s", "solve_s", "highs_s", "post_s", "metrics_s",
              "wall_s", "cpu_s")
    for stage in stages:
        if stage in records:
            row[f"mean_{stage}"] = round(float(records[stage].mean()), 3)
    for stage in stages[2:]:
        if stage in resolved:
            row[f"steady_{stage}"] = round(float(resolved[stage].median()), 3)
    row["steady_task_s"] = round(steady, 2)
    row[f"extrapolated_{EXTRAPOLATE_TO}_s"] = round(fixed + EXTRAPOLATE_TO * steady / workers, 0)
    # the same from CPU time: what an otherwise idle machine would take (the tasks are single-threaded)
    steady_cpu = float(resolved["cpu_s"].median()) if len(resolved) else float(records["cpu_s"].median())
    setup_cpu = float((records["cpu_s"] - steady_cpu).clip(lower=0).sum()) / workers
    row["steady_task_cpu_s"] = round(steady_cpu, 2)
    row[f"extrapolated_{EXTRAPOLATE_TO}_cpu_s"] = round(setup_cpu + EXTRAPOLATE_TO * steady_cpu / workers, 0)
    row["sum_cpu_s"] = round(float(records["cpu_s"].sum()), 1)
    row["load_before"] = load_before
    row["load_after"] = _load()
    return pd.DataFrame([row])


def study_sweep_aggregation(args: argparse.Namespace) -> pd.DataFrame:
    """Achieved share at the sweep's resolution vs hourly, on the same samples (module docstring)."""
    samples = args.sweep_aggregation_samples
    load_before = _load()
    shares = {}
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for option in (args.sweep_time, "hourly"):
            outcome, walls[option] = _run(samples, option, args.sweep_workers, in_place=True,
                                          out=Path(tmp) / option.replace(":", "_"))
            table = outcome.design.merge(outcome.records, on="sample_id", how="left")
            columns = [c for c in table.columns if c.startswith("achieved.")]
            shares[option] = table.set_index("position")[columns]
    coarse, hourly = shares[args.sweep_time], shares["hourly"]
    rows = []
    for column in coarse.columns:
        error = (coarse[column] - hourly[column]).abs()
        rows.append({
            "sweep": SPEC.stem,
            "target": column.removeprefix("achieved."),
            "samples": samples,
            "time": args.sweep_time,
            "max_abs_error_pp": round(float(error.max()), 3),
            "mean_abs_error_pp": round(float(error.mean()), 3),
            "mean_share_coarse_pct": round(float(coarse[column].mean()), 3),
            "mean_share_hourly_pct": round(float(hourly[column].mean()), 3),
            "wall_coarse_s": round(walls[args.sweep_time], 1),
            "wall_hourly_s": round(walls["hourly"], 1),
            "load_before": load_before,
            "load_after": _load(),
        })
    return pd.DataFrame(rows)
