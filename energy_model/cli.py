"""Command line: ``energy-model {validate,run,report,compare,crosscheck}``.

The only module that orchestrates the stages, configures logging and chooses exit codes:
0 ok, 1 unexpected error, 2 bad input, 3 infeasible or non-optimal.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_model.exceptions import EnergyModelError, InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pandas as pd

logger = logging.getLogger("energy_model.cli")

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_INFEASIBLE = 0, 1, 2, 3
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to the *current* ``sys.stderr`` (the live progress line redirects it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        del value


def configure_logging(verbosity: int) -> None:
    """Console logging: warnings by default, ``-v`` info, ``-vv`` debug; ``-q`` errors only."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    root.handlers.clear()
    handler = _StderrHandler()
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
    """Load and validate scenario + network, apply the scenario. Returns (sc, n, network_dir).

    A relative ``network:`` is taken from ``project_root`` (``--project-root``, by default the
    parent of the scenario's folder). With a snapshot window,
    :func:`energy_model.network.window_share` gives the window's share of the year (see
    :func:`scale_to_window`); ``sc`` is as written.
    """
    from energy_model.network import apply_scenario, load_network  # noqa: PLC0415
    from energy_model.optimization.model import validate_solver_options  # noqa: PLC0415
    from energy_model.scenario import load_scenario  # noqa: PLC0415

    scenario_path = scenario_path.resolve()
    sc = load_scenario(scenario_path)
    validate_solver_options(sc.solver.options, file=scenario_path)
    network_dir = Path(sc.network)
    if not network_dir.is_absolute():
        network_dir = (project_root / network_dir).resolve()
    if not network_dir.is_dir():
        msg = f"network folder '{sc.network}' does not exist (looked for {network_dir})"
        raise InputError(msg, file=scenario_path, key="network")
    n = load_network(network_dir, sc.allow_custom_columns)
    n.meta["hourly_snapshots"] = [str(s) for s in n.snapshots]
    apply_scenario(n, sc, file=scenario_path)
    return sc, n, network_dir


def scale_to_window(sc: Any, share: float) -> Any:
    """The scenario with its annual quantities scaled to a snapshot window's share of the year.

    .. math:: E'_c = s \\, E_c, \\qquad s = \\sum_{t \\in W} w_t \\big/ \\sum_{t \\in Y} w_t

    ==========  ==========================================================  =====
    symbol      meaning                                                     unit
    ==========  ==========================================================  =====
    :math:`E_c` ``export_contracts[c].min_energy_twh``: annual contract      TWh
    :math:`w_t` snapshot weighting of the network (``generators`` column)    h
    :math:`W`   snapshots of the window; :math:`Y` every snapshot of the
                network (its year)                                          –
    :math:`s`   share of the year the window covers                         –
    ==========  ==========================================================  =====

    Export contracts are the scenario's annual totals (demand is given hour by hour, so a
    window takes its own hours); the year's non-modelled final energy is scaled by the
    accounting (:func:`energy_model.accounting.scaled_final_energy_table`; the network's annual
    energy limits are not, see :func:`energy_model.network.apply_snapshot_window`). The
    scaled scenario is used for the solve and the accounting (the green-contract rule counts
    the contracted volume); the result folder keeps the scenario as written and ``run.json``
    records ``window_share_of_year``.
    """
    if share >= 1.0 or not sc.export_contracts:
        return sc
    contracts = [
        c.model_copy(update={"min_energy_twh": c.min_energy_twh * share}) for c in sc.export_contracts
    ]
    for before, after in zip(sc.export_contracts, contracts, strict=True):
        logger.info(
            "snapshot window covers %.2f %% of the year: export contract %s scaled from %.4g to "
            "%.4g TWh",
            100 * share, before.name, before.min_energy_twh, after.min_energy_twh,
        )
    return sc.model_copy(update={"export_contracts": contracts})


def _no_stage(stage: str) -> None:
    del stage


def run_scenario(
    scenario_path: Path,
    project_root: Path,
    results_root: Path,
    on_stage: Callable[[str], None] = _no_stage,
) -> Path:
    """Run one scenario end to end into ``results_root/<name>/`` and return that folder.

    ``on_stage`` is called with the name of each stage as it starts (the progress line).
    """
    from energy_model import results  # noqa: PLC0415
    from energy_model.accounting import compute_verdicts  # noqa: PLC0415
    from energy_model.analysis.metrics import compute_metrics  # noqa: PLC0415
    from energy_model.checks import check_shares  # noqa: PLC0415
    from energy_model.network import window_share  # noqa: PLC0415
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
    run_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    on_stage("loading")
    sc, n, network_dir = _prepare(scenario_path, project_root)
    mark = timer.lap("load_and_validate", mark)
    lock = results.ScenarioLock(results_root, sc.name).acquire()
    results.recover_interrupted(results_root, sc.name)
    tmp = results.temporary_dir(results_root, sc.name)
    handler = logging.FileHandler(tmp / results.LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        logger.info("scenario %s: network %s, %d snapshots", sc.name, network_dir, len(n.snapshots))
        share = window_share(n)
        solved_sc = scale_to_window(sc, share)
        on_stage("solving")
        result = solve_scenario(n, solved_sc, project_root, log_file=tmp / "solver.log")
        for stage, seconds in result.timings.items():
            timer.timings[stage] = round(seconds, 4)
        mark = time.perf_counter()
        on_stage("metrics")
        metrics = compute_metrics(n, solved_sc, result, project_root)
        check_shares(metrics, solved_sc)
        verdicts = compute_verdicts(metrics, solved_sc)
        mark = timer.lap("metrics", mark)
        on_stage("writing")
        (tmp / results.SCENARIO_FILE).write_text(scenario_to_yaml(sc), encoding="utf-8")
        results.write_metrics(tmp / results.METRICS_FILE, metrics)
        verdicts.to_csv(tmp / results.VERDICT_FILE, index=False, float_format="%.10g")
        hourly = n.meta.pop("hourly_snapshots", None)
        n.export_to_netcdf(tmp / results.NETWORK_FILE)
        _write_temperature(n, hourly, project_root, tmp)
        mark = timer.lap("write", mark)
        solver_options = dict(result.solver_options)  # file options already bundle-relative
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
            window_share_of_year=round(share, 6),
            run_date=run_date,
            versions=results.package_versions(),
            git_commit=results.git_commit(project_root),
            input_checksums=results.input_checksums(
                _input_paths(scenario_path, network_dir, project_root), project_root
            ),
            verdicts=[Verdict.model_validate(v) for v in verdicts.to_dict(orient="records")],
            timings_s=Timings(**timer.timings),
        )
        write_run_record(tmp / RUN_FILE, record)
        on_stage("figures")
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
        lock.release()
        raise
    logging.getLogger().removeHandler(handler)
    handler.close()
    try:
        final = results.publish(tmp, results_root, sc.name)
    finally:
        lock.release()
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


class ScenarioProgress:
    """The console line of each scenario.

    On a terminal (``live``): a spinner with the scenario's current stage and elapsed time on
    stderr, replaced by a one-line result when the scenario ends. Elsewhere (a log file, CI, ``make``
    output piped on): only the one-line result. ``show=False`` prints nothing (``-q``,
    ``--json``).
    """

    def __init__(self, *, live: bool, show: bool) -> None:
        self.live = live and show
        self.show = show
        self._progress: Any = None
        self._task: Any = None
        self._name = ""
        self._start = 0.0

    def __enter__(self) -> ScenarioProgress:
        if self.live:
            from rich.console import Console  # noqa: PLC0415
            from rich.progress import (  # noqa: PLC0415
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True, highlight=False),
                transient=True,
                redirect_stdout=False,
                redirect_stderr=True,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, name: str) -> None:
        """A scenario starts."""
        self._name = name
        self._start = time.perf_counter()
        if self._progress is not None:
            self._task = self._progress.add_task(f"{name}: loading", total=None)

    def stage(self, stage: str) -> None:
        """The running scenario enters ``stage``."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"{self._name}: {stage}")

    def elapsed(self) -> float:
        """Seconds since the running scenario started."""
        return time.perf_counter() - self._start

    def finish(self, line: str | None) -> None:
        """The running scenario ended; print its one-line result (``None``: print nothing)."""
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None
        if not self.show or line is None:
            return
        if self._progress is not None:
            self._progress.console.print(line, markup=False)
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()


def _error_kind(err: BaseException) -> str:
    """``bad input`` / ``infeasible`` / ``error`` / ``unexpected error`` for a summary line."""
    if isinstance(err, EnergyModelError):
        return {EXIT_INPUT: "bad input", EXIT_INFEASIBLE: "infeasible"}.get(err.exit_code, "error")
    return "unexpected error"


def _error_text(err: BaseException) -> str:
    """One line for an error (type name added for unexpected ones)."""
    text = " ".join(str(err).split())
    return text if isinstance(err, EnergyModelError) else f"{type(err).__name__}: {text}"


def _exit_code(err: BaseException) -> int:
    return err.exit_code if isinstance(err, EnergyModelError) else EXIT_ERROR


def _finish_batch(what: str, failures: list[dict[str, Any]], total: int) -> int:
    """Print the summary of failed items of a batch to stderr; return the batch's exit code.

    The exit code is the failures' common code (2 bad input, 3 infeasible), else 1.
    """
    if not failures:
        return EXIT_OK
    listed = ", ".join(f"{f['name']} ({f['kind']})" for f in failures)
    sys.stderr.write(f"{len(failures)} of {total} {what} failed: {listed}\n")
    codes = {int(f["exit_code"]) for f in failures}
    return codes.pop() if len(codes) == 1 else EXIT_ERROR


def _write_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _live(args: argparse.Namespace) -> bool:
    """Whether to draw the live progress line: stderr is a terminal, not ``-q``/``--json``.

    The line is drawn on stderr: while HiGHS runs, the process's stdout is sent to the solver
    log (:func:`energy_model.optimization.model.run_highs`).
    """
    return not args.quiet and not getattr(args, "json", False) and sys.stderr.isatty()


def _validate_one(path: Path, args: argparse.Namespace) -> str:
    """Validate one scenario file or network folder; return the ``ok`` line."""
    from energy_model import results  # noqa: PLC0415
    from energy_model.network import load_network  # noqa: PLC0415
    from energy_model.scenario import is_pathway_file  # noqa: PLC0415

    if path.is_dir():
        load_network(path.resolve())
        return f"ok  {path} (network)"
    if is_pathway_file(path):
        from energy_model.pathway.spec import load_pathway_spec  # noqa: PLC0415

        load_pathway_spec(path.resolve())
        return f"ok  {path} (pathway)"
    project_root = _project_root(path, args.project_root)
    sc, _n, _ = _prepare(path, project_root)
    result_dir = _results_root(project_root, args.results) / sc.name
    if results.is_complete(result_dir):
        changed = results.stale_inputs(result_dir, project_root)
        if changed:
            logger.warning(
                "result %s is stale: %d input(s) changed since it was computed, e.g. %s",
                result_dir, len(changed), changed[0],
            )
    return f"ok  {path}"


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate scenario files and network folders; warn about stale results.

    Every path is checked; the ones that fail are listed at the end (exit code of the failures).
    """
    if args.paths:
        paths = [Path(p) for p in args.paths]
    else:
        scenarios_dir = (Path(args.project_root) if args.project_root else Path.cwd()) / "scenarios"
        paths = sorted(scenarios_dir.resolve().glob("*.yaml"))
        if not paths:
            msg = f"nothing to validate: no scenario files in {scenarios_dir.resolve()}"
            raise InputError(msg, file=scenarios_dir.resolve())
    outcomes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for path in paths:
        try:
            line = _validate_one(path, args)
        except Exception as err:
            if len(paths) == 1 and not args.json:
                raise
            failure = {"name": str(path), "kind": _error_kind(err), "exit_code": _exit_code(err)}
            failures.append(failure)
            outcomes.append({"path": str(path.resolve()), "ok": False, "error": _error_text(err)})
            sys.stderr.write(f"{failure['kind']}: {_error_text(err)}\n")
            continue
        outcomes.append({"path": str(path.resolve()), "ok": True, "error": ""})
        if not args.json and not args.quiet:
            sys.stdout.write(line + "\n")
    if args.json:
        _write_json({"validated": outcomes, "failed": len(failures)})
    return _finish_batch("inputs", failures, len(paths))


def cmd_run(args: argparse.Namespace) -> int:
    """Run one or more scenarios; all are run, the failed ones are listed at the end.

    A pathway spec (``kind: pathway``) among them is run by the pathway runner (docs/pathway.md).
    """
    import pandas as pd  # noqa: PLC0415

    from energy_model.pathway.runner import run_pathway  # noqa: PLC0415
    from energy_model.scenario import is_pathway_file  # noqa: PLC0415

    verdicts = []
    outcomes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    single = len(args.scenarios) == 1 and not args.json
    with ScenarioProgress(live=_live(args), show=not (args.quiet or args.json)) as progress:
        for scenario in args.scenarios:
            path = Path(scenario)
            progress.start(path.stem)
            try:
                project_root = _project_root(path, args.project_root)
                results_root = _results_root(project_root, args.results)
                if is_pathway_file(path):  # kind: pathway (docs/pathway.md)
                    final = run_pathway(path, results_root, project_root)
                else:
                    final = run_scenario(path, project_root, results_root, progress.stage)
            except Exception as err:
                progress.finish(None)
                if single:
                    raise
                failure = {"name": path.stem, "kind": _error_kind(err), "exit_code": _exit_code(err)}
                failures.append(failure)
                outcomes.append(
                    {"scenario": path.stem, "file": str(path.resolve()), "status": "failed",
                     "exit_code": failure["exit_code"], "error": _error_text(err),
                     "seconds": round(progress.elapsed(), 1)}
                )
                sys.stderr.write(f"{failure['kind']}: {_error_text(err)}\n")
                continue
            if not (final / "verdict.csv").is_file():  # a pathway: its page, no verdict row
                outcomes.append({"scenario": final.name, "file": str(path.resolve()), "status": "ok",
                                 "result_dir": str(final), "seconds": round(progress.elapsed(), 1),
                                 "kind": "pathway"})
                progress.finish(f"done  {final.name} (pathway)  {progress.elapsed():.0f} s  {final}")
                continue
            frame = pd.read_csv(final / "verdict.csv", keep_default_na=False)
            verdicts.append(frame)
            outcomes.append(
                {"scenario": final.name, "file": str(path.resolve()), "status": "ok",
                 "result_dir": str(final), "seconds": round(progress.elapsed(), 1),
                 "verdicts": frame.to_dict(orient="records")}
            )
            progress.finish(f"done  {final.name}  {progress.elapsed():.0f} s  {final}")
    if args.json:
        _write_json({"runs": outcomes, "failed": len(failures)})
    elif verdicts and not args.no_table:
        _print_table("Renewable-share verdict", _verdict_display(pd.concat(verdicts)))
    return _finish_batch("scenarios", failures, len(args.scenarios))


def _complete_dirs(results_root: Path) -> list[Path]:
    """Complete scenario folders under ``results_root`` (sorted)."""
    from energy_model import results  # noqa: PLC0415

    if not results_root.is_dir():
        return []
    return sorted(d for d in results_root.iterdir() if d.is_dir() and results.is_complete(d))


def _results_root_of(args: argparse.Namespace) -> Path:
    """``--results``, else ``<--project-root>/results``, else ``./results`` (absolute)."""
    return _results_root(_site_project_root(args), args.results)


def _site_project_root(args: argparse.Namespace) -> Path:
    """Project folder of ``report``/``compare``: ``--project-root``, else the current folder."""
    return Path(args.project_root).resolve() if args.project_root else Path.cwd()


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render figures and HTML from saved results, without solving."""
    results_root = _results_root_of(args)
    dirs = _complete_dirs(results_root)
    for result_dir in dirs:
        _render_bundle(result_dir)
        if not args.quiet:
            sys.stdout.write(f"rendered {result_dir}\n")
    project_root = _site_project_root(args)
    return _compare(
        results_root,
        dirs,
        as_json=False,
        docs_dir=project_root / "docs",
        observed_dir=project_root / "data" / "observed",
    )


def cmd_compare(args: argparse.Namespace) -> int:
    """Table across scenarios: verdicts and key metrics; writes results/summary.csv."""
    results_root = _results_root_of(args)
    docs_dir = _site_project_root(args) / "docs"
    return _compare(
        results_root,
        _complete_dirs(results_root),
        as_json=args.json,
        docs_dir=docs_dir,
        observed_dir=_site_project_root(args) / "data" / "observed",
    )


def _compare(
    results_root: Path,
    dirs: list[Path],
    *,
    as_json: bool,
    docs_dir: Path | None = None,
    observed_dir: Path | None = None,
) -> int:
    import pandas as pd  # noqa: PLC0415

    from energy_model import results  # noqa: PLC0415
    from energy_model.records import read_run_record  # noqa: PLC0415

    if not dirs:
        if as_json:
            _write_json({"results": str(results_root), "verdicts": [], "summary": None, "site": None})
        else:
            where = "" if results_root.is_dir() else " (the folder does not exist)"
            sys.stdout.write(f"no complete results under {results_root}{where}\n")
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

    render_comparison(results_root, dirs)
    if observed_dir is not None:
        from energy_model.report.validation import write_validation_page  # noqa: PLC0415

        write_validation_page(results_root, observed_dir, dirs)
    index = _write_site_index(results_root, docs_dir)
    if as_json:
        _write_json(
            {"results": str(results_root), "verdicts": verdict.to_dict(orient="records"),
             "summary": str(results_root / "summary.csv"), "site": str(index)}
        )
        return EXIT_OK
    _print_table("Renewable-share verdict (all scenarios)", _verdict_display(verdict))
    _print_verdict_details(verdict)
    sys.stdout.write(f"\nsummary: {results_root / 'summary.csv'}\nsite: {index}\n")
    return EXIT_OK


def cmd_crosscheck(args: argparse.Namespace) -> int:
    """Solve the scenario with PyPSA/linopy and with the independent Pyomo LP; compare."""
    from energy_model.analysis.crosscheck import run_crosscheck  # noqa: PLC0415
    from energy_model.network import window_share  # noqa: PLC0415

    path = Path(args.scenario)
    project_root = _project_root(path, args.project_root)
    sc, n, _ = _prepare(path, project_root)
    outcome = run_crosscheck(n, scale_to_window(sc, window_share(n)), project_root)
    folder = _results_root(project_root, args.results) / "crosscheck"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sc.name}.txt").write_text(f"{outcome.summary()}\n", encoding="utf-8")
    sys.stdout.write(f"wrote {folder / f'{sc.name}.txt'}\n{outcome.summary()}\n")
    return EXIT_OK if getattr(outcome, "ok", False) else EXIT_ERROR


def _write_site_index(results_root: Path, docs_dir: Path | None) -> Path:
    """Rewrite ``results/index.html`` (with the project's ``docs/`` when it exists)."""
    from energy_model.site import write_site_index  # noqa: PLC0415

    return write_site_index(results_root, docs_dir if docs_dir is not None and docs_dir.is_dir() else None)


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
    folder = sweep.name
    if args.sampler is not None and args.sampler != sweep.sampler:
        folder = f"{sweep.name}-{args.sampler}"  # another design: a store of its own
    sweep = override_sweep(sweep, samples=args.samples, time=time_option, sampler=args.sampler)
    project_root = project_root_of(path)
    if args.project_root is not None and Path(args.project_root).resolve() != project_root:
        msg = (f"a sweep's project is the folder above its sweeps/ folder ({project_root}); "
               "--project-root cannot change it")
        raise InputError(msg, key="--project-root")
    results_root = _results_root(project_root, args.results)
    out = Path(args.out).resolve() if args.out else results_root / "sweeps" / folder
    outcome = run_sweep(
        sweep, base, path, out, workers=args.workers or os.cpu_count() or 1, scheduler=args.scheduler
    )
    analysis = analyse(sweep, outcome.design, outcome.records)
    summary = summary_paragraph(sweep, analysis)
    index = write_page(sweep, analysis, out, summary)
    if not args.out:  # the page sits in the results folder: its site links it from now on
        _write_site_index(results_root, project_root / "docs")
    sys.stdout.write(
        f"solved {len(outcome.solved)} sample(s), {len(outcome.skipped)} already in the store, "
        f"in {outcome.wall_s:.1f} s\n{summary}\npage: {index}\n"
    )
    if analysis.status_counts.get("ok", 0) == 0:
        msg = f"sweep '{sweep.name}': no sample solved (statuses {analysis.status_counts}); see {out}"
        raise EnergyModelError(msg)
    return EXIT_OK


def cmd_pathway(args: argparse.Namespace) -> int:
    """Least-cost pathway over investment periods (docs/pathway.md): solve and write the bundle."""
    from energy_model.pathway.runner import run_pathway  # noqa: PLC0415

    spec = Path(args.spec)
    project_root = _project_root(spec, args.project_root)
    results_root = _results_root(project_root, args.results)
    folder = run_pathway(spec, results_root, project_root)
    _write_site_index(results_root, project_root / "docs")
    sys.stdout.write(f"pathway written to {folder} (page: {folder / 'index.html'})\n")
    return EXIT_OK


#: Example shown at the end of each subcommand's ``--help``.
EXAMPLES: dict[str, str] = {
    "": "  energy-model run scenarios/plan-2022.yaml\n"
    "  energy-model compare -v\n"
    "  energy-model SUBCOMMAND --help",
    "validate": "  energy-model validate scenarios/*.yaml\n"
    "  energy-model validate networks/zhangjiakou --json",
    "run": "  energy-model run scenarios/plan-2022.yaml\n"
    "  energy-model run scenarios/*.yaml --results /data/results -v\n"
    "  energy-model run scenarios/plan-2022.yaml --json > run.json",
    "report": "  energy-model report --results results",
    "compare": "  energy-model compare\n  energy-model compare --results results --json",
    "crosscheck": "  energy-model crosscheck scenarios/plan-2022.yaml",
    "sweep": "  energy-model sweep sweeps/plan-2022-uncertainty.yaml --samples 64 --time segment:876",
    "pathway": "  energy-model pathway scenarios/pathway-2035.yaml --results results\n"
    "  energy-model run scenarios/pathway-2035.yaml   (the same: kind: pathway)",
}


def _version_text() -> str:
    """``energy-model X (pypsa …, linopy …, highspy …, python …)`` without importing them."""
    from importlib import metadata  # noqa: PLC0415

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    parts = ", ".join(f"{name} {version(name)}" for name in ("pypsa", "linopy", "highspy"))
    return f"energy-model {version('energy_model')} ({parts}, python {sys.version.split()[0]})"


def _common_options(*, with_defaults: bool, paths: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand (an argparse parent parser).

    The main parser holds the defaults; the subcommands' copies default to ``SUPPRESS`` so that
    an option given before the subcommand is not reset by the subcommand's parser.
    """

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("common options (before or after the subcommand)")
    group.add_argument(
        "-v", "--verbose", action="count", default=default(0),
        help="log progress (-v: info, -vv: debug); default: warnings only",
    )
    group.add_argument("-q", "--quiet", action="store_true", default=default(False), help="errors only")
    group.add_argument("--debug", action="store_true", default=default(False), help="show tracebacks")
    if paths:
        group.add_argument(
            "--results", default=default(None), help="results folder (default: <project>/results)"
        )
        group.add_argument(
            "--project-root", default=default(None),
            help="project folder: resolves a scenario's 'network:' and the data/ tables "
            "(default: parent of the scenario's folder; for report/compare the current folder)",
        )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``energy-model``."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="energy-model",
        description="Zhangjiakou renewable scenario engine: PyPSA + HiGHS, renewable-share verdicts.",
        epilog="examples:\n" + EXAMPLES[""],
        formatter_class=formatter,
        parents=[_common_options(with_defaults=True, paths=True)],
    )
    parser.add_argument("--version", action="version", version=_version_text())
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    with_paths = [_common_options(with_defaults=False, paths=True)]

    def add(name: str, text: str, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=text, description=text, parents=parents, formatter_class=formatter,
            epilog="example:\n" + EXAMPLES[name],
        )

    def json_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    p = add("validate", "validate scenario files and network folders", with_paths)
    p.add_argument(
        "paths", nargs="*", help="scenario YAML files or network folders (default: scenarios/*.yaml)"
    )
    json_option(p)
    p.set_defaults(func=cmd_validate)

    p = add("run", "solve scenarios (a kind: pathway file: the pathway) and write results/<name>/",
            with_paths)
    p.add_argument("scenarios", nargs="+", help="scenario YAML files (all are run)")
    json_option(p)
    p.add_argument(
        "--no-table", action="store_true",
        help="do not print the verdict table (make scenarios prints it once, at the end)",
    )
    p.set_defaults(func=cmd_run)

    p = add("report", "re-render figures and HTML from saved results", with_paths)
    p.set_defaults(func=cmd_report)

    p = add("compare", "table across scenarios; writes results/summary.csv and the site", with_paths)
    json_option(p)
    p.set_defaults(func=cmd_compare)

    p = add("crosscheck", "compare PyPSA's optimum with an independent Pyomo LP", with_paths)
    p.add_argument("scenario", help="scenario YAML file")
    p.set_defaults(func=cmd_crosscheck)

    p = add(
        "sweep", "uncertainty sweep of a scenario on Dask (sweeps/<name>.yaml)",
        [_common_options(with_defaults=False, paths=False)],
    )
    p.add_argument("spec", help="sweep YAML file")
    p.add_argument("--samples", type=int, help="model-run budget (default: the file's 'samples')")
    p.add_argument("--sampler", choices=["sobol", "morris", "lhs", "oat"],
                   help="another sampler than the file's, e.g. oat for the tornado; its output "
                   "goes to results/sweeps/<name>-<sampler>/")
    p.add_argument("--time", help="time resolution METHOD:VALUE, e.g. segment:876, resample:3, hourly")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (default: CPU count)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--out", help="output folder (default: <project>/results/sweeps/<name>/)")
    p.set_defaults(func=cmd_sweep)

    p = add("pathway", "least-cost pathway over investment periods (a kind: pathway file)", with_paths)
    p.add_argument("spec", help="pathway YAML file (scenarios/pathway-<name>.yaml, kind: pathway)")
    p.set_defaults(func=cmd_pathway)
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
    except KeyboardInterrupt as err:
        outcome = getattr(err, "outcome", "no result was changed")
        sys.stderr.write(f"interrupted: {outcome}\n")
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
