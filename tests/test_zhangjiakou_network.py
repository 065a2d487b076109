"""Checks of the Zhangjiakou base network, its builder and the three year scenarios.

Reads ``networks/zhangjiakou``, ``data/`` and ``scenarios/{baseline-2018,plan-2022,plan-2035}.yaml``.
"""

from __future__ import annotations

import filecmp
import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_model.build_network import (
    EXTERNAL_BUSES,
    LOCAL_BUSES,
    REGION,
    build_network,
    compute_scaled_profile,
    load_parameters,
    write_network,
)
from energy_model.network import apply_scenario, load_network
from energy_model.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ROOT / "networks" / "zhangjiakou"
DATA = ROOT / "data"
SCENARIOS = ("baseline-2018", "plan-2022", "plan-2035")


@pytest.fixture(scope="module")
def params():
    return load_parameters(DATA)


@pytest.fixture(scope="module")
def network(scenario_network):
    return scenario_network("plan-2022")[0]


@pytest.fixture(scope="module")
def scenario_network(shipped_network):
    """``name -> (network, scenario)``: the network with a scenario applied (cached: tests must
    not mutate it). The network folder is loaded once (``shipped_network``) and copied."""

    @functools.cache
    def get(name: str):
        path = ROOT / "scenarios" / f"{name}.yaml"
        sc = load_scenario(path)
        n = shipped_network(ROOT / sc.network)
        apply_scenario(n, sc, file=path)
        return n, sc

    return get


def test_network_loads_with_the_strict_loader(network):
    assert len(network.snapshots) == 8760
    assert network.snapshots[0] == pd.Timestamp("2022-01-01 00:00")
    assert not network.snapshots.duplicated().any()


def test_bus_ids_and_locations(network):
    buses = network.buses
    for bus in LOCAL_BUSES:
        assert buses.at[bus, "location"] == REGION
        assert buses.at[bus, "carrier"] == "AC"
    for bus in EXTERNAL_BUSES:
        assert buses.at[bus, "location"] == bus
    ac = buses.index[buses.carrier == "AC"]
    assert len(ac) <= 12


def test_every_carrier_has_nice_name_and_colour(network):
    carriers = network.carriers
    assert (carriers.nice_name.str.len() > 0).all()
    assert carriers.color.str.match(r"^#[0-9a-fA-F]{6}$").all()


@pytest.mark.parametrize(("carrier", "total_mw"), [("onwind", 13000.0), ("solar", 6000.0)])
def test_plan_2022_capacity(carrier, total_mw, scenario_network):
    n, _ = scenario_network("plan-2022")
    gens = n.generators
    assert gens.loc[gens.carrier == carrier, "p_nom"].sum() == pytest.approx(total_mw, rel=1e-9)


@pytest.mark.parametrize("tech", ["onwind", "solar"])
@pytest.mark.parametrize("zone", LOCAL_BUSES)
def test_full_load_hours_match_targets(network, params, tech, zone):
    profile = network.generators_t.p_max_pu[f"{zone}_{tech}"]
    assert profile.between(0, 1).all()
    flh = float((profile * network.snapshot_weightings.generators).sum())
    assert flh == pytest.approx(params[f"{tech}.flh.{zone}"].value, rel=0.01)


@pytest.mark.parametrize(
    ("carrier", "parameter"),
    [("electricity_demand", "load.electricity.annual"), ("data_centre", "load.data_centre.annual")],
)
def test_annual_load_matches_target(network, params, carrier, parameter):
    names = network.loads.index[network.loads.carrier == carrier]
    twh = float(network.loads_t.p_set[names].sum().sum()) / 1e6
    assert twh == pytest.approx(params[parameter].value, rel=0.01)


def test_hydrogen_demand_matches_target(network, params):
    mwh = float(network.loads_t.p_set["city_h2_demand"].sum())
    expected = params["h2.demand"].value * params["h2.lhv"].value
    assert mwh == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("name", "onwind_mw", "solar_mw", "dc_twh"),
    [("baseline-2018", 9000.0, 3000.0, 0.5), ("plan-2022", 13000.0, 6000.0, 4.0),
     ("plan-2035", 35000.0, 25000.0, 25.0)],
)
def test_scenarios_apply_to_the_network(name, onwind_mw, solar_mw, dc_twh, scenario_network):
    n, sc = scenario_network(name)
    gens = n.generators
    assert gens.loc[gens.carrier == "onwind", "p_nom"].sum() == pytest.approx(onwind_mw, rel=1e-6)
    assert gens.loc[gens.carrier == "solar", "p_nom"].sum() == pytest.approx(solar_mw, rel=1e-6)
    dc = n.loads.index[n.loads.carrier == "data_centre"]
    assert float(n.loads_t.p_set[dc].sum().sum()) / 1e6 == pytest.approx(dc_twh, rel=1e-6)
    assert sc.year == int(name.split("-")[-1])
    assert sc.targets


def test_export_contracts_fit_corridor_capacity(scenario_network):
    n, sc = scenario_network("plan-2022")
    for contract in sc.export_contracts:
        links = n.links.loc[contract.links]
        max_twh = float((links.p_nom * links.efficiency).sum()) * 8760 / 1e6
        assert contract.min_energy_twh < max_twh


def test_scaled_profile_hits_target_and_clips():
    rng = np.random.default_rng(0)
    shape = rng.uniform(0, 0.5, 8760)
    profile = compute_scaled_profile(shape, 4000.0)
    assert profile.max() <= 1.0
    assert profile.sum() == pytest.approx(4000.0, rel=1e-9)


def test_build_reproduces_committed_csvs_byte_for_byte(tmp_path):
    out = tmp_path / "zhangjiakou"
    write_network(build_network(DATA), out)
    committed = sorted(p.name for p in NETWORK.glob("*.csv"))
    built = sorted(p.name for p in out.glob("*.csv"))
    assert built == committed
    match, mismatch, errors = filecmp.cmpfiles(NETWORK, out, committed, shallow=False)
    assert mismatch == []
    assert errors == []


@pytest.mark.slow
def test_plan_2022_full_year_engine_equals_plain_pypsa(tmp_path):
    """The engine's full-year solve (limit rows as bounds, investment screening with its pricing
    certificate) reaches the same optimum as plain ``n.optimize`` with every option open."""
    from energy_model.optimization.constraints import extra_functionality
    from energy_model.optimization.solve import solve

    path = ROOT / "scenarios" / "plan-2022.yaml"
    sc = load_scenario(path)
    n = load_network(NETWORK)
    apply_scenario(n, sc, file=path)
    result = solve(n, sc, ROOT)
    assert result.screening["candidates"]  # the batteries and the hydrogen store
    assert result.screening["released"] == []

    plain = load_network(NETWORK)
    apply_scenario(plain, sc, file=path)
    status, condition = plain.optimize(
        solver_name="highs",
        include_objective_constant=False,
        extra_functionality=extra_functionality(sc, ROOT),
        solver_options={"threads": 2, "solver": "simplex"},
    )
    assert (status, condition) == ("ok", "optimal")
    assert result.objective == pytest.approx(plain.objective, rel=1e-9)
    gens = n.generators
    wind = gens.index[gens.carrier == "onwind"]
    generated = float(n.generators_t.p[wind].sum().sum())
    available = float((n.generators_t.p_max_pu[wind] * gens.p_nom[wind]).sum().sum())
    assert 0 < generated <= available * (1 + 1e-6)


def test_data_doc_tables_are_current(tmp_path):
    from energy_model.build_network import write_data_doc

    doc = ROOT / "docs" / "data.md"
    copy = tmp_path / "data.md"
    copy.write_text(doc.read_text(encoding="utf-8"), encoding="utf-8")
    write_data_doc(DATA, copy)
    assert copy.read_text(encoding="utf-8") == doc.read_text(encoding="utf-8")


def test_every_parameter_has_a_tagged_source(params):
    for name, par in params.items():
        assert par.source.startswith(("[S]", "[D]", "[U]", "[D/U]")), name


def test_import_price_is_above_export_price_every_hour(network, params):
    mc = network.generators_t.marginal_cost
    exports = mc[["beijing_export_market", "xiongan_export_market", "north_hebei_export_market"]]
    assert (mc["north_hebei_grid_import"].to_numpy()[:, None] > exports.to_numpy()).all()
    assert float(exports.mean().mean()) == pytest.approx(params["market.export_price"].value, rel=1e-3)
