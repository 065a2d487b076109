"""What a worker does with one sample: apply it to the cached base network, solve, summarise.

Tasks carry specs (the sweep, the sample's values, paths), never networks. Each worker process
loads and prepares the base network once per (base scenario, fixed overrides, time resolution)
and keeps it in :data:`_PREPARED`; a sample works on a copy. Each worker also builds one LP,
of the design's first sample, and re-solves it in place for every sample
(:class:`energy_model.optimization.resolve.InPlaceResolver`, kept in :data:`_RESOLVERS`); a
sample it cannot map goes through the engine's ordinary path
(:func:`energy_model.optimization.solve.solve_scenario`). Metrics and verdicts come from
:func:`energy_model.analysis.metrics.compute_record_metrics` (the rows of
:func:`~energy_model.analysis.metrics.compute_metrics` a record holds, by the same functions) and
:func:`energy_model.accounting.compute_verdicts`; the result is one small flat record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from energy_model.exceptions import InfeasibleError, InputError
from energy_model.network import apply_heating_electrification as realise_heating_share
from energy_model.scenario import Override, Scenario, load_scenario, resolve_project_path, scenario_to_yaml
from energy_model.sweeps.spec import (
    CapacityFactorTarget,
    ExportContractTarget,
    FinalEnergyRowTarget,
    HeatingElectrificationTarget,
    OverrideTarget,
    ScenarioKeyTarget,
    Sweep,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pypsa

    from energy_model.optimization.resolve import InPlaceResolver
    from energy_model.optimization.solve import SolveResult

logger = logging.getLogger(__name__)

#: Metrics whose every row becomes a ``share.<metric>.<variant>`` column [%]; the variants
#: (accounting rules) are taken from the metrics as they come, never listed here.
SHARE_METRICS = ("renewable_share", "renewable_share_electricity")
#: Metrics whose total row (no variant, no bus) is kept as ``<metric>_<unit>`` (e.g.
#: ``heating_electricity_twh``, ``heating_coal_use_mtce``).
FLOW_METRICS = (
    "electricity_local_consumption",
    "renewable_generation_local",
    "electricity_exports",
    "electricity_imports",
    "network_losses",
    "heating_electricity",
    "heating_coal_use",
    "data_centre_consumption",
)
#: HiGHS threads per sample: one worker process = one core.
SOLVER_THREADS = 1
#: Prepared base networks a worker keeps (most recent first).
CACHE_SIZE = 2
#: Bisection steps of the capacity-factor rescaling (relative accuracy ~1e-12).
BISECTION_STEPS = 60

#: Sample id (scratch folder name) of the template sample of the in-place LP.
TEMPLATE_ID = "template"

#: Worker-process cache: key -> (prepared scenario, prepared network).
_PREPARED: dict[str, tuple[Scenario, pypsa.Network]] = {}
#: Worker-process cache: key -> the LP re-solved in place for the samples (``None``: not possible).
_RESOLVERS: dict[str, InPlaceResolver | None] = {}


@dataclass(frozen=True)
class SampleTask:
    """Everything a worker needs for one sample (a few kB when pickled).

    Attributes
    ----------
    sweep
        The sweep (parameters, fixed overrides, time resolution).
    sweep_file, base_file, project_root, scratch_root
        Absolute paths: the sweep file (for error messages), the base scenario, the project root
        (data tables) and the folder for per-sample scratch files (modified data tables).
    sample_id
        Content hash of the resolved inputs (:func:`compute_sample_id`).
    values
        Sampled value per parameter name, in the parameter's unit.
    template_values
        See the attribute.
    """

    sweep: Sweep
    sweep_file: str
    base_file: str
    project_root: str
    scratch_root: str
    sample_id: str
    values: dict[str, float]
    template_values: dict[str, float] | None = None
    """Values of the sample every worker builds its in-place LP from (the median case);
    ``None``: this sample's own."""
    template_fallbacks: tuple[dict[str, float], ...] = ()
    """Templates tried in this order when ``template_values`` gives no LP with a basis (e.g. an
    infeasible median case): the same list on every worker, so every worker ends on the same
    template and a sample's result does not depend on which worker solved it."""


def compute_sample_id(sweep: Sweep, base: Scenario, values: dict[str, float]) -> str:
    """Content hash (16 hex digits) of everything that determines a sample's result.

    The resolved base scenario (defaults filled in), the sweep's fixed overrides and time
    resolution, and each parameter's target with its sampled value (``repr`` of the float, so
    equal values give equal ids). The network and data files are not hashed: after changing
    them, write results to a new ``--out`` folder.
    """
    payload = {
        "base": scenario_to_yaml(base),
        "overrides": [o.model_dump(mode="json") for o in sweep.overrides],
        "time": sweep.time.model_dump(mode="json"),
        "inputs": [
            {"target": p.target.model_dump(mode="json"), "value": repr(float(values[p.name]))}
            for p in sweep.parameters
        ],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _cache_key(task: SampleTask) -> str:
    base_text = Path(task.base_file).read_bytes()
    payload = {
        "base": task.base_file,
        "base_sha256": hashlib.sha256(base_text).hexdigest(),
        "overrides": [o.model_dump(mode="json") for o in task.sweep.overrides],
        "time": task.sweep.time.model_dump(mode="json"),
    }
    return json.dumps(payload, sort_keys=True)


def prepared_base(task: SampleTask) -> tuple[Scenario, pypsa.Network, float]:
    """The base scenario and network prepared for the sweep, from this worker's cache.

    Returns ``(scenario, network, seconds spent preparing)``; the seconds are 0 on a cache hit.
    The network must not be changed: callers copy it.
    """
    from energy_model.network import apply_scenario, load_network  # noqa: PLC0415

    key = _cache_key(task)
    if key in _PREPARED:
        return (*_PREPARED[key], 0.0)
    start = time.perf_counter()
    base_file = Path(task.base_file)
    base = load_scenario(base_file)
    prepared = base.model_copy(
        update={"overrides": [*base.overrides, *task.sweep.overrides], "time": task.sweep.time}
    )
    network_dir = resolve_project_path(base_file, base.network)
    n = load_network(network_dir, base.allow_custom_columns)
    apply_scenario(n, prepared, file=base_file)
    # once here rather than per sample: copies keep the sub-networks, so writing a solution back
    # (PyPSA's post-processing) does not determine the topology again for every sample
    n.determine_network_topology()
    while len(_PREPARED) >= CACHE_SIZE:
        _RESOLVERS.pop(next(iter(_PREPARED)), None)
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = (prepared, n)
    return prepared, n, time.perf_counter() - start


def rescale_full_load_hours(n: pypsa.Network, carriers: list[str], factor: float) -> pd.Index:
    """Scale the available full-load hours of the generators of ``carriers`` by ``factor``, in place.

    Per generator g with series a_t (``p_max_pu``) and snapshot weights w_t [h]:
    a'_t = min(1, k a_t) with k chosen by bisection so that sum_t w_t a'_t = factor sum_t w_t a_t.
    A factor the clipping cannot reach (more than the hours with a_t > 0) saturates at 1.

    Returns the names of the rescaled generators.
    """
    gens = n.generators.index[n.generators["carrier"].isin(carriers)]
    series = n.generators_t.p_max_pu
    names = gens.intersection(series.columns)
    if names.empty:
        msg = f"no generator of carrier(s) {carriers} has a p_max_pu time series"
        raise InputError(msg, key="target.carrier")
    weights = n.snapshot_weightings["generators"].to_numpy(dtype=float)[:, None]
    available = series[names].to_numpy(dtype=float)
    wanted = factor * (weights * available).sum(axis=0)
    low = np.zeros(len(names))
    high = np.full(len(names), max(factor, 1.0))
    while True:  # widen until the upper bracket reaches the wanted energy (or saturates)
        reached = (weights * np.minimum(1.0, high * available)).sum(axis=0)
        short = reached < wanted * (1 - 1e-12)
        saturated = np.all(np.minimum(1.0, high * available) == (available > 0), axis=0)
        if not (short & ~saturated).any():
            break
        high = np.where(short & ~saturated, high * 2, high)
    for _ in range(BISECTION_STEPS):
        mid = (low + high) / 2
        reached = (weights * np.minimum(1.0, mid * available)).sum(axis=0)
        too_low = reached < wanted
        low = np.where(too_low, mid, low)
        high = np.where(too_low, high, mid)
    series.loc[:, names] = np.minimum(1.0, high * available)
    return names


def apply_heating_electrification(
    n: pypsa.Network, target: HeatingElectrificationTarget, share: float
) -> None:
    """Keep ``share`` of the electric heating on every heat bus an electric-heating link feeds;
    the coal back-up takes the rest, in place (:func:`energy_model.network.apply_heating_electrification`,
    the same rule as a scenario's ``heating`` section, with the target's carriers)."""
    links = n.links.index[n.links["carrier"].isin(target.electric_carriers)]
    if links.empty:
        msg = f"no link of carrier(s) {target.electric_carriers}: the network has no electric heating"
        raise InputError(msg, key="target.electric_carriers")
    realise_heating_share(
        n,
        n.links.loc[links, "bus1"].unique(),
        share,
        key="target",
        electric_carriers=target.electric_carriers,
        store_carriers=target.store_carriers,
        backup_carriers=target.backup_carriers,
    )


def _final_energy_table(
    sc: Scenario, targets: list[tuple[FinalEnergyRowTarget, float]], project_root: Path, folder: Path
) -> Path:
    """Write the sample's final-energy table (base table with the sampled rows) into ``folder``."""
    source = Path(project_root) / sc.accounting.final_energy_table
    table = pd.read_csv(source, comment="#", dtype=str, keep_default_na=False)
    for target, value in targets:
        hit = target.matches(table)
        if not hit.any():
            raise InputError(f"no row for {target.describe()}", file=source)
        old = table.loc[hit, "value_mtce"].astype(float)
        new = old * value if target.action == "scale" else pd.Series(value, index=old.index)
        table.loc[hit, "value_mtce"] = new.map(lambda v: f"{v:.10g}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "final_energy.csv"
    tmp = folder / ".final_energy.csv.tmp"
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def apply_sample(
    n: pypsa.Network, sc: Scenario, task: SampleTask
) -> Scenario:
    """Apply the sample's values to a copy-of-base network ``n`` (in place); return its scenario.

    The returned scenario carries the sampled export contracts and accounting keys, a pointer to
    the sample's final-energy table (absolute path in the scratch folder) and one HiGHS thread.
    """
    from energy_model.network import apply_override  # noqa: PLC0415

    sweep_file = Path(task.sweep_file)
    data: dict[str, Any] = sc.model_dump()
    rows: list[tuple[FinalEnergyRowTarget, float]] = []
    for i, parameter in enumerate(task.sweep.parameters):
        value = float(task.values[parameter.name])
        target = parameter.target
        key = f"parameters.{i}.target"
        if isinstance(target, OverrideTarget):
            for j, template in enumerate(target.overrides):
                action = "set" if template.set is not None else "scale"
                override = Override.model_validate({**template.model_dump(), action: value})
                apply_override(n, override, key=f"{key}.overrides.{j}", file=sweep_file)
        elif isinstance(target, HeatingElectrificationTarget):
            apply_heating_electrification(n, target, value)
        elif isinstance(target, CapacityFactorTarget):
            rescale_full_load_hours(n, target.carrier, value)
        elif isinstance(target, ExportContractTarget):
            for contract in data["export_contracts"]:
                if contract["name"] == target.contract:
                    contract["min_energy_twh"] = value
        elif isinstance(target, ScenarioKeyTarget):
            data["accounting"][target.key.split(".", 1)[1]] = value
        elif isinstance(target, FinalEnergyRowTarget):
            rows.append((target, value))
    if rows:
        folder = Path(task.scratch_root) / task.sample_id
        table = _final_energy_table(sc, rows, Path(task.project_root), folder)
        data["accounting"]["final_energy_table"] = str(table.resolve())
    data["solver"]["options"] = {**data["solver"]["options"], "threads": SOLVER_THREADS}
    return Scenario.model_validate(data)


def summarise(metrics: pd.DataFrame, verdicts: pd.DataFrame) -> dict[str, Any]:
    """Flat record columns from the metrics and verdict tables of one solved sample.

    ``share.<metric>.<variant>`` [%] for every row of :data:`SHARE_METRICS` (whatever the
    accounting rules are), per target ``achieved.<t>`` [%], ``margin.<t>`` [pp],
    ``verdict.<t>`` and ``meets.<t>``; ``capacity.<carrier>`` [MW, MWh for stores];
    ``curtailment_twh.<carrier>``; ``export_twh.<link>``; the totals of :data:`FLOW_METRICS`
    (the row without variant and bus; per-carrier rows of the same metric are not added again)
    as ``<metric>_<unit>``.
    """
    record: dict[str, Any] = {}
    shares = metrics[metrics["metric"].isin(SHARE_METRICS)]
    for item in shares.to_dict(orient="records"):
        record[f"share.{item['metric']}.{item['variant']}"] = float(item["value"])
    for item in verdicts.to_dict(orient="records"):
        target = str(item["target"])
        record[f"achieved.{target}"] = 100 * float(item["achieved_share"])
        record[f"target.{target}"] = 100 * float(item["target_share"])
        record[f"margin.{target}"] = float(item["margin_pp"])
        record[f"verdict.{target}"] = str(item["status"])
        record[f"meets.{target}"] = str(item["status"]) in ("PASS", "CALIBRATED")
    capacity = metrics[metrics["metric"] == "capacity"]
    for carrier, value in capacity.groupby("carrier")["value"].sum().items():
        record[f"capacity.{carrier}"] = float(value)
    curtailment = metrics[(metrics["metric"] == "curtailment") & (metrics["unit"] == "TWh")]
    for carrier, value in curtailment.groupby("carrier")["value"].sum().items():
        record[f"curtailment_twh.{carrier}"] = float(value)
    exports = metrics[(metrics["metric"] == "export") & (metrics["unit"] == "TWh")]
    for link, value in exports.groupby("variant")["value"].sum().items():
        record[f"export_twh.{link}"] = float(value)
    totals = metrics[
        metrics["metric"].isin(FLOW_METRICS) & metrics["variant"].eq("") & metrics["bus"].eq("")
    ]
    sums = totals.groupby(["metric", "unit"])["value"].sum()
    for metric, unit, value in zip(sums.index.get_level_values("metric"),
                                   sums.index.get_level_values("unit"), sums.to_numpy(), strict=True):
        record[f"{metric}_{str(unit).lower()}"] = float(value)
    return record


@contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Point this process's standard output (file descriptor 1) at the null device inside the block.

    HiGHS prints its banner on the first call of every new ``Highs`` object, and linopy adds the
    columns before it applies the options, so ``output_flag``/``log_to_console`` (off for sweep
    samples, :func:`energy_model.optimization.model.main_solver_options`) cannot stop it. A
    sample's model build and solve run inside this block so that sweep workers print nothing;
    Python's logging (standard error) is not affected. No solver log file is written for a
    sample.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


#: Templates a worker tries for its in-place LP (the median case, then the runner's fallbacks)
#: before every sample builds its own LP.
MAX_TEMPLATE_ATTEMPTS = 3


def solve_sample(
    n: pypsa.Network, sc: Scenario, task: SampleTask, record: dict[str, Any]
) -> SolveResult:
    """Solve one sample: in place on this worker's LP when possible, else from scratch.

    The worker's first sample of a prepared base builds the
    :class:`~energy_model.optimization.resolve.InPlaceResolver`: the LP of the template sample
    (``task.template_values``, the median case of the design), solved once for its optimal
    basis; when that LP has no basis (e.g. infeasible), ``task.template_fallbacks`` are tried in
    order (at most :data:`MAX_TEMPLATE_ATTEMPTS` templates, the same on every worker). Every
    sample then only changes the LP's numbers and re-solves from that basis, so its result does
    not depend on which samples the worker solved before. A sample the
    resolver cannot map (or ``sweep.in_place: false``) goes through
    :func:`energy_model.optimization.solve.solve_scenario`. Sets ``record``'s ``build_s``,
    ``update_s``, ``solve_s``, ``highs_s``, ``post_s`` and ``in_place``.
    """
    from energy_model.optimization.compat import solver_run_seconds  # noqa: PLC0415
    from energy_model.optimization.resolve import InPlaceResolver, NotResolvableError  # noqa: PLC0415
    from energy_model.optimization.solve import solve_scenario  # noqa: PLC0415

    project_root = Path(task.project_root)
    resolver = None
    if task.sweep.in_place:
        key = _cache_key(task)
        if key not in _RESOLVERS:
            start = time.perf_counter()
            candidates = [task.template_values, *task.template_fallbacks][:MAX_TEMPLATE_ATTEMPTS]
            _RESOLVERS[key] = None
            for attempt, values in enumerate(candidates, start=1):
                try:
                    template_n, template_sc = n, sc
                    if values is not None and values != task.values:
                        base_sc, base_n, _ = prepared_base(task)
                        template_n = base_n.copy()
                        template = replace(task, values=values, sample_id=TEMPLATE_ID)
                        template_sc = apply_sample(template_n, base_sc, template)
                    _RESOLVERS[key] = InPlaceResolver(template_n, template_sc, project_root)
                    break
                except Exception as err:  # noqa: BLE001 - without a template every sample builds its LP
                    logger.warning("sweep: no in-place re-solve from template %d of %d (%s: %s)%s",
                                   attempt, len(candidates), type(err).__name__, err,
                                   "" if attempt < len(candidates) else "; every sample builds its LP")
            record["build_s"] = time.perf_counter() - start
        resolver = _RESOLVERS.get(key)
    if resolver is not None:
        try:
            result = resolver.solve(n, sc)
        except NotResolvableError as err:
            logger.info("sample %s: solved from scratch (%s)", task.sample_id, err)
        else:
            record.update(in_place=True, update_s=result.timings["update"], solve_s=result.timings["solve"],
                          highs_s=result.timings["highs"], post_s=result.timings["post"])
            return result
    result = solve_scenario(n, sc, project_root, diagnose=False)
    record["build_s"] = float(result.timings.get("build", 0.0))
    record["solve_s"] = float(result.timings.get("solve", 0.0))
    record["highs_s"] = solver_run_seconds(n.model)
    record["post_s"] = float(result.timings.get("post", 0.0))
    return result


def run_sample(task: SampleTask) -> dict[str, Any]:
    """Solve one sample; never raises (a failure is a record with status ``infeasible``/``error``).

    Returns
    -------
    dict
        ``sample_id``, ``input.<name>`` per parameter, ``status`` (``ok``, ``infeasible`` or
        ``error``), ``message``, ``objective`` [CNY/yr], the columns of :func:`summarise`,
        ``in_place`` (re-solved in place), ``prepare_s`` (base preparation on a cache miss),
        ``build_s`` (LP build; in place: the worker's template LP, once), ``apply_s`` (copy of
        the base + the sample's values), ``update_s`` (in place: comparing the sample with the
        template and writing its numbers into the LP), ``solve_s`` (solver call: HiGHS's run and
        reading the solution back; a fresh build's solve incl. linopy's hand-over),
        ``highs_s`` (HiGHS's own run time), ``post_s`` (solution into the network, physics
        checks), ``metrics_s``, ``wall_s`` (whole task) and ``cpu_s`` (CPU time of the task's
        process; on a shared machine wall_s > cpu_s) [s], ``snapshots`` and ``worker`` (host:pid).
    """
    from energy_model.accounting import compute_verdicts  # noqa: PLC0415
    from energy_model.analysis.metrics import compute_record_metrics  # noqa: PLC0415
    from energy_model.optimization.model import quiet_linopy  # noqa: PLC0415

    start, start_cpu = time.perf_counter(), time.process_time()
    record: dict[str, Any] = {"sample_id": task.sample_id}
    for name, value in task.values.items():
        record[f"input.{name}"] = float(value)
    record.update(status="ok", message="", objective=float("nan"), prepare_s=0.0, build_s=0.0,
                  apply_s=0.0, update_s=0.0, solve_s=0.0, highs_s=float("nan"), post_s=0.0, metrics_s=0.0,
                  in_place=False, snapshots=0, worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        base_sc, base_n, record["prepare_s"] = prepared_base(task)
        start_apply = time.perf_counter()
        n = base_n.copy()
        sc = apply_sample(n, base_sc, task)
        record["apply_s"] = time.perf_counter() - start_apply
        record["snapshots"] = len(n.snapshots)
        with native_stdout_silenced(), quiet_linopy():
            result = solve_sample(n, sc, task, record)
        record["objective"] = float(result.objective)
        start_metrics = time.perf_counter()
        metrics = compute_record_metrics(n, sc, result, Path(task.project_root))
        record.update(summarise(metrics, compute_verdicts(metrics, sc)))
        record["metrics_s"] = time.perf_counter() - start_metrics
    except InfeasibleError as err:
        record.update(status="infeasible", message=str(err))
    except Exception as err:  # noqa: BLE001 - a failed sample is recorded; the sweep goes on
        record.update(status="error", message=f"{type(err).__name__}: {' '.join(str(err).split())}")
    record["wall_s"] = time.perf_counter() - start
    record["cpu_s"] = time.process_time() - start_cpu
    return record


__all__ = [
    "SHARE_METRICS",
    "SampleTask",
    "apply_sample",
    "compute_sample_id",
    "native_stdout_silenced",
    "prepared_base",
    "rescale_full_load_hours",
    "run_sample",
    "summarise",
]
