"""Command line: ``energy-model {validate,run,report,compare,crosscheck}``.

The only module that orchestrates the stages, configures logging and chooses exit codes:
0 ok, 1 unexpected error, 2 bad input, 3 infeasible or non-optimal.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_model.exceptions import EnergyModelError, InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

logger = logging.getLogger("energy_model.cli")

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_INFEASIBLE = 0, 1, 2, 3
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(verbosity: int) -> None:
    """Console logging: warnings by default, ``-v`` info, ``-vv`` debug; ``-q`` errors only."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    root.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    handler.setLevel(level)
    for noisy in ("pypsa", "matplotlib", "fontTools", "PIL", "h5py", "numexpr"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # linopy logs a multi-line status block on every non-optimal solve; the engine reports
    # that itself in one line (InfeasibleError), so keep linopy to errors.
    logging.getLogger("linopy").setLevel(max(level, logging.ERROR))


def _project_root(scenario_path: Path, override: str | None) -> Path:
    if override:
        return Path(override).resolve()
    return scenario_path.resolve().parent.parent


def _results_root(project_root: Path, override: str | None) -> Path:
    return Path(override).resolve() if override else project_root / "results"


def _input_paths(scenario_path: Path, network_dir: Path, project_root: Path) -> list[Path]:
    """Every file a run reads: the scenario, its network folder and the project's data tables."""
    paths = [scenario_path, network_dir]
    data = project_root / "data"
    if data.is_dir():
        paths.append(data)
    return paths


def _prepare(scenario_path: Path, project_root: Path) -> tuple[Any, Any, Path]:
    """Load and validate scenario + network, apply the scenario. Returns (sc, n, network_dir)."""
    from energy_model.network import apply_scenario, load_network  # noqa: PLC0415
    from energy_model.scenario import load_scenario, resolve_project_path  # noqa: PLC0415

    sc = load_scenario(scenario_path)
    network_dir = resolve_project_path(scenario_path, sc.network)
    if not network_dir.is_dir():
        msg = f"network folder '{sc.network}' does not exist"
        raise InputError(msg, file=scenario_path, key="network")
    n = load_network(network_dir, sc.allow_custom_columns)
    n.meta["hourly_snapshots"] = [str(s) for s in n.snapshots]
    apply_scenario(n, sc, file=scenario_path)
    return sc, n, network_dir


def run_scenario(scenario_path: Path, project_root: Path, results_root: Path) -> Path:
    """Run one scenario end to end into ``results_root/<name>/`` and return that folder."""
    from energy_model import results  # noqa: PLC0415
    from energy_model.accounting import compute_verdicts  # noqa: PLC0415
    from energy_model.analysis.metrics import compute_metrics  # noqa: PLC0415
    from energy_model.checks import check_shares  # noqa: PLC0415
    from energy_model.optimization.solve import solve_scenario  # noqa: PLC0415
    from energy_model.records import (  # noqa: PLC0415
        RUN_FILE,
        RunRecord,
        SolverRecord,
        Timings,
        Verdict,
        write_run_record,
    )
    from energy_model.scenario import scenario_to_yaml  # noqa: PLC0415

    timer = results.StageTimer()
    mark = time.perf_counter()
    sc, n, network_dir = _prepare(scenario_path, project_root)
    mark = timer.lap("load_and_validate", mark)
    results.recover_interrupted(results_root, sc.name)
    tmp = results.temporary_dir(results_root, sc.name)
    handler = logging.FileHandler(tmp / results.LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        logger.info("scenario %s: network %s, %d snapshots", sc.name, network_dir, len(n.snapshots))
        result = solve_scenario(n, sc, project_root, log_file=tmp / "solver.log")
        for stage, seconds in result.timings.items():
            timer.timings[stage] = round(seconds, 4)
        mark = time.perf_counter()
        metrics = compute_metrics(n, sc, result, project_root)
        check_shares(metrics, sc)
        verdicts = compute_verdicts(metrics, sc)
        mark = timer.lap("metrics", mark)
        (tmp / results.SCENARIO_FILE).write_text(scenario_to_yaml(sc), encoding="utf-8")
        results.write_metrics(tmp / results.METRICS_FILE, metrics)
        verdicts.to_csv(tmp / results.VERDICT_FILE, index=False, float_format="%.10g")
        hourly = n.meta.pop("hourly_snapshots", None)
        n.export_to_netcdf(tmp / results.NETWORK_FILE)
        _write_temperature(n, hourly, project_root, tmp)
        mark = timer.lap("write", mark)
        solver_options = dict(result.solver_options)
        if "log_file" in solver_options:  # the temporary folder is renamed: record it bundle-relative
            solver_options["log_file"] = "solver.log"
        record = RunRecord(
            scenario=sc.name,
            status="ok",
            condition=result.condition,
            objective=result.objective,
            objective_unit="CNY/yr",
            duals=result.duals,
            lp_size=result.lp_size,
            solver=SolverRecord(name=sc.solver.name, options=solver_options),
            screening=result.screening,
            mix_iterations=result.mix_iterations,
            snapshots=len(n.snapshots),
            versions=results.package_versions(),
            git_commit=results.git_commit(project_root),
            input_checksums=results.input_checksums(
                _input_paths(scenario_path, network_dir, project_root), project_root
            ),
            verdicts=[Verdict.model_validate(v) for v in verdicts.to_dict(orient="records")],
            timings_s=Timings(**timer.timings),
        )
        write_run_record(tmp / RUN_FILE, record)
        _render_bundle(tmp, network=n)
        timer.lap("report", mark)
        record = record.model_copy(
            update={"timings_s": Timings(**timer.timings, total=round(timer.total(), 4))}
        )
        write_run_record(tmp / RUN_FILE, record)
    except BaseException:
        logging.getLogger().removeHandler(handler)
        handler.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logging.getLogger().removeHandler(handler)
    handler.close()
    final = results.publish(tmp, results_root, sc.name)
    logger.info("wrote %s", final)
    return final


def _write_temperature(n: Any, hourly: list[str] | None, project_root: Path, folder: Path) -> None:
    """Save the zone temperatures behind the heat demand (for the heat-vs-temperature figure).

    Only for networks with heat buses and the project's heating data; the series is an input,
    copied into the bundle so that the report never needs the data folder.
    """
    import pandas as pd  # noqa: PLC0415

    data_dir = project_root / "data"
    if hourly is None or not (n.buses.carrier == "heat").any() or not (data_dir / "heating").is_dir():
        return
    from energy_model import heating  # noqa: PLC0415

    params = heating.load_heating_parameters(data_dir)
    raw, _ = heating.compute_zone_temperatures(data_dir, params, pd.DatetimeIndex(hourly))
    pd.DataFrame(raw).rename_axis("snapshot").to_csv(folder / "temperature.csv", float_format="%.3f")


def _render_bundle(result_dir: Path, network: Any = None) -> None:
    """Figures and the scenario page of one result folder.

    ``network`` is the solved network just saved in the folder (saves re-reading network.nc).
    """
    from energy_model.report.rendering import render_scenario_figures  # noqa: PLC0415
    from energy_model.site import write_scenario_page  # noqa: PLC0415

    render_scenario_figures(result_dir, network=network)
    write_scenario_page(result_dir)


def _print_table(title: str, table: pd.DataFrame) -> None:
    sys.stdout.write(f"\n{title}\n")
    if table.empty:
        sys.stdout.write("(none)\n")
        return
    sys.stdout.write(table.to_string(index=False) + "\n")


#: Columns of the console verdict table (``robust_detail`` is printed below the table).
VERDICT_DISPLAY_COLUMNS = (
    "scenario", "target", "variant", "target_share", "achieved_share", "margin_pp", "status",
    "robust_status",
)


def _verdict_display(verdicts: pd.DataFrame) -> pd.DataFrame:
    shown = verdicts[[c for c in VERDICT_DISPLAY_COLUMNS if c in verdicts.columns]].copy()
    for column in ("target_share", "achieved_share"):
        if column in shown.columns:
            shown[column] = (100 * shown[column].astype(float)).map("{:.1f} %".format)
    if "margin_pp" in shown.columns:
        shown["margin_pp"] = shown["margin_pp"].astype(float).map("{:+.1f} pp".format)
    return shown


def _print_verdict_details(verdicts: pd.DataFrame) -> None:
    """One line per target whose verdict depends on the accounting rule."""
    if "robust_detail" not in verdicts.columns:
        return
    for _, row in verdicts.iterrows():
        detail = str(row.get("robust_detail") or "")
        if detail and detail != "nan":
            sys.stdout.write(f"  {row['scenario']} / {row['target']}: {detail}\n")


# --------------------------------------------------------------------------------------
# Subcommands


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate scenario files and network folders; warn about stale results."""
    from energy_model import results  # noqa: PLC0415
    from energy_model.network import load_network  # noqa: PLC0415

    paths = [Path(p) for p in args.paths] or sorted(Path("scenarios").glob("*.yaml"))
    if not paths:
        msg = "nothing to validate: give scenario files or network folders"
        raise InputError(msg, file=Path.cwd())
    for path in paths:
        if path.is_dir():
            load_network(path)
            sys.stdout.write(f"ok  {path} (network)\n")
            continue
        project_root = _project_root(path, args.project_root)
        sc, _n, _ = _prepare(path, project_root)
        sys.stdout.write(f"ok  {path}\n")
        result_dir = _results_root(project_root, args.results) / sc.name
        if results.is_complete(result_dir):
            changed = results.stale_inputs(result_dir, project_root)
            if changed:
                logger.warning(
                    "result %s is stale: %d input(s) changed since it was computed, e.g. %s",
                    result_dir, len(changed), changed[0],
                )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run one or more scenarios."""
    import pandas as pd  # noqa: PLC0415

    verdicts = []
    for scenario in args.scenarios:
        path = Path(scenario)
        project_root = _project_root(path, args.project_root)
        results_root = _results_root(project_root, args.results)
        final = run_scenario(path, project_root, results_root)
        sys.stdout.write(f"wrote {final}\n")
        verdicts.append(pd.read_csv(final / "verdict.csv", keep_default_na=False))
    if verdicts:
        _print_table("Renewable-share verdict", _verdict_display(pd.concat(verdicts)))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render figures and HTML from saved results, without solving."""
    from energy_model import results  # noqa: PLC0415

    results_root = Path(args.results or "results").resolve()
    dirs = sorted(d for d in results_root.iterdir() if d.is_dir() and results.is_complete(d)) \
        if results_root.is_dir() else []
    for result_dir in dirs:
        _render_bundle(result_dir)
        sys.stdout.write(f"rendered {result_dir}\n")
    return _compare(results_root, dirs)


def cmd_compare(args: argparse.Namespace) -> int:
    """Table across scenarios: verdicts and key metrics; writes results/summary.csv."""
    from energy_model import results  # noqa: PLC0415

    results_root = Path(args.results or "results").resolve()
    dirs = sorted(d for d in results_root.iterdir() if d.is_dir() and results.is_complete(d)) \
        if results_root.is_dir() else []
    return _compare(results_root, dirs)


def _compare(results_root: Path, dirs: list[Path]) -> int:
    import pandas as pd  # noqa: PLC0415

    from energy_model import results  # noqa: PLC0415
    from energy_model.records import read_run_record  # noqa: PLC0415

    if not dirs:
        sys.stdout.write(f"no complete results under {results_root}\n")
        return EXIT_OK
    summary_rows = []
    verdicts = []
    for result_dir in dirs:
        metrics = pd.read_csv(result_dir / results.METRICS_FILE, keep_default_na=False)
        record = read_run_record(result_dir)
        totals = metrics[metrics.variant.eq("") & metrics.bus.eq("") & metrics.carrier.eq("")]
        entry = {"scenario": result_dir.name, "objective_cny_per_yr": record.objective}
        for _, item in totals.iterrows():
            entry[f"{item.metric} [{item.unit}]"] = item.value
        summary_rows.append(entry)
        verdicts.append(pd.read_csv(result_dir / results.VERDICT_FILE, keep_default_na=False))
    summary = pd.DataFrame(summary_rows)
    summary.to_csv(results_root / "summary.csv", index=False, float_format="%.10g")
    verdict = pd.concat(verdicts, ignore_index=True)
    verdict.to_csv(results_root / "verdicts.csv", index=False, float_format="%.10g")
    from energy_model.report.rendering import render_comparison  # noqa: PLC0415
    from energy_model.site import write_site_index  # noqa: PLC0415

    render_comparison(results_root, dirs)
    index = write_site_index(results_root)
    _print_table("Renewable-share verdict (all scenarios)", _verdict_display(verdict))
    _print_verdict_details(verdict)
    sys.stdout.write(f"\nsummary: {results_root / 'summary.csv'}\nsite: {index}\n")
    return EXIT_OK


def cmd_crosscheck(args: argparse.Namespace) -> int:
    """Solve the scenario with PyPSA/linopy and with the independent Pyomo LP; compare."""
    from energy_model.analysis.crosscheck import run_crosscheck  # noqa: PLC0415

    path = Path(args.scenario)
    project_root = _project_root(path, args.project_root)
    sc, n, _ = _prepare(path, project_root)
    outcome = run_crosscheck(n, sc, project_root)
    sys.stdout.write(f"{outcome.summary()}\n")
    return EXIT_OK if getattr(outcome, "ok", False) else EXIT_ERROR


def cmd_sweep(args: argparse.Namespace) -> int:
    """Uncertainty sweep on Dask: solve every sample, then probabilities, sensitivities, page."""
    import os  # noqa: PLC0415

    from energy_model.sweeps.analysis import analyse, summary_paragraph  # noqa: PLC0415
    from energy_model.sweeps.page import write_page  # noqa: PLC0415
    from energy_model.sweeps.runner import run_sweep  # noqa: PLC0415
    from energy_model.sweeps.spec import (  # noqa: PLC0415
        load_sweep,
        override_sweep,
        parse_time_option,
        project_root_of,
    )

    path = Path(args.spec)
    sweep, base = load_sweep(path)
    if args.samples is not None and args.samples < 1:
        raise InputError("--samples must be a positive integer", key="--samples")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be a positive integer", key="--workers")
    time_option = parse_time_option(args.time) if args.time else None
    sweep = override_sweep(sweep, samples=args.samples, time=time_option)
    out = Path(args.out).resolve() if args.out else project_root_of(path) / "results" / "sweeps" / sweep.name
    outcome = run_sweep(
        sweep, base, path, out, workers=args.workers or os.cpu_count() or 1, scheduler=args.scheduler
    )
    analysis = analyse(sweep, outcome.design, outcome.records)
    summary = summary_paragraph(sweep, analysis)
    index = write_page(sweep, analysis, out, summary)
    sys.stdout.write(
        f"solved {len(outcome.solved)} sample(s), {len(outcome.skipped)} already in the store, "
        f"in {outcome.wall_s:.1f} s\n{summary}\npage: {index}\n"
    )
    if analysis.status_counts.get("ok", 0) == 0:
        msg = f"sweep '{sweep.name}': no sample solved (statuses {analysis.status_counts}); see {out}"
        raise EnergyModelError(msg)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``energy-model``."""
    parser = argparse.ArgumentParser(
        prog="energy-model",
        description="Zhangjiakou renewable scenario engine: PyPSA + HiGHS, renewable-share verdicts.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--results", help="results folder (default: <project>/results)")
        p.add_argument("--project-root", help="project folder (default: parent of scenarios/)")

    p = sub.add_parser("validate", help="validate scenario files and network folders")
    p.add_argument(
        "paths", nargs="*", help="scenario YAML files or network folders (default: scenarios/*.yaml)"
    )
    common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="solve scenarios and write results/<scenario>/")
    p.add_argument("scenarios", nargs="+", help="scenario YAML files")
    common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="re-render figures and HTML from saved results")
    common(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="table across scenarios; writes results/summary.csv")
    common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("crosscheck", help="compare PyPSA's optimum with an independent Pyomo LP")
    p.add_argument("scenario", help="scenario YAML file")
    common(p)
    p.set_defaults(func=cmd_crosscheck)

    p = sub.add_parser("sweep", help="uncertainty sweep of a scenario on Dask (sweeps/<name>.yaml)")
    p.add_argument("spec", help="sweep YAML file")
    p.add_argument("--samples", type=int, help="model-run budget (default: the file's 'samples')")
    p.add_argument("--time", help="time resolution METHOD:VALUE, e.g. segment:876, resample:3, hourly")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPU count)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--out", help="output folder (default: <project>/results/sweeps/<name>/)")
    p.set_defaults(func=cmd_sweep)
    return parser


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    del frame
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``energy-model`` and ``python -m energy_model``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(-1 if args.quiet else args.verbose)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return int(args.func(args))
    except EnergyModelError as err:
        if args.debug:
            traceback.print_exc()
        kind = "error" if err.exit_code != EXIT_INFEASIBLE else "infeasible"
        sys.stderr.write(f"{kind}: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: no result was changed\n")
        return 130
    except Exception as err:  # noqa: BLE001 - last resort: one line, exit 1
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(
            f"unexpected error: {type(err).__name__}: {' '.join(str(err).split())} "
            "(re-run with --debug for the traceback)\n"
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
