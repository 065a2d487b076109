"""Tests of the clean-heating model: demand totals, COP bounds, seasons, components, flexibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pypsa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy_model import heating, network
from energy_model.exceptions import InputError
from energy_model.scenario import Scenario, load_scenario

pypsa.options.api.legacy_string_dtype = False

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SNAPSHOTS = pd.date_range("2022-01-01", periods=8760, freq="h")


def _two_bus_network(snapshots: pd.DatetimeIndex = SNAPSHOTS) -> pypsa.Network:
    n = pypsa.Network()
    n.set_snapshots(snapshots)
    n.add("Carrier", ["AC", "gas"])
    n.add("Bus", ["city", "zhangbei"], carrier="AC", location="zhangjiakou")
    return n


@pytest.fixture(scope="module")
def heated() -> pypsa.Network:
    n = _two_bus_network()
    heating.add_heating(n, DATA)
    return n


@pytest.fixture(scope="module")
def params() -> dict[str, str]:
    return heating.load_heating_parameters(DATA)


# ------------------------------------------------------------------ demand


def test_heat_demand_integrates_to_documented_totals(heated: pypsa.Network, params: dict[str, str]) -> None:
    p = {k: float(v) for k, v in params.items() if k.replace("_", "").isalnum() and _is_float(v)}
    households = p["rural_households"]
    area = p["heated_area_per_household"]
    share = p["bashang_household_share"]
    expected_mwh = {
        "rural_bashang_heat": households * share * area * p["specific_heat_demand_bashang"] / 1e3,
        "rural_basin_heat": households * (1 - share) * area * p["specific_heat_demand_basin"] / 1e3,
        "urban_heat": p["urban_floor_area"] * p["specific_heat_demand_urban"] / 1e3,
    }
    totals = heated.loads_t.p_set.sum()
    for bus, value in expected_mwh.items():
        assert totals[bus] == pytest.approx(value, rel=1e-9)
    # documented in docs/heating.md: 1.287 + 2.184 + 1.600 TWh_th
    assert totals.sum() / 1e6 == pytest.approx(5.071, abs=5e-4)
    assert (heated.loads_t.p_set >= 0).all().all()


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_demand_is_zero_outside_each_zone_season(heated: pypsa.Network) -> None:
    p_set = heated.loads_t.p_set
    july = p_set.index.month == 7
    assert (p_set.loc[july] == 0).all().all()
    oct_20 = (p_set.index.month == 10) & (p_set.index.day == 20)
    assert (p_set.loc[oct_20, "rural_bashang_heat"] > 0).all()  # Bashang heats from 15 Oct
    assert (p_set.loc[oct_20, ["rural_basin_heat", "urban_heat"]] == 0).all().all()  # basin from 1 Nov
    april_20 = (p_set.index.month == 4) & (p_set.index.day == 20)
    assert (p_set.loc[april_20, "rural_bashang_heat"] > 0).all()
    assert (p_set.loc[april_20, "rural_basin_heat"] == 0).all()


def test_colder_hours_need_more_heat() -> None:
    index = pd.date_range("2022-01-01", periods=48, freq="h")
    temperature = pd.Series(np.r_[np.full(24, 0.0), np.full(24, -20.0)], index=index)
    hdh = heating.compute_heating_degree_hours(temperature, base_temperature=18.0, smoothing_hours=24)
    season = pd.Series(True, index=index)
    demand = heating.compute_heat_demand(hdh, season, annual_heat_mwh=1000.0)
    assert demand.sum() == pytest.approx(1000.0)
    assert demand.iloc[-1] / demand.iloc[23] == pytest.approx(38.0 / 18.0)  # after a full day at -20
    assert demand.iloc[24] < demand.iloc[30] < demand.iloc[47]  # smoothing: inertia, not a jump


def test_heat_demand_without_degree_hours_is_an_input_error() -> None:
    index = pd.date_range("2022-07-01", periods=24, freq="h")
    hdh = pd.Series(0.0, index=index)
    with pytest.raises(InputError):
        heating.compute_heat_demand(hdh, pd.Series(True, index=index), 10.0)


def test_zone_temperatures_match_normals_and_degree_days(params: dict[str, str]) -> None:
    raw, hdh = heating.compute_zone_temperatures(DATA, params, SNAPSHOTS)
    basin_jan = raw["basin"][SNAPSHOTS.month == 1].mean()
    # weather year 2015/16 had a cold January (station -5.2 degC vs -2.5 degC mean of 2014-17)
    assert -14.0 < basin_jan < -9.0
    assert raw["bashang"].mean() == pytest.approx(raw["basin"].mean() - 4.5)
    season = heating.compute_season_mask(SNAPSHOTS, "11-01", "03-31").to_numpy()
    hdd_basin = hdh["basin"][season].sum() / 24
    assert 3200 < hdd_basin < 3800  # methodology: ~3,450 K d from Tianzhen normals
    assert raw["basin"].min() < -20.0


# ------------------------------------------------------------------ COP


@given(st.floats(min_value=-45.0, max_value=45.0), st.sampled_from([35.0, 45.0, 55.0]))
def test_cop_within_physical_bounds(temperature: float, sink: float) -> None:
    cop = float(heating.compute_cop(np.array([temperature]), sink_temperature=sink)[0])
    assert 1.0 <= cop <= 7.0
    lift = sink - temperature
    if lift > 0:
        carnot = (sink + 273.15) / lift
        assert cop < carnot


def test_cop_falls_with_cold_and_matches_reference_values() -> None:
    temperatures = np.arange(-35.0, 20.0, 0.5)
    cop = heating.compute_cop(temperatures, sink_temperature=55.0)
    assert np.all(np.diff(cop) >= -1e-12)
    # methodology table (Staffell, sink 55 degC): +7 -> 2.45, -7 -> 1.73, -20 -> 1.28
    ref = heating.compute_cop(np.array([7.0, -7.0, -20.0]), sink_temperature=55.0)
    assert ref == pytest.approx([2.45, 1.73, 1.28], abs=0.01)
    # lift clipped at 75 K: colder air gives no lower COP (no upturn past the vertex either)
    assert heating.compute_cop(np.array([-30.0]), sink_temperature=55.0)[0] == pytest.approx(ref[2])


def test_network_cop_series_is_bounded(heated: pypsa.Network) -> None:
    eff = heated.links_t.efficiency
    pumps = heated.links.index[heated.links.carrier == "heat_pump"]
    assert set(pumps) <= set(eff.columns)
    assert (eff[pumps] >= 1.0).all().all()
    assert (eff[pumps] <= 5.2).all().all()


# ------------------------------------------------------------------ calendar, data


def test_season_mask_wraps_new_year() -> None:
    mask = heating.compute_season_mask(SNAPSHOTS, "11-01", "03-31")
    assert mask.sum() == (30 + 31 + 31 + 28 + 31) * 24
    bashang = heating.compute_season_mask(SNAPSHOTS, "10-15", "04-30")
    assert bashang.sum() == (17 + 30 + 31 + 31 + 28 + 31 + 30) * 24


def test_remap_keeps_month_day_hour() -> None:
    source_index = pd.date_range("2015-07-01", periods=366 * 24, freq="h")  # includes 2016-02-29
    source = pd.Series(np.arange(len(source_index), dtype=float), index=source_index)
    out = heating.remap_to_snapshots(source, SNAPSHOTS)
    assert out.loc[pd.Timestamp("2022-01-01 05:00")] == source.loc[pd.Timestamp("2016-01-01 05:00")]
    assert out.loc[pd.Timestamp("2022-12-31 23:00")] == source.loc[pd.Timestamp("2015-12-31 23:00")]
    assert len(out) == 8760


def test_missing_temperatures_are_interpolated_and_long_gaps_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "heating"
    folder.mkdir()
    index = pd.date_range("2015-01-01", periods=10, freq="h")
    values = [0.0, 1.0, np.nan, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    frame = pd.DataFrame({"a": values, "b": values}, index=index.rename("time_CST"))
    frame.to_csv(folder / heating.TEMPERATURE_FILE)
    series = heating.load_station_temperature(tmp_path, ["a", "b"], max_gap_hours=2)
    assert series.iloc[2] == pytest.approx(2.0)
    assert series.iloc[3] == pytest.approx(3.0)
    with pytest.raises(InputError, match="gap of 2 missing hours"):
        heating.load_station_temperature(tmp_path, ["a"], max_gap_hours=1)


def test_every_parameter_has_a_source() -> None:
    table = pd.read_csv(DATA / "heating" / "parameters.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["parameter", "value", "unit", "source"]
    assert (table["source"].str.len() > 10).all()


# ------------------------------------------------------------------ components and conventions


def test_add_heating_follows_component_conventions(heated: pypsa.Network) -> None:
    heat_buses = heated.buses.index[heated.buses.carrier == "heat"]
    assert set(heat_buses) == {"rural_bashang_heat", "rural_basin_heat", "urban_heat"}
    assert (heated.buses.loc[heat_buses, "location"] == "zhangjiakou").all()
    electric = heated.links[heated.links.carrier.isin(network.ELECTRIC_HEATING_CARRIERS)]
    assert set(electric.bus0) == {"city", "zhangbei"}
    assert set(electric.bus1) <= set(heat_buses)
    coal = heated.generators[heated.generators.carrier.isin(network.FOSSIL_HEAT_CARRIERS)]
    assert len(coal) == 3 and (coal.efficiency < 1).all() and (coal.p_nom == 0).all()
    assert (heated.carriers.loc[list(network.FOSSIL_HEAT_CARRIERS), "co2_emissions"] > 0).all()
    stores = heated.stores[heated.stores.carrier.isin(network.HEAT_STORE_CARRIERS)]
    assert len(stores) == 3 and (stores.standing_loss > 0).all() and stores.e_cyclic.all()
    assert set(heating.HEAT_CARRIERS) <= set(heated.carriers.index)
    n_components = len(heated.links) + len(heated.stores) + len(heated.generators) + len(heated.loads)
    assert n_components == 14


def test_add_heating_needs_the_electricity_buses() -> None:
    n = pypsa.Network()
    n.set_snapshots(SNAPSHOTS[:24])
    n.add("Bus", "city")
    with pytest.raises(InputError, match="zhangbei"):
        heating.add_heating(n, DATA)


def test_plan_capacities_cover_the_coldest_fortnight(heated: pypsa.Network) -> None:
    """Fixed plan capacities serve the cold wave without coal (solve of 14 days)."""
    n = heated.copy()
    daily = n.loads_t.p_set.sum(axis=1).resample("D").sum()
    start = daily.rolling(14).sum().idxmax() - pd.Timedelta(days=13)
    n.set_snapshots(n.snapshots[(n.snapshots >= start) & (n.snapshots < start + pd.Timedelta(days=14))])
    n.add("Generator", ["grid_city", "grid_zhangbei"], bus=["city", "zhangbei"], p_nom=1e5,
          marginal_cost=300.0, carrier="gas")
    status, condition = n.optimize(solver_name="highs", include_objective_constant=False,
                                   solver_options={"threads": 1, "output_flag": False})
    assert (status, condition) == ("ok", "optimal")
    coal = n.generators.index[n.generators.carrier.isin(network.FOSSIL_HEAT_CARRIERS)]
    assert n.generators_t.p[coal].to_numpy().sum() == pytest.approx(0.0, abs=1e-6)
    heat_pumps = n.links.index[n.links.carrier == "heat_pump"]
    pump_heat = (-n.links_t.p1[heat_pumps]).sum().sum()
    assert 0 < pump_heat <= 0.5 * n.loads_t.p_set.sum().sum() * (1 + 1e-6)  # only their households


# ------------------------------------------------------------------ flexibility (hand-checkable)


def _toy(with_storage: bool) -> pypsa.Network:
    """Two hours. Wind 10 MW then 0; heat load 5 MW each hour; coal power costs 100 CNY/MWh.

    Without storage: hour 0 uses 5 of 10 MW wind (5 MW curtailed), hour 1 burns 5 MWh coal.
    With a 10 MWh heat store: hour 0 heats 10 MW (5 stored), hour 1 discharges 5 MW -> no
    curtailment and no coal.
    """
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2022-01-15", periods=2, freq="h"))
    n.add("Carrier", ["AC", "onwind", "coal", "heat", "resistive_heater", "heat_storage"])
    n.add("Bus", "city", carrier="AC")
    n.add("Bus", "urban_heat", carrier="heat")
    n.add("Generator", "wind", bus="city", carrier="onwind", p_nom=10.0, p_max_pu=[1.0, 0.0])
    n.add("Generator", "coal", bus="city", carrier="coal", p_nom=100.0, marginal_cost=100.0)
    n.add("Load", "heat_load", bus="urban_heat", carrier="heat", p_set=[5.0, 5.0])
    n.add("Link", "heater", bus0="city", bus1="urban_heat", carrier="resistive_heater", efficiency=1.0,
          p_nom=20.0)
    n.add("Store", "tank", bus="urban_heat", carrier="heat_storage", e_nom=10.0 if with_storage else 0.0,
          standing_loss=0.0, e_cyclic=False, e_initial=0.0)
    status, _ = n.optimize(solver_name="highs", include_objective_constant=False,
                           solver_options={"output_flag": False})
    assert status == "ok"
    return n


def test_thermal_storage_moves_heating_into_the_surplus_hour() -> None:
    sc = Scenario(name="toy", network="toy", year=2022)
    without = _toy(with_storage=False)
    with_store = _toy(with_storage=True)
    assert without.links_t.p0["heater"].tolist() == pytest.approx([5.0, 5.0])
    assert with_store.links_t.p0["heater"].tolist() == pytest.approx([10.0, 0.0])
    curtailed = {}
    for label, n in (("without", without), ("with", with_store)):
        metrics = heating.compute_heating_metrics(n, sc)
        pick = (metrics.metric == "heating_season_curtailment") & (metrics.unit == "TWh")
        curtailed[label] = float(metrics.loc[pick, "value"].iloc[0]) * 1e6
    assert curtailed["without"] == pytest.approx(5.0)
    assert curtailed["with"] == pytest.approx(0.0, abs=1e-6)
    assert with_store.generators_t.p["coal"].sum() == pytest.approx(0.0, abs=1e-6)


def test_heating_metrics_on_the_toy() -> None:
    sc = Scenario(name="toy", network="toy", year=2022)
    n = _toy(with_storage=True)
    n.add("Generator", "stove", bus="urban_heat", carrier="coal_boiler", p_nom=0.0, efficiency=0.5)
    n.generators_t.p["stove"] = 0.0
    table = heating.compute_heating_metrics(n, sc)
    metrics = table.set_index(["metric", "variant", "carrier", "bus", "unit"])["value"]
    assert metrics[("heating_electricity", "", "", "", "TWh")] * 1e6 == pytest.approx(10.0)
    assert metrics[("heating_electricity_peak", "", "", "", "MW")] == pytest.approx(10.0)
    assert metrics[("heat_demand", "", "heat", "urban_heat", "TWh")] * 1e6 == pytest.approx(10.0)
    # 10 MWh heat would have needed 10 / 0.5 = 20 MWh coal = 20 / 8.141 tce
    assert metrics[("coal_displaced", "", "", "", "Mtce")] * 1e6 == pytest.approx(20.0 / 8.141, rel=1e-3)
    # all heating electricity came from wind in hour 0 -> 100 % renewable (pro-rata)
    assert metrics[("heating_renewable_electricity", "hourly_mix", "", "", "%")] == pytest.approx(100.0)


# ------------------------------------------------------------------ scenarios


@pytest.mark.parametrize("name", ["plan-2022-no-heat-electrification", "plan-2022-no-thermal-storage"])
def test_heating_scenarios_apply_to_the_network(name: str, heated: pypsa.Network) -> None:
    """The heating overrides and the heating section of the counterfactual scenarios, applied to the
    heated network: no electrification leaves no electric heater and no store, and coal stoves and
    boilers sized to the peak heat load of their bus; no thermal storage only empties the stores."""
    from energy_model.network import _apply_heating_realisation, apply_override

    path = ROOT / "scenarios" / f"{name}.yaml"
    sc = load_scenario(path)
    n = heated.copy()
    for override in sc.overrides:
        if override.component in {"links", "stores", "generators"} and (
            set(override.carrier or []) & set(heating.HEAT_CARRIERS)
        ):
            apply_override(n, override, key="overrides", file=path)
    _apply_heating_realisation(n, sc, path)
    stores = n.stores[n.stores.carrier.isin(network.HEAT_STORE_CARRIERS)]
    assert (stores.e_nom == 0).all()
    electric = n.links[n.links.carrier.isin(network.ELECTRIC_HEATING_CARRIERS)]
    coal = n.generators[n.generators.carrier.isin(network.FOSSIL_HEAT_CARRIERS)]
    if name == "plan-2022-no-heat-electrification":
        assert (electric.p_nom == 0).all()
        peak = n.loads_t.p_set[n.loads.index[n.loads.bus.isin(coal.bus)]].max()
        peak_by_bus = peak.groupby(n.loads.bus).sum()
        capacity_by_bus = coal.groupby("bus").p_nom.sum()
        assert capacity_by_bus.to_dict() == pytest.approx(peak_by_bus.reindex(capacity_by_bus.index).to_dict())
        assert not coal.p_nom_extendable.any()
    else:
        assert (electric.p_nom > 0).all()
        assert not coal.p_nom_extendable.any()


# ------------------------------------------------------------------ degree-hour base and sizing


def test_degree_hours_by_hand() -> None:
    """Base 18 degC, 24-hour trailing mean: 0 degC for a day, then -20 degC."""
    index = pd.date_range("2022-01-01", periods=48, freq="h")
    temperature = pd.Series(np.r_[np.full(24, 0.0), np.full(24, -20.0)], index=index)
    hdh = heating.compute_heating_degree_hours(temperature, base_temperature=18.0, smoothing_hours=24)
    assert hdh.iloc[0] == pytest.approx(18.0)
    assert hdh.iloc[23] == pytest.approx(18.0)
    assert hdh.iloc[24] == pytest.approx(18.0 + 20.0 / 24)  # one cold hour in the window
    assert hdh.iloc[30] == pytest.approx(18.0 + 7 * 20.0 / 24)
    assert hdh.iloc[47] == pytest.approx(38.0)
    warm = heating.compute_heating_degree_hours(pd.Series(25.0, index=index), 18.0, 24)
    assert (warm == 0).all()  # above the base: no negative degree-hours
    other_base = heating.compute_heating_degree_hours(temperature, base_temperature=15.0)
    assert other_base.iloc[0] == pytest.approx(15.0)


def test_zone_degree_hours_use_the_parameter_base(params: dict[str, str]) -> None:
    """HDH(t) = max(0, 18 - mean of the zone temperature over t-23 h..t), checked in January."""
    assert float(params["base_temperature"]) == 18.0
    assert int(float(params["smoothing_hours"])) == 24
    raw, hdh = heating.compute_zone_temperatures(DATA, params, SNAPSHOTS)
    for zone in ("basin", "bashang"):
        for t in pd.date_range("2022-01-10 05:00", periods=5, freq="37h"):
            window = raw[zone].loc[t - pd.Timedelta(hours=23): t]
            assert len(window) == 24
            expected = max(0.0, 18.0 - float(window.mean()))
            assert hdh[zone].loc[t] == pytest.approx(expected, abs=1e-9), (zone, t)


def test_heat_pump_and_heater_sizing(heated: pypsa.Network, params: dict[str, str]) -> None:
    """Rural: heat pumps serve ``rural_share_heat_pump`` of 1.1 x peak at the season's lowest
    COP; heaters 0.2 x 1.1 x peak + 0.3 x design day / 10 valley hours; urban boilers
    max(1.1 x peak, design day / 10 h) / 0.99; stores hold 14 h of the design day."""
    num = {key: float(params[key]) for key in (
        "rural_share_heat_pump", "capacity_margin", "rural_share_direct_heater",
        "rural_share_storage_heater", "valley_hours", "storage_cover_hours",
        "rural_heater_efficiency", "urban_boiler_efficiency")}
    assert (num["rural_share_heat_pump"], num["capacity_margin"]) == (0.5, 1.1)
    demand = heated.loads_t.p_set
    days = pd.DatetimeIndex(heated.snapshots).date
    for bus, prefix, zone in (("rural_bashang_heat", "rural_bashang", "bashang"),
                              ("rural_basin_heat", "rural_basin", "basin")):
        peak = float(demand[bus].max())
        design_day = float(demand[bus].groupby(days).sum().max())
        cop = heated.links_t.efficiency[f"{prefix}_heat_pump"]
        season = heating.compute_season_mask(
            pd.DatetimeIndex(heated.snapshots), params[f"season_{zone}_start"],
            params[f"season_{zone}_end"])
        cop_min = float(cop[season.to_numpy()].min())
        assert cop_min < float(cop.max())  # the season's lowest COP, not the year's or a mean
        p_nom = heated.links.at[f"{prefix}_heat_pump", "p_nom"]
        assert p_nom == pytest.approx(0.5 * peak * 1.1 / cop_min, rel=1e-9)
        p_max_pu = heated.links_t.p_max_pu[f"{prefix}_heat_pump"]
        expected = (0.5 * demand[bus] / (cop * p_nom)).clip(upper=1.0)
        assert p_max_pu.to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9, abs=1e-12)
        heater = (0.2 * peak * 1.1 + 0.3 * design_day / 10) / num["rural_heater_efficiency"]
        assert heated.links.at[f"{prefix}_resistive_heater", "p_nom"] == pytest.approx(heater)
        store = heated.stores.at[f"{prefix}_heat_storage", "e_nom"]
        assert store == pytest.approx(0.3 * design_day * 14 / 24)
    peak = float(demand["urban_heat"].max())
    design_day = float(demand["urban_heat"].groupby(days).sum().max())
    boiler = max(peak * 1.1, design_day / 10) / num["urban_boiler_efficiency"]
    assert heated.links.at["urban_electric_boiler", "p_nom"] == pytest.approx(boiler)
    assert heated.stores.at["urban_water_tank", "e_nom"] == pytest.approx(design_day * 14 / 24)
