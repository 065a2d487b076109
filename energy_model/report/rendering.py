"""Writing the figure files, with worker processes when the machine has the CPUs.

Entry points: :func:`render_scenario_figures` (``results/<scenario>/figures/``) and
:func:`render_comparison` (``results/comparison/``). Every figure is built and saved inside the
report theme (:func:`~energy_model.report.style.report_theme`), which is undone afterwards: the
process's matplotlib settings are the same after rendering as before.

Files are reproducible: rendering the same results twice, in this process or in a worker,
gives byte-identical PNG and SVG files (no dates in the metadata, fixed SVG hash salt, the
layout solved once at the PNG resolution).

Parallel rendering
------------------
With more than one worker (:func:`render_with_workers`) this process renders figures from the
front of the page while a :class:`concurrent.futures.ProcessPoolExecutor` of helper processes
renders from the back, each helper taking a figure only once it is ready (:class:`FigureQueue`).
The helpers are started with the ``spawn`` method. Spawn rather than fork: a helper inherits
nothing from the caller (no solver model, no open files, no locks held by the caller's
threads), so rendering behaves the same whatever the caller has done and on every operating
system. Spawn rather than forkserver: forkserver saves only the interpreter start unless it
preloads the plotting modules, and its preload list is process-wide state. A spawned helper
pays for importing the plotting stack and reading the results itself
(:func:`render_scenario_job` reads the folder once per helper, which lives for one render
call): about 6 s for a full year, most of what the caller needs for all figures of a scenario.
Helpers are therefore used by default only on machines with :data:`PARALLEL_MIN_CPUS` CPUs and
for full-year results (:data:`PARALLEL_MIN_SNAPSHOTS`), never for the quick comparison figures.

The log records of a helper are sent back with its figures and logged here after this
process's own figures, which all come before the helpers' in page order, so the log reads the
same as with one process. A helper copies the caller's logger levels and warning filters and
otherwise leaves logging alone. Scripts that call the entry points with several workers need
the usual ``if __name__ == "__main__":`` guard of the ``spawn`` method.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import pickle
import re
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from energy_model.report.catalog import (
    OMITTED_SUFFIX,
    MissingDataError,
    comparison_figure_names,
    scenario_figure_names,
)
from energy_model.report.comparison import (
    comparison_figure_builders,
    load_comparison_data,
    write_comparison_tables,
)
from energy_model.report.figures import scenario_figure_builders
from energy_model.report.scenario_results import ScenarioResults, load_scenario_results
from energy_model.report.style import report_theme

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from concurrent.futures import Future
    from multiprocessing.context import BaseContext

    import pypsa
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Figure formats written for every figure.
FORMATS = ("png", "svg")
#: Resolution of PNG files [dots per inch].
PNG_DPI = 150
#: Most processes (this one and helpers) that render the figures of one scenario at once.
#: Fewer are used on machines with fewer CPUs.
MAX_WORKERS = 4
#: Fewest CPUs for which helper processes are used by default. A helper spends about 6 s (on a
#: full year, 2 CPUs) importing the plotting stack and reading ``network.nc`` before it draws,
#: about two thirds of the time the caller needs for all figures of a scenario: with two CPUs
#: helpers cost more than they save (see ``docs/report.md``).
PARALLEL_MIN_CPUS = 4
#: Fewest snapshots for which helper processes are used by default: a helper needs a few
#: seconds to start and read the results; the figures of a full year (8760 snapshots) take
#: about ten, those of a few days far less.
PARALLEL_MIN_SNAPSHOTS = 2000
#: Logger whose records workers collect and send back (the whole package).
PACKAGE_LOGGER = "energy_model"


# ---------------------------------------------------------------------------------------------
# one figure
# ---------------------------------------------------------------------------------------------


def write_figure(fig: Figure, folder: Path, name: str) -> list[Path]:
    """Save a figure as ``<name>.png`` and ``<name>.svg`` in ``folder`` and release it.

    Saved inside the report theme, so the SVG element ids are stable wherever it is called.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        with report_theme():
            _freeze_layout(fig)
            for fmt in FORMATS:
                path = folder / f"{name}.{fmt}"
                fig.savefig(path, dpi=PNG_DPI if fmt == "png" else None, metadata=_metadata(fmt))
                paths.append(path)
    finally:
        fig.clear()
    return paths


def _freeze_layout(fig: Figure) -> None:
    """Solve the figure's constrained layout once, at the PNG resolution, and keep it fixed.

    With a layout engine set, ``savefig`` makes a dry-run draw of the whole figure before
    every file to solve the layout; solving it here once and removing the engine saves that
    draw for the PNG and for the SVG. The layout is the one the PNG save would compute.
    """
    engine = fig.get_layout_engine()
    if engine is None:
        return
    dpi = fig.dpi
    try:
        fig.dpi = PNG_DPI
        engine.execute(fig)
    finally:
        fig.dpi = dpi
    fig.set_layout_engine(None)


def _metadata(fmt: str) -> dict[str, str | None]:
    """File metadata without dates, so re-rendering the same results gives the same files."""
    if fmt == "svg":
        return {"Date": None}
    return {"Software": "energy_model"}


def _remove_files(folder: Path, name: str) -> None:
    """Remove the files of a figure that is not drawn this time (stale from an earlier render)."""
    for fmt in FORMATS:
        (folder / f"{name}.{fmt}").unlink(missing_ok=True)
    (folder / f"{name}{OMITTED_SUFFIX}").unlink(missing_ok=True)




def render_figure(folder: Path, name: str, build: Callable[[], Figure]) -> list[Path]:
    """Build one figure in the report theme and save it, or log why it is skipped.

    A figure without data (:class:`MissingDataError`) is skipped with a note; any other error
    while building is logged as a warning with its traceback (a figure must never lose a
    solved run). The files of a skipped figure are removed. Errors while saving (e.g. a full
    disk) are raised.
    """
    with report_theme():
        try:
            fig = build()
        except MissingDataError as err:
            logger.info("figure '%s' skipped: %s", name, err)
            _remove_files(folder, name)
            (folder / f"{name}{OMITTED_SUFFIX}").write_text(f"{err}\n", encoding="utf-8")
            return []
        except Exception:
            logger.warning("figure '%s' failed and is left out", name, exc_info=True)
            _remove_files(folder, name)
            return []
        paths = write_figure(fig, folder, name)
        (folder / f"{name}{OMITTED_SUFFIX}").unlink(missing_ok=True)
        return paths


# ---------------------------------------------------------------------------------------------
# worker processes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureOutcome:
    """What a worker reports for one figure: files written, log records made, error raised."""

    name: str
    paths: list[Path]
    records: list[logging.LogRecord]
    #: An error that escaped the figure (e.g. while saving); the caller raises it.
    error: BaseException | None = None


class FigureQueue:
    """The figures of one render call, shared by the caller and its worker processes.

    The caller takes figures from the front (page order), workers from the back, each figure
    once. A worker takes a figure only when it is ready, so a worker that is slow to start
    holds up nothing, and the caller's figures always come before the workers' in page order
    (which keeps the log in page order). Shared through the workers' initializer, as
    :mod:`multiprocessing` requires for synchronised objects.
    """

    def __init__(self, context: BaseContext, size: int) -> None:
        self._bounds = context.Array("i", [0, size - 1])  # next index from the front, from the back

    def _take(self, from_front: bool) -> int | None:
        with self._bounds.get_lock():
            front, back = self._bounds[0], self._bounds[1]
            if front > back:
                return None
            if from_front:
                self._bounds[0] = front + 1
                return front
            self._bounds[1] = back - 1
            return back

    def take_front(self) -> int | None:
        """Index of the next figure for the caller, ``None`` when all are taken."""
        return self._take(from_front=True)

    def take_back(self) -> int | None:
        """Index of the next figure for a worker, ``None`` when all are taken."""
        return self._take(from_front=False)

    def is_empty(self) -> bool:
        """Whether every figure is taken."""
        with self._bounds.get_lock():
            return bool(self._bounds[0] > self._bounds[1])

    def take_all(self) -> None:
        """Leave nothing more to take (the workers stop after their current figure)."""
        with self._bounds.get_lock():
            self._bounds[0] = self._bounds[1] + 1

    def taken_by_workers(self, size: int) -> range:
        """Indices the workers took (the back of ``range(size)``); call when all are taken."""
        return range(self._bounds[1] + 1, size)


class _RecordCollector(logging.Handler):
    """Keeps the log records of a worker process (made picklable) to send them to the caller."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        """The records collected since the last call."""
        records, self.records = self.records, []
        return records


#: State of a worker process, set by :func:`_init_worker` (never in the calling process): the
#: collector attached to the ``energy_model`` logger and the queue of the render call.
_WORKER_RECORDS = _RecordCollector()
_WORKER_QUEUE: FigureQueue | None = None


def _portable_warning_filters() -> list[tuple[Any, ...]]:
    """The caller's warning filters that can be sent to a worker (picklable ones)."""
    portable = []
    for entry in warnings.filters:
        try:
            pickle.dumps(entry)
        except Exception:  # noqa: BLE001 - e.g. a category class defined in a function
            continue
        portable.append(entry)
    return portable


def _filter_pattern(value: re.Pattern[str] | str | None) -> str:
    """The regular expression of a warning filter's message or module ("" = any).

    Filters made by :func:`warnings.filterwarnings` hold compiled expressions; the
    interpreter's default filters hold plain text that must match exactly.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return re.escape(value) + r"\Z"
    return value.pattern


def _logger_levels() -> dict[str, int]:
    """Levels of the caller's loggers for a worker: every level set explicitly (e.g. ``pypsa``
    quietened by the command line) and the effective level of ``energy_model``."""
    levels = {
        name: item.level
        for name, item in logging.Logger.manager.loggerDict.items()
        if isinstance(item, logging.Logger) and item.level != logging.NOTSET
    }
    levels.setdefault(PACKAGE_LOGGER, logging.getLogger(PACKAGE_LOGGER).getEffectiveLevel())
    return levels


def _init_worker(
    logger_levels: dict[str, int], warning_filters: list[tuple[Any, ...]], queue: FigureQueue
) -> None:
    """Set up a fresh worker process like the caller: its logger levels and warning filters
    (e.g. ``error::FutureWarning`` of the tests). Records of ``energy_model`` are collected for
    the caller instead of being emitted here."""
    global _WORKER_QUEUE  # noqa: PLW0603 - the worker process's own state
    _WORKER_QUEUE = queue
    for name, level in logger_levels.items():
        logging.getLogger(name).setLevel(level)
    package = logging.getLogger(PACKAGE_LOGGER)
    package.addHandler(_WORKER_RECORDS)
    package.propagate = False
    warnings.resetwarnings()
    for action, message, category, module, lineno in warning_filters:
        warnings.filterwarnings(
            action, _filter_pattern(message), category, _filter_pattern(module), lineno, append=True
        )


def _picklable(err: BaseException, name: str) -> BaseException:
    """``err`` if it can be sent to the caller, else a :class:`RuntimeError` naming it."""
    try:
        pickle.dumps(err)
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled
        return RuntimeError(f"figure '{name}': {type(err).__name__}: {err}")
    return err


def render_taken_figures(
    folder: Path, names: Sequence[str], builders: Callable[[], dict[str, Callable[[], Figure]]]
) -> list[FigureOutcome]:
    """Render the figures of ``names`` a worker takes from the queue, until none is left.

    The results are read (``builders()``) before the first figure is taken, so a worker takes
    a figure only when it is ready to draw it; a worker that finds every figure taken reads
    nothing. Without a queue (called outside a worker) every figure of ``names`` is rendered.
    Stops at the first error that escapes a figure and reports it with that figure.
    """
    if _WORKER_QUEUE is None:
        indices: Iterator[int] = iter(range(len(names)))
    elif _WORKER_QUEUE.is_empty():
        return []
    else:
        indices = iter(_WORKER_QUEUE.take_back, None)
    figure_builders = builders()
    outcomes = []
    _WORKER_RECORDS.take()  # notes of reading the results: the caller logged them already
    for index in indices:
        name = names[index]
        try:
            paths = render_figure(folder, name, figure_builders[name])
        except Exception as err:  # noqa: BLE001 - handed to the caller, which raises it
            outcomes.append(FigureOutcome(name, [], _WORKER_RECORDS.take(), _picklable(err, name)))
            break
        outcomes.append(FigureOutcome(name, paths, _WORKER_RECORDS.take()))
    return outcomes


@functools.lru_cache(maxsize=1)
def _scenario_builders_in_worker(result_dir: Path) -> dict[str, Callable[[], Figure]]:
    """The figure builders of a result folder, read once per worker process."""
    return scenario_figure_builders(load_scenario_results(result_dir))


def render_scenario_job(result_dir: Path, names: Sequence[str]) -> list[FigureOutcome]:
    """Worker job: render figures of ``names`` of the scenario result folder ``result_dir``.

    Module-level with picklable arguments, so it runs in a spawned process. Reads the folder
    itself, once per worker process (a worker lives for one render call) and only if figures
    are left when the worker is up, and writes into ``<result_dir>/figures``.
    """
    result_dir = Path(result_dir)
    return render_taken_figures(
        result_dir / "figures", names, lambda: _scenario_builders_in_worker(result_dir)
    )


@functools.lru_cache(maxsize=1)
def _comparison_builders_in_worker(scenario_dirs: tuple[Path, ...]) -> dict[str, Callable[[], Figure]]:
    """The comparison figure builders of the scenario folders, read once per worker process."""
    return comparison_figure_builders(load_comparison_data(scenario_dirs))


def render_comparison_job(
    scenario_dirs: tuple[Path, ...], folder: Path, names: Sequence[str]
) -> list[FigureOutcome]:
    """Worker job: render comparison figures of ``names`` of ``scenario_dirs`` into ``folder``."""
    dirs = tuple(Path(d) for d in scenario_dirs)
    return render_taken_figures(Path(folder), names, lambda: _comparison_builders_in_worker(dirs))


def worker_count(jobs: int, workers: int | None) -> int:
    """Processes to use, this one included, one per job at most: the request, or by default
    one per CPU up to :data:`MAX_WORKERS` when the machine has :data:`PARALLEL_MIN_CPUS`."""
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(MAX_WORKERS, cpus) if cpus >= PARALLEL_MIN_CPUS else 1
    return max(1, min(workers, jobs))


def _collect(futures: Iterable[Future[list[FigureOutcome]]]) -> tuple[dict[str, FigureOutcome], bool]:
    """Outcomes of the worker jobs by figure, and whether a worker died (broken pool)."""
    outcomes: dict[str, FigureOutcome] = {}
    broken = False
    for future in futures:
        try:
            outcomes.update((outcome.name, outcome) for outcome in future.result())
        except BrokenProcessPool:
            broken = True
    return outcomes, broken


def render_with_workers(
    names: Sequence[str],
    render_here: Callable[[str], list[Path]],
    job: Callable[[Sequence[str]], list[FigureOutcome]],
    workers: int,
) -> dict[str, list[Path]]:
    """Render the figures ``names`` in this process and in ``workers - 1`` spawned workers.

    This process renders from the front of ``names`` with ``render_here`` and logs as it
    goes; the workers run ``job`` (e.g. a :func:`functools.partial` of
    :func:`render_scenario_job`), which takes figures from the back while any are left. Their
    log records are logged here afterwards, so the whole log is in page order. Figures of a
    worker that died are rendered here, with a warning.

    Parameters
    ----------
    names
        Figures to render, in page order.
    render_here
        Renders one figure in this process and returns its files.
    job
        Picklable callable run once per worker with ``names``.
    workers
        Processes, this one included (≥ 2).

    Returns
    -------
    dict
        Figure name -> files written.

    Raises
    ------
    Exception
        The first error that escaped a figure in a worker (e.g. while saving), after every
        figure is done and the log records are logged.
    """
    context = multiprocessing.get_context("spawn")
    queue = FigureQueue(context, len(names))
    done: dict[str, list[Path]] = {}
    with ProcessPoolExecutor(
        max_workers=workers - 1,
        mp_context=context,
        initializer=_init_worker,
        initargs=(_logger_levels(), _portable_warning_filters(), queue),
    ) as pool:
        futures = [pool.submit(job, tuple(names)) for _ in range(workers - 1)]
        try:
            for index in iter(queue.take_front, None):
                done[names[index]] = render_here(names[index])
        finally:
            queue.take_all()  # on an error here: the workers stop after their current figure
        outcomes, broken = _collect(futures)
    failure = None
    for name in names:
        outcome = outcomes.get(name)
        if outcome is None:
            continue
        for record in outcome.records:
            logging.getLogger(record.name).handle(record)
        done[name] = outcome.paths
        failure = failure or outcome.error
    if failure is not None:
        raise failure
    lost = [names[i] for i in queue.taken_by_workers(len(names)) if names[i] not in outcomes]
    if lost:
        logger.warning(
            "figures %s were not delivered by a worker process%s; rendered here",
            lost,
            " (it died)" if broken else "",
        )
        done.update({name: render_here(name) for name in lost})
    return done


# ---------------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------------


def _helpers_pay_off(results: ScenarioResults, network: pypsa.Network | None) -> bool:
    """Whether helper processes are worth starting for the figures of a scenario by default.

    Not without ``network.nc`` (only the quick figures from ``metrics.csv``), nor for fewer
    than :data:`PARALLEL_MIN_SNAPSHOTS` snapshots (from the network, else ``run.json``).
    """
    if network is None and results.network_path is None:
        return False
    snapshots = (
        len(network.snapshots)
        if network is not None
        else (results.run.snapshots if results.run is not None else None)
    )
    return not isinstance(snapshots, int) or snapshots >= PARALLEL_MIN_SNAPSHOTS


def render_scenario_figures(
    result_dir: Path, network: pypsa.Network | None = None, workers: int | None = None
) -> list[Path]:
    """Render every figure of one scenario into ``<result_dir>/figures/`` (PNG and SVG).

    Parameters
    ----------
    result_dir
        A scenario result folder (``metrics.csv``, ``network.nc``, ``scenario.yaml`` …).
    network
        The solved network that was just written to ``network.nc``, to save re-reading it
        (≈ 5 s for a full year) in this process; ``None`` reads ``network.nc``. Worker
        processes read ``network.nc`` themselves. Only its data is used.
    workers
        Processes that render the figures, this one included (:func:`render_with_workers`);
        ``None`` = one per CPU, up to :data:`MAX_WORKERS`, when helpers pay off (a
        ``network.nc`` of at least :data:`PARALLEL_MIN_SNAPSHOTS` snapshots), else only this
        one; ``1`` = all in this process. The files are the same either way.

    Returns
    -------
    list of pathlib.Path
        The files written, in page order. Figures without data are skipped with a logged note.
    """
    result_dir = Path(result_dir)
    results = load_scenario_results(result_dir)
    if network is not None:
        results.loaded_network = network
    folder = result_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    if network is None and results.network_path is None:
        logger.info("%s: no network.nc; only figures from metrics.csv are drawn", result_dir)
    names = scenario_figure_names()
    count = worker_count(len(names), workers)
    if network is not None and results.network_path is None:
        count = 1  # the network exists only in this process
    elif workers is None and not _helpers_pay_off(results, network):
        count = 1
    builders = functools.cache(lambda: scenario_figure_builders(results))

    def render_here(name: str) -> list[Path]:
        return render_figure(folder, name, builders()[name])

    if count == 1:
        done = {name: render_here(name) for name in names}
    else:
        done = render_with_workers(
            names, render_here, functools.partial(render_scenario_job, result_dir), count
        )
    written = [path for name in names for path in done[name]]
    logger.info("%s: %d figure files written", results.name, len(written))
    return written


def render_comparison(
    results_root: Path, scenario_dirs: Sequence[Path], workers: int | None = None
) -> list[Path]:
    """Render the cross-scenario figures and tables into ``<results_root>/comparison/``.

    Parameters
    ----------
    results_root
        The ``results/`` folder.
    scenario_dirs
        Scenario result folders to compare (in display order).
    workers
        Processes that render the figures, this one included; ``None`` or ``1`` = all in this
        process (the comparison figures take less time to draw than a worker takes to start).

    Returns
    -------
    list of pathlib.Path
        The tables ``metrics.csv`` and ``verdicts.csv`` and the figures (PNG, SVG) written.
    """
    folder = Path(results_root) / "comparison"
    folder.mkdir(parents=True, exist_ok=True)
    dirs = tuple(Path(d) for d in scenario_dirs)
    data = load_comparison_data(dirs)
    written = write_comparison_tables(folder, data)
    names = comparison_figure_names()
    count = 1 if workers is None else worker_count(len(names), workers)
    builders = functools.cache(lambda: comparison_figure_builders(data))

    def render_here(name: str) -> list[Path]:
        return render_figure(folder, name, builders()[name])

    if count == 1:
        done = {name: render_here(name) for name in names}
    else:
        done = render_with_workers(
            names, render_here, functools.partial(render_comparison_job, dirs, folder), count
        )
    written += [path for name in names for path in done[name]]
    logger.info("comparison of %d scenarios: %d files written", len(data.scenarios), len(written))
    return written


__all__ = [
    "FORMATS",
    "MAX_WORKERS",
    "PNG_DPI",
    "FigureOutcome",
    "FigureQueue",
    "render_comparison",
    "render_comparison_job",
    "render_figure",
    "render_scenario_figures",
    "render_scenario_job",
    "render_taken_figures",
    "render_with_workers",
    "worker_count",
    "write_figure",
]
