"""Uncertainty sweeps (energy_model.sweeps): schema, designs, store, Dask runs, analysis.

The Dask runs use a one-week version of the toy network (168 hourly snapshots, aggregated to 48
segments): 50 MW export corridor with efficiency 0.9, so at most 50 x 168 x 0.9 = 7560 MWh =
0.00756 TWh can be delivered, and a sample whose contract asks for more is infeasible.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_model.cli import main
from energy_model.sweeps import store
from energy_model.sweeps.analysis import wilson_interval
from energy_model.sweeps.runner import design_table, run_sweep
from energy_model.sweeps.sampling import build_design
from energy_model.sweeps.spec import load_sweep
from energy_model.sweeps.tasks import SampleTask, rescale_full_load_hours, run_sample

TESTS = Path(__file__).parent
ROOT = TESTS.parent
TOY = TESTS / "data" / "networks" / "toy"
HOURS = 168
#: Largest deliverable export of the week [TWh]: 50 MW x 168 h x 0.9.
MAX_DELIVERY_TWH = 50 * HOURS * 0.9 / 1e6

SWEEP = """\
description: toy sweep for the tests
base: scenarios/toy-2022.yaml
sampler: lhs
samples: 8
seed: 7
time: {method: segment, segments: 48}
parameters:
  - name: demand_scale
    unit: "-"
    source: test
    distribution: {type: uniform, low: 0.8, high: 1.2}
    target: {kind: override, overrides: [{component: loads, name: [demand], attribute: p_set, scale: 1.0}]}
  - name: wind_flh
    unit: "-"
    source: test
    distribution: {type: triangular, low: 0.8, mode: 1.0, high: 1.2}
    target: {kind: capacity_factor, carrier: [onwind]}
  - name: contract
    unit: TWh/yr
    source: test
    distribution: {type: uniform, low: 0.0, high: 0.009}
    target: {kind: export_contract, contract: toy_contract}
  - name: coal_factor
    unit: kgce/kWh
    source: test
    distribution: {type: truncated_normal, mean: 0.30, sd: 0.01, low: 0.28, high: 0.32}
    target: {kind: scenario_key, key: accounting.coal_equivalent_kgce_per_kwh}
  - name: biomass
    unit: "-"
    source: "test: -1 makes the final-energy table invalid, an error sample"
    distribution: {type: choice, values: [0.5, 1.0, 1.5, -1.0]}
    target: {kind: final_energy_row, year: 2022, sector: households, fuel: biomass}
"""


def _write_project(root: Path) -> Path:
    """A project with the one-week toy network, a scenario and the sweep; returns the sweep file."""
    for folder in ("networks", "scenarios", "data", "sweeps"):
        (root / folder).mkdir(parents=True)
    network = root / "networks" / "toy"
    shutil.copytree(TOY, network)
    index = pd.date_range("2022-01-01", periods=HOURS, freq="h")
    pd.DataFrame({"snapshot": index, "objective": 1.0, "stores": 1.0, "generators": 1.0}).to_csv(
        network / "snapshots.csv"
    )
    t = np.arange(HOURS)
    wind = np.clip(0.45 + 0.35 * np.sin(2 * np.pi * t / 37) + 0.15 * np.sin(2 * np.pi * t / 7.3), 0, 1)
    pd.DataFrame({"snapshot": index, "wind": wind.round(4)}).to_csv(
        network / "generators-p_max_pu.csv", index=False
    )
    shutil.copy(TESTS / "data" / "toy_final_energy.csv", root / "data" / "final_energy.csv")
    shutil.copy(ROOT / "data" / "coal_equivalent_factor.csv", root / "data")
    (root / "scenarios" / "toy-2022.yaml").write_text(textwrap.dedent("""\
        network: networks/toy
        year: 2022
        targets:
          - {name: toy_goal, indicator: final_energy, min_share: 0.30}
        export_contracts:
          - {name: toy_contract, links: [corridor], min_energy_twh: 0.004}
        """), encoding="utf-8")
    path = root / "sweeps" / "toy-sweep.yaml"
    path.write_text(SWEEP, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def toy_sweep(tmp_path_factory) -> Path:
    return _write_project(tmp_path_factory.mktemp("sweep") / "project")


@pytest.fixture(scope="module")
def local_run(toy_sweep, tmp_path_factory):
    """The toy sweep run once through the CLI on a LocalCluster of 2 workers."""
    out = tmp_path_factory.mktemp("local") / "out"
    start = time.perf_counter()
    code = main(["sweep", str(toy_sweep), "--workers", "2", "--out", str(out)])
    assert code == 0
    return out, time.perf_counter() - start


def _expected_status(row: pd.Series) -> str:
    if row["input.contract"] > MAX_DELIVERY_TWH:
        return "infeasible"
    if row["input.biomass"] < 0:
        return "error"
    return "ok"


# --------------------------------------------------------------------------------------
# Without a cluster


def test_wilson_interval_hand_computed():
    p, low, high = wilson_interval(7, 10)
    assert p == pytest.approx(0.7)
    assert low == pytest.approx(0.3968, abs=1e-4)
    assert high == pytest.approx(0.8922, abs=1e-4)
    assert wilson_interval(0, 20)[1] == 0.0
    assert all(np.isnan(wilson_interval(0, 0)))


def test_same_seed_same_samples_other_seed_other_samples(toy_sweep):
    sweep, base = load_sweep(toy_sweep)
    first = design_table(sweep, base, build_design(sweep))
    again = design_table(sweep, base, build_design(sweep))
    pd.testing.assert_frame_equal(first, again)
    other = sweep.model_copy(update={"seed": 8})
    assert not np.allclose(build_design(other).values, build_design(sweep).values)
    # LHS: one sample per stratum of [0, 1], so the uniform demand factor has one value in
    # each eighth of [0.8, 1.2]
    strata = np.floor((first["input.demand_scale"] - 0.8) / 0.05).astype(int)
    assert sorted(strata) == list(range(8))
    # Sobol budget 64 with D = 5: N = 8 blocks of D + 2 = 7 runs
    sobol = sweep.model_copy(update={"sampler": "sobol", "samples": 64})
    assert build_design(sobol).values.shape == (56, 5)
    # OAT: median case, then low/high per parameter
    oat = build_design(sweep.model_copy(update={"sampler": "oat"})).values
    assert oat.shape == (11, 5)
    assert oat.loc[1, "demand_scale"] == pytest.approx(0.8)
    assert oat.loc[2, "demand_scale"] == pytest.approx(1.2)
    assert oat.loc[0, "demand_scale"] == pytest.approx(1.0)
    assert oat.loc[0, "biomass"] == 1.0  # median of the four equally likely values


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("distribution: {type: uniform, low: 0.8, high: 1.2}", "distribtion: {type: uniform}"),
         "parameters.0.distribtion"),
        (("{type: uniform, low: 0.8, high: 1.2}", "{type: uniform, low: 1.2, high: 0.8}"),
         "parameters.0.distribution"),
        (("contract: toy_contract", "contract: no_such_contract"), "parameters.2.target.contract"),
        (("sampler: lhs", "sampler: halton"), "sampler"),
        (("fuel: biomass", "fuel: hydrogen"), "parameters.4.target"),
        (("key: accounting.coal_equivalent_kgce_per_kwh", "key: accounting.no_such_key"),
         "parameters.3.target.key"),
    ],
)
def test_schema_errors_exit_2_naming_file_and_key(toy_sweep, tmp_path, capsys, edit, key):
    bad = toy_sweep.parent / "bad.yaml"
    text = SWEEP.replace(*edit)
    assert text != SWEEP
    bad.write_text(text, encoding="utf-8")
    try:
        assert main(["sweep", str(bad), "--out", str(tmp_path / "out")]) == 2
    finally:
        bad.unlink()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "bad.yaml" in err
    assert f"key '{key}'" in err
    assert not (tmp_path / "out").exists()


def test_bad_time_option_exits_2(toy_sweep, tmp_path, capsys):
    assert main(["sweep", str(toy_sweep), "--time", "weekly:3", "--out", str(tmp_path)]) == 2
    assert "--time" in capsys.readouterr().err


def test_capacity_factor_rescaling_hand_computed():
    from energy_model.network import load_network

    n = load_network(TOY)  # wind availability 1.0, 0.2, 0.0, 0.5: 1.7 full-load hours
    rescale_full_load_hours(n, ["onwind"], 1.2)
    # 1 + 0.2 k + 0.5 k = 2.04 -> k = 1.04 / 0.7, the first hour stays clipped at 1
    k = 1.04 / 0.7
    expected = [1.0, 0.2 * k, 0.0, 0.5 * k]
    assert n.generators_t.p_max_pu["wind"].tolist() == pytest.approx(expected, rel=1e-9)


def test_failing_sample_is_a_record_not_an_exception(toy_sweep, tmp_path):
    sweep, base = load_sweep(toy_sweep)
    project = toy_sweep.parent.parent
    task = SampleTask(
        sweep=sweep, sweep_file=str(toy_sweep), base_file=str(project / sweep.base),
        project_root=str(project), scratch_root=str(tmp_path), sample_id="bad",
        values={"demand_scale": 1.0, "wind_flh": 1.0, "contract": 0.0, "coal_factor": 1.5,
                "biomass": 1.0},
    )
    record = run_sample(task)  # coal-equivalent factor 1.5 kgce/kWh is outside (0, 1)
    assert record["status"] == "error"
    assert "coal_equivalent_kgce_per_kwh" in record["message"]
    assert record["input.coal_factor"] == 1.5


# --------------------------------------------------------------------------------------
# In-place re-solve


def _tiny_network():
    """Two buses, 4 h: fixed wind (series), fixed coal with a minimum load, extendable gas with an
    availability series, a fixed link, a fixed store, loads on both buses."""
    import pypsa

    from energy_model.network import configure_pypsa

    configure_pypsa()
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(4, name="snapshot"))
    n.add("Carrier", ["AC", "onwind", "coal", "gas", "dc", "battery"])
    n.add("Bus", ["a", "b"], carrier="AC")
    n.add("Generator", "wind", bus="a", carrier="onwind", p_nom=100.0,
          p_max_pu=pd.Series([1.0, 0.2, 0.0, 0.5]))
    n.add("Generator", "coal", bus="a", carrier="coal", p_nom=60.0, marginal_cost=30.0,
          p_min_pu=pd.Series([0.2, 0.2, 0.3, 0.3]))
    n.add("Generator", "gas", bus="b", carrier="gas", p_nom_extendable=True, capital_cost=5.0,
          marginal_cost=50.0, p_max_pu=pd.Series([0.9, 0.8, 0.9, 0.7]))
    n.add("Link", "line", bus0="a", bus1="b", carrier="dc", p_nom=40.0, efficiency=0.95, p_min_pu=-1.0)
    n.add("Store", "tank", bus="a", carrier="battery", e_nom=30.0, e_cyclic=True)
    n.add("Load", "la", bus="a", p_set=pd.Series([50.0, 70.0, 60.0, 40.0]))
    n.add("Load", "lb", bus="b", p_set=30.0)
    return n


def _tiny_sample(n, load: float, wind: float, link: float, gas: float, store: float):
    n.loads_t.p_set["la"] *= load
    n.loads.loc["lb", "p_set"] *= load
    n.generators_t.p_max_pu["wind"] *= wind
    n.generators_t.p_max_pu["gas"] *= gas
    n.links.loc["line", "p_nom"] *= link
    n.stores.loc["tank", "e_nom"] *= store


TINY_SAMPLES = [(1.0, 1.0, 1.0, 1.0, 1.0), (1.2, 0.7, 0.5, 0.9, 2.0), (0.8, 1.1, 1.3, 1.0, 0.0),
                (1.1, 0.9, 1.0, 0.8, 1.5)]


def test_in_place_resolve_gives_the_optimum_of_a_fresh_build(tmp_path):
    """Every mapped input (load, availability of fixed and extendable assets, link and store
    capacities) changed; each re-solve in place equals solving the sample's own LP."""
    from energy_model.optimization.resolve import InPlaceResolver
    from energy_model.optimization.solve import solve
    from energy_model.scenario import Scenario

    sc = Scenario(name="tiny", network="tiny", year=2022,
                  solver={"options": {"threads": 1, "solver": "simplex"}})
    template = _tiny_network()
    _tiny_sample(template, *TINY_SAMPLES[1])
    resolver = InPlaceResolver(template, sc, tmp_path)
    assert {"Load", "Generator", "Generator-ext", "Link", "Store"} <= resolver.supported
    for values in [*TINY_SAMPLES, TINY_SAMPLES[1]]:
        fresh, again = _tiny_network(), _tiny_network()
        _tiny_sample(fresh, *values)
        _tiny_sample(again, *values)
        expected = solve(fresh, sc, tmp_path, diagnose=False)
        got = resolver.solve(again, sc)
        assert got.objective == pytest.approx(expected.objective, rel=1e-9)
        # the solution is written into the sample network (and passed the physics checks)
        served = again.generators_t.p.sum().sum() + again.stores_t.p.sum().sum()
        assert served == pytest.approx(fresh.generators_t.p.sum().sum() + fresh.stores_t.p.sum().sum())
    assert resolver.solves == 5


def test_in_place_resolve_refuses_an_unmapped_change(tmp_path):
    from energy_model.optimization.resolve import InPlaceResolver, NotResolvableError
    from energy_model.scenario import Scenario

    sc = Scenario(name="tiny", network="tiny", year=2022)
    resolver = InPlaceResolver(_tiny_network(), sc, tmp_path)
    n = _tiny_network()
    n.generators.loc["coal", "marginal_cost"] = 31.0  # a cost: not mapped
    with pytest.raises(NotResolvableError, match="marginal_cost"):
        resolver.solve(n, sc)
    n = _tiny_network()
    n.generators.loc["gas", "p_nom_extendable"] = False  # structure
    with pytest.raises(NotResolvableError, match="p_nom_extendable"):
        resolver.solve(n, sc)


def test_changed_inputs_names_exactly_the_cells_that_differ():
    """Per column as ``Series.equals``: NaN equals NaN, -0.0 equals 0.0, a dtype change alone is a
    change (of no name); float, int, bool, string columns and a time series."""
    from energy_model.optimization.resolve import changed_inputs

    ref, n = _tiny_network(), _tiny_network()
    for net in (ref, n):
        net.generators.loc["wind", "capital_cost"] = np.nan
    assert changed_inputs(ref, n) == {}
    n.generators.loc["wind", "marginal_cost"] = -0.0  # equal to 0.0
    n.generators.loc["coal", "p_nom"] = 61.0
    n.generators.loc["gas", "p_nom_extendable"] = False
    n.generators.loc["coal", "up_time_before"] = 2
    n.links.loc["line", "carrier"] = "AC"
    n.stores["e_nom"] = n.stores["e_nom"].astype(object)  # same value, other dtype
    n.loads_t.p_set.loc[2, "la"] = 61.0
    changed = {key: list(names) for key, names in changed_inputs(ref, n).items()}
    assert changed == {
        ("Generator", "p_nom"): ["coal"],
        ("Generator", "p_nom_extendable"): ["gas"],
        ("Generator", "up_time_before"): ["coal"],
        ("Link", "carrier"): ["line"],
        ("Store", "e_nom"): [],
        ("Load", "p_set"): ["la"],
    }


def test_in_place_mapping_is_off_when_highs_does_not_hold_the_numbers(tmp_path):
    """The numbers go straight into the HiGHS object: a group whose HiGHS positions do not hold
    the model's numbers is not used."""
    from energy_model.optimization.compat import native_solver
    from energy_model.optimization.resolve import InPlaceResolver
    from energy_model.scenario import Scenario

    sc = Scenario(name="tiny", network="tiny", year=2022)
    resolver = InPlaceResolver(_tiny_network(), sc, tmp_path)
    assert {"Link", "Load"} <= resolver.validate()
    link = int(resolver.model.variables["Link-p"].labels.to_numpy().ravel()[0])
    native_solver(resolver.solver).changeColBounds(int(resolver.columns[link]), -1.0, 1.0)
    balance = int(resolver.model.constraints["Bus-nodal_balance"].labels.to_numpy().ravel()[0])
    native_solver(resolver.solver).changeRowBounds(int(resolver.rows[balance]), -1.0, 1.0)
    assert not {"Link", "Load"} & resolver.validate()


def _toy_task(toy_sweep, tmp_path, values, template=None):
    sweep, _ = load_sweep(toy_sweep)
    project = toy_sweep.parent.parent
    return SampleTask(
        sweep=sweep, sweep_file=str(toy_sweep), base_file=str(project / sweep.base),
        project_root=str(project), scratch_root=str(tmp_path), sample_id=f"s{hash(tuple(values.values()))}",
        values=values, template_values=template,
    )


TOY_VALUES = [
    {"demand_scale": 0.9, "wind_flh": 1.1, "contract": 0.002, "coal_factor": 0.29, "biomass": 1.0},
    {"demand_scale": 1.15, "wind_flh": 0.85, "contract": 0.006, "coal_factor": 0.31, "biomass": 1.5},
    {"demand_scale": 1.0, "wind_flh": 1.0, "contract": 0.0, "coal_factor": 0.30, "biomass": 0.5},
]


@pytest.mark.slow  # 9 toy samples, 2 template LPs (~20 s on 2 idle cores)
def test_sweep_samples_in_place_equal_rebuilt_and_do_not_depend_on_order(toy_sweep, tmp_path):
    from energy_model.sweeps import tasks

    def records(order, in_place):
        tasks._PREPARED.clear()
        tasks._RESOLVERS.clear()
        out = {}
        for i in order:
            task = _toy_task(toy_sweep, tmp_path, TOY_VALUES[i], template=TOY_VALUES[0])
            task = replace(task, sweep=task.sweep.model_copy(update={"in_place": in_place}))
            out[i] = run_sample(task)
        return out

    forward, backward, rebuilt = records([0, 1, 2], True), records([2, 1, 0], True), records([0, 1, 2], False)
    for i in range(3):
        assert forward[i]["status"] == "ok", forward[i]["message"]
        assert forward[i]["in_place"] and not rebuilt[i]["in_place"]
        results = [k for k in forward[i] if k.startswith(("share.", "margin.", "capacity.", "export_twh."))]
        # from the template's basis every time: the same solution whatever was solved before
        # (equal up to rounding in the last digits)
        for key in [*results, "objective"]:
            assert forward[i][key] == pytest.approx(backward[i][key], rel=1e-9, abs=1e-9), key
        # the optimum of the sample's own LP; the shares under other attribution rules
        # (hourly_mix, export_first) depend on the hourly dispatch, which is not unique at the
        # optimum, so a rebuilt LP may report another of the optimal dispatches
        unique = [k for k in forward[i] if k.startswith(("achieved.", "margin.", "capacity."))]
        assert unique
        for key in [*unique, "objective"]:
            assert forward[i][key] == pytest.approx(rebuilt[i][key], rel=1e-6, abs=1e-9), key


def test_lean_record_metrics_give_the_full_record(toy_sweep, tmp_path):
    """The sweep's lean metrics (compute_record_metrics) are rows of the full table, and a
    sample's record from them equals the record from compute_metrics."""
    from energy_model.accounting import compute_verdicts
    from energy_model.analysis.metrics import compute_metrics, compute_record_metrics
    from energy_model.optimization.solve import solve_scenario
    from energy_model.sweeps.tasks import apply_sample, prepared_base, summarise

    task = _toy_task(toy_sweep, tmp_path, TOY_VALUES[1])
    base_sc, base_n, _ = prepared_base(task)
    n = base_n.copy()
    sc = apply_sample(n, base_sc, task)
    result = solve_scenario(n, sc, Path(task.project_root), diagnose=False)
    full = compute_metrics(n, sc, result, Path(task.project_root))
    lean = compute_record_metrics(n, sc, result, Path(task.project_root))
    assert len(lean) < len(full)
    keys = ["metric", "variant", "carrier", "bus", "unit"]
    joined = lean.merge(full, on=keys, how="left", suffixes=("", "_full"), validate="one_to_one")
    assert joined["value_full"].notna().all()
    assert np.allclose(joined["value"], joined["value_full"], rtol=1e-12, atol=0)
    expected = summarise(full, compute_verdicts(full, sc))
    got = summarise(lean, compute_verdicts(lean, sc))
    assert set(got) == set(expected)
    assert any(k.startswith("share.") for k in got) and any(k.startswith("capacity.") for k in got)
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        else:
            assert got[key] == value, key


def test_summarise_takes_the_total_row_of_a_flow_once():
    from energy_model.sweeps.tasks import summarise
    from energy_model.tables import METRIC_COLUMNS

    metrics = pd.DataFrame(
        [
            ["heating_electricity", "", "", "", 3.0, "TWh"],  # the total
            ["heating_electricity", "", "heat_pump", "city", 1.0, "TWh"],
            ["heating_electricity", "", "electric_boiler", "city", 2.0, "TWh"],
            ["heating_coal_use", "", "", "", 0.5, "Mtce"],
            ["heating_coal_use", "", "coal_stove", "rural", 0.5, "Mtce"],
            ["electricity_local_consumption", "", "AC", "", 19.0, "TWh"],
        ],
        columns=METRIC_COLUMNS,
    )
    record = summarise(metrics, pd.DataFrame(columns=["target"]))
    assert record == {"heating_electricity_twh": 3.0, "heating_coal_use_mtce": 0.5,
                      "electricity_local_consumption_twh": 19.0}


def test_probabilities_count_infeasible_samples_as_not_meeting():
    """10 design positions: 6 solved (4 meet), 3 infeasible, 1 failed."""
    from energy_model.sweeps.analysis import SweepAnalysis, _probabilities, summary_paragraph

    status = ["ok"] * 6 + ["infeasible"] * 3 + ["error"]
    samples = pd.DataFrame({
        "position": range(10), "sample_id": [f"s{i}" for i in range(10)], "status": status,
        "meets.goal": [True] * 4 + [False] * 2 + [np.nan] * 4,
        "target.goal": [30.0] * 6 + [np.nan] * 4,
        "margin.goal": [1.0] * 4 + [-1.0] * 2 + [np.nan] * 4,
    })
    row = _probabilities(samples).iloc[0]
    assert (row["meets"], row["n"], row["feasible"], row["infeasible"], row["errors"]) == (4, 9, 6, 3, 1)
    assert (row["p"], row["low"], row["high"]) == pytest.approx(wilson_interval(4, 9))
    assert row["p"] == pytest.approx(4 / 9)
    assert (row["p_feasible"], row["low_feasible"], row["high_feasible"]) == pytest.approx(
        wilson_interval(4, 6))
    assert (row["p_infeasible"], row["low_infeasible"], row["high_infeasible"]) == pytest.approx(
        wilson_interval(3, 9))
    # Wilson 95 % of 4 in 9 by hand: centre (4/9 + z^2/18) / (1 + z^2/9), z = 1.96
    z = 1.959963984540054
    centre = (4 / 9 + z * z / 18) / (1 + z * z / 9)
    half = z * np.sqrt(4 / 9 * 5 / 9 / 9 + z * z / 324) / (1 + z * z / 9)
    assert row["low"] == pytest.approx(centre - half) and row["high"] == pytest.approx(centre + half)
    sweep, _ = load_sweep(ROOT / "sweeps" / "plan-2022-uncertainty.yaml")
    analysis = SweepAnalysis(samples=samples, probabilities=_probabilities(samples),
                             sensitivity=pd.DataFrame(columns=["output", "parameter", "measure", "value", "conf"]),
                             tornado=pd.DataFrame(), status_counts={"ok": 6, "infeasible": 3, "error": 1})
    text = summary_paragraph(sweep, analysis)
    assert "in 44 % of 9 samples (4 of 9; 95 % CI" in text
    assert "67 % of the 6 feasible samples" in text
    assert "infeasible 33 %" in text


def test_native_stdout_silenced_hides_the_highs_banner(capfd):
    import highspy

    from energy_model.sweeps.tasks import native_stdout_silenced

    def new_highs() -> None:
        h = highspy.Highs()
        h.addVars(2, np.zeros(2), np.ones(2))

    new_highs()
    assert "HiGHS" in capfd.readouterr().out  # a new Highs object prints its banner
    with native_stdout_silenced():
        new_highs()
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_store_hides_half_written_files(tmp_path):
    store.write_record(tmp_path, {"sample_id": "a", "status": "ok", "objective": 1.0})
    (tmp_path / "samples" / ".b.parquet.123.tmp").write_bytes(b"PAR1 half written")
    assert store.finished_ids(tmp_path) == {"a"}
    assert store.read_records(tmp_path)["sample_id"].tolist() == ["a"]


# --------------------------------------------------------------------------------------
# LocalCluster


@pytest.mark.slow  # shares the 8-sample LocalCluster run (~1-2 min on 2 cores)
def test_local_cluster_sweep_records_every_sample(local_run):
    out, seconds = local_run
    design = store.read_design(out)
    records = store.read_records(out)
    assert len(design) == 8
    assert set(records["sample_id"]) == set(design["sample_id"])
    merged = design.merge(records[["sample_id", "status", "message", "export_twh.corridor",
                                   "solve_s", "wall_s"]], on="sample_id")
    expected = merged.apply(_expected_status, axis=1)
    # the sweep goes on past infeasible and failing samples: every status as the inputs dictate
    assert merged["status"].tolist() == expected.tolist()
    assert {"ok", "infeasible", "error"} <= set(expected)
    ok = merged[merged["status"] == "ok"]
    # the contract is met by every solved sample
    assert (ok["export_twh.corridor"] >= design.loc[ok.index, "input.contract"] - 1e-9).all()
    assert (records["wall_s"] > 0).all()
    assert (out / "index.html").is_file()
    assert (out / "figures").is_dir()
    print(f"LocalCluster sweep of 8 samples: {seconds:.1f} s")


@pytest.mark.slow  # shares the 8-sample LocalCluster run (~1-2 min on 2 cores)
def test_shares_of_every_rule_and_the_sampled_inputs_reach_the_record(local_run):
    out, _ = local_run
    records = store.read_records(out)
    ok = records[records["status"] == "ok"]
    share_columns = [c for c in ok.columns if c.startswith("share.renewable_share.")]
    assert len(share_columns) >= 4  # valuation x attribution rule, whatever the rules are called
    assert any(c.startswith("share.renewable_share_electricity.") for c in ok.columns)
    # the sampled coal-equivalent factor changes the coal-equivalent shares, not the calorific ones
    for _, row in ok.iterrows():
        table = pd.read_csv(out / "scratch" / row["sample_id"] / "final_energy.csv")
        biomass = table.loc[table["fuel"] == "biomass", "value_mtce"].iloc[0]
        assert biomass == pytest.approx(0.00002 * row["input.biomass"])
    margin = ok["achieved.toy_goal"] - 30.0
    assert np.allclose(margin, ok["margin.toy_goal"])


@pytest.mark.slow  # shares the 8-sample LocalCluster run (~1-2 min on 2 cores)
def test_resume_solves_nothing_finished(local_run, toy_sweep):
    out, _ = local_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "samples").iterdir()}
    sweep, base = load_sweep(toy_sweep)
    outcome = run_sweep(sweep, base, toy_sweep, out, workers=1)
    assert outcome.solved == []
    assert len(outcome.skipped) == 8
    after = {p.name: p.stat().st_mtime_ns for p in (out / "samples").iterdir()}
    assert after == before


# --------------------------------------------------------------------------------------
# Slow: a killed sweep resumed, and a real scheduler and worker as separate processes


@pytest.mark.slow
def test_partial_sweep_resumes_only_missing_samples(local_run, toy_sweep, tmp_path):
    out, _ = local_run
    partial = tmp_path / "partial"
    shutil.copytree(out / "samples", partial / "samples")
    files = sorted((partial / "samples").glob("*.parquet"))
    missing = {p.stem for p in files[:3]}
    for p in files[:3]:
        p.unlink()
    (partial / "samples" / f".{files[0].name}.999.tmp").write_bytes(b"PAR1 killed mid-write")
    kept = {p.name: p.stat().st_mtime_ns for p in files[3:]}
    sweep, base = load_sweep(toy_sweep)
    outcome = run_sweep(sweep, base, toy_sweep, partial, workers=1)
    assert set(outcome.solved) == missing
    assert {p.name: p.stat().st_mtime_ns for p in files[3:]} == kept
    assert store.finished_ids(partial) == store.finished_ids(out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_external_scheduler_gives_identical_results(local_run, toy_sweep, tmp_path):
    out, _ = local_run
    dask = Path(sys.executable).with_name("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [str(dask), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
         "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        remote = tmp_path / "remote"
        assert main(["sweep", str(toy_sweep), "--scheduler", address, "--out", str(remote)]) == 0
    finally:
        for process in (worker, scheduler):
            process.terminate()
        for process in (worker, scheduler):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    local = store.read_records(out).set_index("sample_id").sort_index()
    other = store.read_records(remote).set_index("sample_id").sort_index()
    assert local.index.tolist() == other.index.tolist()
    assert local["status"].tolist() == other["status"].tolist()
    results = [c for c in local.columns if c.startswith(("share.", "margin.", "capacity.", "export_twh."))]
    results.append("objective")
    pd.testing.assert_frame_equal(local[results], other[results])


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_an_infeasible_template_falls_back_to_the_same_template_on_every_worker(toy_sweep, tmp_path):
    """A worker whose template LP is infeasible (contract above what the corridor can carry)
    takes the runner's fallbacks in order, so every worker ends on the same template whatever
    sample it meets first, and still re-solves in place."""
    from energy_model.sweeps import tasks

    infeasible = {**TOY_VALUES[0], "contract": 2 * MAX_DELIVERY_TWH}
    records = {}
    for first in (0, 1):  # two "workers" meeting the samples in opposite order
        tasks._PREPARED.clear()
        tasks._RESOLVERS.clear()
        for i in (first, 1 - first):
            task = replace(_toy_task(toy_sweep, tmp_path, TOY_VALUES[i], template=infeasible),
                           template_fallbacks=(infeasible, TOY_VALUES[2]))
            records[first, i] = run_sample(task)
            assert records[first, i]["status"] == "ok", records[first, i]["message"]
            assert records[first, i]["in_place"]
    for i in (0, 1):
        for key in [k for k in records[0, i] if k.startswith(("share.", "objective"))]:
            assert records[0, i][key] == pytest.approx(records[1, i][key], rel=1e-9, abs=1e-9), key
    # and an infeasible sample stays a record of its own
    bad = run_sample(_toy_task(toy_sweep, tmp_path, infeasible, template=infeasible))
    assert bad["status"] == "infeasible"


def test_summary_keeps_a_small_probability_visible():
    """2 meeting samples of 416 read 0.5 %, not 0 %, and the count is given."""
    from energy_model.sweeps.analysis import _pct

    assert _pct(100 * 2 / 416) == "0.5"
    assert _pct(0.0) == "0" and _pct(44.4) == "44" and _pct(9.96) == "10.0"


def test_sampler_option_overrides_the_files_sampler(toy_sweep):
    from energy_model.cli import build_parser
    from energy_model.sweeps.spec import override_sweep

    sweep, _ = load_sweep(toy_sweep)
    args = build_parser().parse_args(["sweep", str(toy_sweep), "--sampler", "oat"])
    assert args.sampler == "oat"
    oat = override_sweep(sweep, sampler=args.sampler)
    assert oat.sampler == "oat" and oat.parameters == sweep.parameters
    assert override_sweep(sweep) is sweep


@pytest.mark.slow  # ~25 s: a LocalCluster and a template LP of its own
def test_a_sweep_into_the_results_folder_is_linked_from_the_site_index(toy_sweep, tmp_path):
    """``energy-model sweep`` without ``--out`` writes under ``<results>/sweeps/`` and rewrites
    ``<results>/index.html`` so the site links the new page at once (not on the next compare)."""
    results = tmp_path / "results"
    assert main(["--results", str(results), "sweep", str(toy_sweep), "--workers", "1", "--samples", "2"]) == 0
    page = results / "sweeps" / "toy-sweep" / "index.html"
    assert page.is_file()
    site = (results / "index.html").read_text(encoding="utf-8")
    assert 'href="sweeps/toy-sweep/index.html"' in site
    assert not (toy_sweep.parent.parent / "results").exists()  # --results is honoured
    # --project-root cannot move a sweep's project: refused, not ignored
    assert main(["--project-root", str(tmp_path), "sweep", str(toy_sweep)]) == 2
