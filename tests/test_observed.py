"""Observed-year inputs and realistic operation: coal minimum load, heat-led CHP, the grid-scheduled
pumped-storage cycle, partial heating electrification and the observed-vs-modelled table.

Every expectation is computed by hand in the test's docstring or comments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pypsa
import pytest

from energy_model.analysis.validation import MODEL_QUANTITIES, compare_observed, read_observed
from energy_model.build_network import (
    compute_coal_min_load,
    compute_pumped_storage_schedule,
    load_chp_season,
)
from energy_model.exceptions import InputError, ScenarioError
from energy_model.network import apply_heating_electrification
from energy_model.scenario import HeatingRealisation

ROOT = Path(__file__).resolve().parents[1]
pypsa.options.api.legacy_string_dtype = False
DAY = pd.date_range("2022-01-01", periods=48, freq="h")


def test_coal_min_load_is_committed_share_times_stable_load() -> None:
    """c = 0.8, m = 0.4 -> 0.32 p.u. outside the CHP season; 0.5 inside (max(0.32, 0.5))."""
    season = pd.Series(DAY.hour < 12, index=DAY)
    p_min = compute_coal_min_load(
        DAY, min_stable_load_pu=0.4, committed_share=0.8, chp_season=season, chp_season_min_pu=0.5
    )
    assert p_min[season].eq(0.5).all()
    assert np.allclose(p_min[~season], 0.32)
    condensing = compute_coal_min_load(DAY, min_stable_load_pu=0.4, committed_share=0.8)
    assert np.allclose(condensing, 0.32)
    # a heat-led minimum below the committed minimum does not lower it
    low = compute_coal_min_load(
        DAY, min_stable_load_pu=0.4, committed_share=1.0, chp_season=season, chp_season_min_pu=0.2
    )
    assert np.allclose(low, 0.4)


def test_coal_min_load_rejects_shares_outside_unit_interval() -> None:
    with pytest.raises(InputError, match="committed_share"):
        compute_coal_min_load(DAY, min_stable_load_pu=0.4, committed_share=1.2)


def test_chp_season_of_the_shipped_data_spans_the_new_year() -> None:
    """20 Oct - 5 Apr: 12 + 30 + 31 + 31 + 28 + 31 + 5 = 168 days = 4032 h in a non-leap year."""
    hours = pd.date_range("2022-01-01", "2022-12-31 23:00", freq="h")
    season = load_chp_season(ROOT / "data", hours)
    assert int(season.sum()) == 168 * 24
    assert season[pd.Timestamp("2022-01-15 03:00")]
    assert not season[pd.Timestamp("2022-07-01 12:00")]


def test_pumped_storage_schedule_delivers_design_volume_and_closes_each_day() -> None:
    """G = 6.61 TWh/a, eta = 0.76, 7 pumping hours, two 3-hour generation blocks.

    Generation per hour = 6.61e6 / 365 / 6 = 3018.3 MW; pumping = 6.61e6 / 365 / (0.76 x 7)
    = 3404.2 MW. Over a year: generation 6.61 TWh, pumping 6.61 / 0.76 = 8.697 TWh (design 8.71).
    """
    hours = pd.date_range("2022-01-01", "2022-12-31 23:00", freq="h")
    p = compute_pumped_storage_schedule(
        hours, annual_generation_mwh=6.61e6, round_trip=0.76, pump_start_hour=0, pump_hours=7,
        generation_start_hours=(8, 17), generation_block_hours=3,
    )
    assert p.clip(lower=0).sum() == pytest.approx(6.61e6)
    assert -p.clip(upper=0).sum() == pytest.approx(6.61e6 / 0.76)
    assert p.max() == pytest.approx(6.61e6 / 365 / 6)
    assert p.min() == pytest.approx(-6.61e6 / 365 / (0.76 * 7))
    day = p.iloc[:24]
    assert (day.iloc[0:7] < 0).all() and (day.iloc[8:11] > 0).all() and (day.iloc[17:20] > 0).all()
    assert day.iloc[[7, 11, 12, 16, 20, 23]].eq(0).all()
    # state of charge with one-way efficiency sqrt(0.76) returns to its start every day
    one_way = 0.76**0.5
    daily_soc_change = one_way * -day.clip(upper=0).sum() - day.clip(lower=0).sum() / one_way
    assert daily_soc_change == pytest.approx(0.0, abs=1e-6)


def test_pumped_storage_schedule_refuses_overlapping_windows() -> None:
    with pytest.raises(InputError, match="same hour"):
        compute_pumped_storage_schedule(
            DAY, annual_generation_mwh=1e6, round_trip=0.76, pump_start_hour=6, pump_hours=4,
            generation_start_hours=(8,), generation_block_hours=3,
        )


def _heated_network() -> pypsa.Network:
    """One electricity bus, one rural heat bus with a 100 MW peak load, a 60 MW heat pump link,
    a 500 MWh store and two coal stoves; one urban heat bus with a 40 MW boiler and a coal boiler."""
    n = pypsa.Network()
    n.set_snapshots(DAY[:4])
    n.add("Bus", "city")
    n.add("Bus", "rural_x_heat", carrier="heat")
    n.add("Bus", "urban_heat", carrier="heat")
    n.add("Load", "rural_x_heat", bus="rural_x_heat", p_set=pd.Series([50, 100, 80, 20], index=n.snapshots))
    n.add("Load", "urban_heat", bus="urban_heat", p_set=30.0)
    n.add("Link", "rural_hp", bus0="city", bus1="rural_x_heat", carrier="heat_pump", p_nom=60.0)
    n.add("Link", "urban_boiler", bus0="city", bus1="urban_heat", carrier="electric_boiler", p_nom=40.0)
    n.add("Store", "rural_store", bus="rural_x_heat", carrier="heat_storage", e_nom=500.0)
    n.add("Generator", ["stove_a", "stove_b"], bus="rural_x_heat", carrier="coal_stove", p_nom=0.0)
    n.add("Generator", "urban_coal", bus="urban_heat", carrier="coal_boiler", p_nom=0.0)
    return n


def test_partial_electrification_scales_electric_heat_and_sizes_coal_backup() -> None:
    """s = 0.25 on the rural bus: link 60 -> 15 MW, store 500 -> 125 MWh, each of the two stoves
    (1 - 0.25) x 100 / 2 = 37.5 MW; the urban bus is untouched."""
    n = _heated_network()
    apply_heating_electrification(n, ["rural_x_heat"], 0.25, key="heating.rural_electrified_share")
    assert n.links.at["rural_hp", "p_nom"] == pytest.approx(15.0)
    assert n.stores.at["rural_store", "e_nom"] == pytest.approx(125.0)
    assert n.generators.loc[["stove_a", "stove_b"], "p_nom"].tolist() == pytest.approx([37.5, 37.5])
    assert n.links.at["urban_boiler", "p_nom"] == pytest.approx(40.0)
    assert n.generators.at["urban_coal", "p_nom"] == 0.0


def test_full_electrification_changes_nothing_and_missing_backup_is_refused() -> None:
    n = _heated_network()
    apply_heating_electrification(n, ["rural_x_heat"], 1.0, key="k")
    assert n.links.at["rural_hp", "p_nom"] == 60.0
    n.remove("Generator", ["stove_a", "stove_b"])
    with pytest.raises(ScenarioError, match="fossil back-up"):
        apply_heating_electrification(n, ["rural_x_heat"], 0.5, key="heating.rural_electrified_share")


def test_heating_shares_below_one_need_a_source() -> None:
    with pytest.raises(ValueError, match="heating.source"):
        HeatingRealisation(rural_electrified_share=0.5)
    assert HeatingRealisation(rural_electrified_share=0.5, source="survey").urban_electrified_share == 1.0
    with pytest.raises(ValueError):
        HeatingRealisation(urban_electrified_share=1.2, source="x")


def _metrics(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric", "variant", "carrier", "bus", "value"]).assign(unit="")


def test_model_quantities_from_metrics_by_hand() -> None:
    """Wind 2 GW producing 4 TWh -> 2000 h; RE 6 of 10 TWh -> 60 %; curtailed 1 of 10 TWh -> 10 %."""
    metrics = _metrics([
        ("renewable_generation_local", "", "AC", "", 6.0),
        ("other_generation_local", "", "", "", 4.0),
        ("supply", "Generator", "onwind", "a", 4.0),
        ("capacity", "Generator", "onwind", "a", 1500.0),
        ("capacity", "Generator", "onwind", "b", 500.0),
        ("capacity", "Link", "onwind", "b", 9999.0),
        ("curtailment", "", "onwind", "a", 0.6),
        ("curtailment", "", "solar", "a", 0.4),
        ("available_energy", "", "onwind", "", 7.0),
        ("available_energy", "", "solar", "", 3.0),
        ("export", "uhv_zhangbei_xiongan", "", "xiongan", 2.5),
        ("export", "ac500_x", "", "north_hebei", 7.0),
        ("storage_discharge", "fengning_phs", "phs", "fengning", 1.25),
    ])
    q = {name: f(metrics) for name, f in MODEL_QUANTITIES.items()}
    assert q["wind_full_load_hours_h"] == pytest.approx(2000.0)
    assert q["renewable_share_of_generation_pct"] == pytest.approx(60.0)
    assert q["total_generation_twh"] == pytest.approx(10.0)
    assert q["curtailment_rate_pct"] == pytest.approx(10.0)
    assert q["green_corridor_exports_twh"] == pytest.approx(2.5)
    assert q["fengning_generation_twh"] == pytest.approx(1.25)


def _observed(tmp_path: Path, body: str) -> Path:
    header = "id,scenario,quantity,model_quantity,observed,observed_low,observed_high,unit,year,tag,source\n"
    path = tmp_path / "obs.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_compare_observed_values_and_ranges(tmp_path: Path) -> None:
    """Model 6 TWh vs observed 5 -> +1 TWh, +20 %; range 0-5 % vs model 10 % -> 5 pp above, outside."""
    path = _observed(
        tmp_path,
        "re,s,RE,renewable_generation_twh,5,,,TWh,2022,S,src\n"
        "cu,s,Curtailment,curtailment_rate_pct,,0,5,%,2022,S,src\n",
    )
    metrics = _metrics([
        ("renewable_generation_local", "", "AC", "", 6.0),
        ("curtailment", "", "onwind", "a", 1.0),
        ("available_energy", "", "onwind", "", 10.0),
    ])
    table = compare_observed(read_observed(path), metrics)
    re_row, cu_row = table.iloc[0], table.iloc[1]
    assert re_row["difference"] == pytest.approx(1.0)
    assert re_row["difference_pct"] == pytest.approx(20.0)
    assert re_row["within_range"] is None
    assert cu_row["modelled"] == pytest.approx(10.0)
    assert cu_row["difference"] == pytest.approx(5.0)
    assert cu_row["within_range"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x,s,q,no_such_quantity,1,,,TWh,2022,S,src\n", "unknown model_quantity"),
        ("x,s,q,renewable_generation_twh,,,,TWh,2022,S,src\n", "value or a full range"),
        ("x,s,q,renewable_generation_twh,9,1,5,TWh,2022,S,src\n", "range must contain"),
        ("x,s,q,renewable_generation_twh,1,,,TWh,2022,S,\n", "needs a source"),
    ],
)
def test_observed_table_rejects_bad_rows(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_observed(_observed(tmp_path, body))


def test_shipped_observed_tables_are_valid_and_name_shipped_scenarios() -> None:
    tables = sorted((ROOT / "data" / "observed").glob("*.csv"))
    assert tables, "data/observed/ holds the observed figures of the validation page"
    for path in tables:
        table = read_observed(path)
        assert len(table) >= 8
        for scenario in table["scenario"].unique():
            assert (ROOT / "scenarios" / f"{scenario}.yaml").is_file()


def test_validation_page_is_published_whole(tmp_path: Path) -> None:
    """One scenario result with metrics, one observed table: the page, table and figure land in
    results/validation/ (no temporary folder left), with the modelled value from the metrics."""
    from energy_model.report.validation import write_validation_page

    results = tmp_path / "results"
    scenario_dir = results / "s"
    scenario_dir.mkdir(parents=True)
    _metrics([("renewable_generation_local", "", "AC", "", 6.0)]).to_csv(
        scenario_dir / "metrics.csv", index=False
    )
    observed = tmp_path / "observed"
    observed.mkdir()
    _observed(observed, "re,s,RE,renewable_generation_twh,5,,,TWh,2022,S,src\n")
    page = write_validation_page(results, observed, [scenario_dir])
    assert page == results / "validation" / "index.html"
    table = pd.read_csv(results / "validation" / "validation.csv")
    assert table["modelled"].tolist() == pytest.approx([6.0])
    assert (results / "validation" / "observed_vs_modelled.png").stat().st_size > 0
    assert not [p for p in results.iterdir() if p.name.startswith(".")]
    assert write_validation_page(results, tmp_path / "none", [scenario_dir]) is None
