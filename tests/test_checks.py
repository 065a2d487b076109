"""Physical checks after a solve: they pass on correct solutions and name the location otherwise.

Correct solutions: the toy (hand-computed optimum, tests/test_solve.py) and two PyPSA example
networks with lines, DC links, converters and storage units with inflow and standing losses
(tests/data/pypsa-examples). Wrong solutions are made by editing one value of a solved network,
so each check must find exactly that bus or component and snapshot.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pypsa
import pytest

from energy_model import checks
from energy_model.exceptions import PhysicsCheckError
from energy_model.network import apply_scenario, configure_pypsa, load_network
from energy_model.optimization.solve import solve
from energy_model.scenario import Scenario, load_scenario, resolve_project_path

EXAMPLES = Path(__file__).parent / "data" / "pypsa-examples"
TOY = Path(__file__).parent / "data" / "networks" / "toy"


@pytest.fixture(scope="module")
def solved_toy_once(tmp_path_factory):
    project = tmp_path_factory.mktemp("checks") / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copytree(TOY, project / "networks" / "toy")
    path = project / "scenarios" / "toy-2022.yaml"
    path.write_text("network: networks/toy\nyear: 2022\n", encoding="utf-8")
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network))
    apply_scenario(n, sc, file=path)
    solve(n, sc, project)
    n.model.solver_model = None  # PyPSA refuses to copy a network with a live solver model
    return n, sc


@pytest.fixture
def solved_toy(solved_toy_once):
    """A fresh copy of the solved toy (tests edit it)."""
    n, sc = solved_toy_once
    return n.copy(), sc


def storage_network() -> pypsa.Network:
    """One bus: wind (availability 1, 0, 1, 0), a battery storage unit and a hydrogen-like store."""
    configure_pypsa()
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2022-01-01", periods=4, freq="h"))
    n.add("Carrier", ["AC", "wind", "battery", "store"])
    n.add("Bus", "b", carrier="AC")
    n.add("Generator", "wind", bus="b", carrier="wind", p_nom=100,
          p_max_pu=[1.0, 0.0, 1.0, 0.0], marginal_cost=0)
    n.add("Generator", "backup", bus="b", carrier="wind", p_nom=100, marginal_cost=1000)
    n.add("Load", "demand", bus="b", p_set=40)
    n.add("StorageUnit", "battery", bus="b", carrier="battery", p_nom=30, max_hours=2,
          efficiency_store=0.9, efficiency_dispatch=0.9, cyclic_state_of_charge=True)
    n.add("Store", "tank", bus="b", carrier="store", e_nom=10, e_cyclic=True, standing_loss=0.01)
    return n


def optimize(n: pypsa.Network) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status, condition = n.optimize(solver_name="highs", include_objective_constant=False)
    assert (status, condition) == ("ok", "optimal")


def test_solved_toy_passes(solved_toy):
    n, sc = solved_toy
    checks.check_solution(n, sc)
    net, gross = checks.compute_bus_balance(n)
    # at 02:00 wind is 0, coal 80 MW serves the 80 MW load: gross flow 160 MW at 'local'
    assert gross.at["2022-01-01 02:00:00", "local"] == pytest.approx(160, abs=1e-4)
    assert net.abs().to_numpy().max() < 1e-6


@pytest.mark.parametrize("example", ["ac-dc-meshed", "storage-hvdc"])
def test_pypsa_examples_pass(example):
    configure_pypsa()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = pypsa.Network(EXAMPLES / example)
    optimize(n)
    checks.check_solution(n)
    net, gross = checks.compute_bus_balance(n)
    assert (gross.to_numpy() > 0).any()
    assert (net.abs() <= checks.BALANCE_RTOL * gross.clip(lower=1)).all().all()


def test_storage_network_passes():
    n = storage_network()
    optimize(n)
    checks.check_solution(n)
    assert n.storage_units_t.state_of_charge["battery"].max() > 0  # the battery is used


def test_balance_violation_names_bus_and_hour(solved_toy):
    n, sc = solved_toy
    n.generators_t.p.loc["2022-01-01 01:00:00", "coal"] += 5.0
    with pytest.raises(PhysicsCheckError) as info:
        checks.check_solution(n, sc)
    message = str(info.value)
    assert "energy balance" in message
    assert "bus 'local'" in message
    assert "snapshot '2022-01-01 01:00:00'" in message
    assert "= 5 MW" in message
    assert "toy-2022" in message


def test_balance_tolerance_is_relative(solved_toy):
    n, _ = solved_toy
    # 1e-7 relative to the 160 MW gross flow is within tolerance; 1e-5 is not
    n.generators_t.p.loc["2022-01-01 02:00:00", "coal"] += 160 * 1e-7
    checks.check_balance(n)
    n.generators_t.p.loc["2022-01-01 02:00:00", "coal"] += 160 * 1e-5
    with pytest.raises(PhysicsCheckError, match="2022-01-01 02:00:00"):
        checks.check_balance(n)


def test_generator_above_availability(solved_toy):
    n, _ = solved_toy
    n.generators_t.p.loc["2022-01-01 02:00:00", "wind"] = 5.0  # availability 0.0 at 02:00
    with pytest.raises(PhysicsCheckError) as info:
        checks.check_capacities(n)
    message = str(info.value)
    assert "Generator 'wind'" in message
    assert "snapshot '2022-01-01 02:00:00'" in message
    assert "above the bound 0 MW" in message


def test_link_above_capacity(solved_toy):
    n, _ = solved_toy
    n.links_t.p0.loc["2022-01-01 00:00:00", "corridor"] = 60.0  # p_nom 50 MW
    with pytest.raises(PhysicsCheckError, match=r"Link 'corridor', snapshot '2022-01-01 00:00:00'.*"
                                                r"above the bound 50 MW"):
        checks.check_capacities(n)


def test_link_below_minimum(solved_toy):
    n, _ = solved_toy
    n.links_t.p0.loc["2022-01-01 03:00:00", "corridor"] = -1.0  # p_min_pu 0: no reverse flow
    with pytest.raises(PhysicsCheckError, match=r"Link 'corridor'.*below the bound 0 MW"):
        checks.check_capacities(n)


def test_storage_level_violations():
    solved = storage_network()
    optimize(solved)
    solved.model.solver_model = None  # PyPSA refuses to copy a network with a live solver model
    hour = solved.snapshots[1]
    n = solved.copy()
    n.stores_t.e.loc[hour, "tank"] = 12.0  # e_nom 10 MWh
    with pytest.raises(PhysicsCheckError) as info:
        checks.check_storage_levels(n)
    assert "Store 'tank'" in str(info.value)
    assert "above the bound 10 MWh" in str(info.value)
    n = solved.copy()
    n.storage_units_t.state_of_charge.loc[hour, "battery"] = -2.0
    with pytest.raises(PhysicsCheckError, match=r"StorageUnit 'battery'.*below the bound 0 MWh"):
        checks.check_storage_levels(n)
    n = solved.copy()
    n.storage_units_t.p_dispatch.loc[hour, "battery"] = 31.0  # p_nom 30 MW
    with pytest.raises(PhysicsCheckError, match=r"StorageUnit 'battery'.*above the bound 30 MW"):
        checks.check_capacities(n)


def test_infinite_capacity_with_zero_minimum(solved_toy):
    """p_nom = inf with p_min_pu = 0 gives a lower bound of 0, not NaN (inf * 0)."""
    n, _ = solved_toy
    n.generators.loc["coal", "p_nom_opt"] = float("inf")
    checks.check_capacities(n)


def metrics_table(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"metric": m, "variant": v, "carrier": "", "bus": "", "value": x, "unit": "%"}
         for m, v, x in rows]
    )


def test_share_bounds():
    ok = metrics_table([("renewable_share", "coal_equivalent|annual_mix", 35.0),
                        ("renewable_share_electricity", "annual_mix", 100.0)])
    checks.check_shares(ok)
    bad = metrics_table([("renewable_share", "coal_equivalent|annual_mix", -3.2)])
    with pytest.raises(PhysicsCheckError, match=r"metric 'renewable_share', variant "
                                                r"'coal_equivalent\|annual_mix'.*-3.2 %"):
        checks.check_shares(bad)
    # every rule, annual ones included, lies in [0, 100] %: below ...
    with pytest.raises(PhysicsCheckError, match="annual_mix"):
        checks.check_shares(metrics_table([("renewable_share", "calorific|annual_mix", -3.2)]))
    # ... and above
    with pytest.raises(PhysicsCheckError, match="annual_mix"):
        checks.check_shares(metrics_table([("renewable_share_electricity", "annual_mix", 101.0)]))
    nan = metrics_table([("renewable_share_electricity", "annual_mix", float("nan"))])
    with pytest.raises(PhysicsCheckError, match="not a number .*denominator is zero"):
        checks.check_shares(nan)


def test_enforced_target_must_hold():
    sc = Scenario.model_validate({
        "name": "t", "network": "networks/toy", "year": 2022,
        "targets": [{"name": "goal", "min_share": 0.3, "enforce": True}],
    })
    held = metrics_table([("target_enforced_share", "goal", 30.0 - 1e-4)])
    checks.check_shares(held, sc)
    broken = metrics_table([("target_enforced_share", "goal", 29.0)])
    with pytest.raises(PhysicsCheckError, match=r"target 'goal': share 29 % is below .* 30 %"):
        checks.check_shares(broken, sc)


def test_solve_runs_the_checks(make_project, monkeypatch):
    """solve() calls check_solution after assigning the solution; its error propagates."""
    import energy_model.optimization.solve as solve_module

    seen = []

    def fake_check(n, sc):
        seen.append(float(n.generators_t.p["coal"].sum()))
        raise PhysicsCheckError("physical check 'energy balance' failed: test")

    monkeypatch.setattr(solve_module, "check_solution", fake_check)
    path = make_project()
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network))
    with pytest.raises(PhysicsCheckError):
        solve(n, sc, path.parents[1])
    assert seen == [pytest.approx(170, abs=1e-4)]


ZHANGJIAKOU = Path(__file__).parent.parent / "networks" / "zhangjiakou"


@pytest.mark.slow
@pytest.mark.skipif(not ZHANGJIAKOU.is_dir(), reason="networks/zhangjiakou not built")
def test_zhangjiakou_two_weeks_pass_the_checks(tmp_path):
    """Two winter weeks of the real network (heat, storage, export links, IPM without crossover)."""
    path = tmp_path / "scenarios" / "two-weeks.yaml"
    path.parent.mkdir()
    path.write_text(
        f"network: {ZHANGJIAKOU.resolve().as_posix()}\nyear: 2022\n"
        "snapshots: {start: '2022-01-10', end: '2022-01-23 23:00'}\n",
        encoding="utf-8",
    )
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network))
    apply_scenario(n, sc, file=path)
    solve(n, sc, tmp_path)  # runs check_solution
    net, gross = checks.compute_bus_balance(n)
    assert len(net) == 14 * 24
    assert (net.abs() <= checks.BALANCE_RTOL * gross.clip(lower=1)).all().all()
