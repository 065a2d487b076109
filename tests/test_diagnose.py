"""Infeasibility diagnosis on toy networks whose shortfalls are computed by hand.

Toy (tests/data/networks/toy, see tests/test_solve.py): wind 100 MW with availability
(1.0, 0.2, 0.0, 0.5), coal 200 MW, load 80 MW, corridor 50 MW with efficiency 0.9.

* Contract of 200 MWh delivered: the corridor delivers at most 50 · 4 · 0.9 = 180 MWh → 20 MWh short.
* Load scaled ×4 (320 MW): supply is at most 300, 220, 200, 250 MW → unserved 20 + 100 + 120 + 70
  = 310 MWh in 4 h, peak 120 MW at 02:00.
* Electricity share ≥ 90 %: wind used locally is at most min(wind, load) per hour, 80 + 20 + 0 + 50
  = 150 MWh of 320 MWh consumption (the 20 MWh surplus of hour 0 is exported or curtailed), so
  0.9 · 320 − 150 = 138 MWh of renewable electricity are missing (43.125 pp).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from energy_model.exceptions import InfeasibleError
from energy_model.network import apply_scenario, load_network
from energy_model.optimization import diagnose
from energy_model.optimization.solve import solve
from energy_model.scenario import load_scenario, resolve_project_path

CONTRACT_200_MWH = "export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.0002}]\n"
LOAD_X4 = "overrides: [{component: loads, attribute: p_set, name: [demand], scale: 4}]\n"


def prepare(path):
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network))
    apply_scenario(n, sc, file=path)
    return sc, n


def test_unreachable_contract(make_project):
    path = make_project(CONTRACT_200_MWH)
    sc, n = prepare(path)
    buses_before = n.generators.index.tolist()
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    assert d.relaxed_condition == "optimal"
    assert d.contracts["beijing"]["shortfall_mwh"] == pytest.approx(20, abs=1e-3)
    assert d.shortfalls.empty
    assert "export contract 'beijing'" in d.summary
    assert "20.0 MWh short" in d.summary
    assert "0.00018 TWh" in d.summary
    assert "\n" not in d.summary
    assert n.generators.index.tolist() == buses_before  # the network itself is not changed


def test_unserved_demand_by_bus_and_hour(make_project):
    path = make_project(LOAD_X4)
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    assert len(d.shortfalls) == 1
    row = d.shortfalls.iloc[0]
    assert (row.bus, row.carrier, row.kind) == ("local", "AC", "unserved")
    assert row.energy_mwh == pytest.approx(310, abs=1e-3)
    assert row.hours == 4
    assert row.peak_mw == pytest.approx(120, abs=1e-3)
    assert (row["first"], row["last"]) == ("2022-01-01 00:00", "2022-01-01 03:00")
    assert ("electricity demand at bus 'local' is short by 310.0 MWh in 4 h between "
            "2022-01-01 00:00 and 2022-01-01 03:00 (peak 120.0 MW)") in d.summary


def test_solve_puts_diagnosis_into_error(make_project):
    path = make_project(CONTRACT_200_MWH)
    sc, n = prepare(path)
    with pytest.raises(InfeasibleError) as info:
        solve(n, sc, path.parents[1])
    message = str(info.value)
    assert "not optimal" in message
    assert "Diagnosis:" in message
    assert "export contract 'beijing' (>= 0.0002 TWh/yr) cannot be met" in message
    assert "\n" not in message


def test_contract_and_demand_are_isolated(make_project):
    """Both fail: the contract is impossible on its own, the demand is short even without it."""
    path = make_project(LOAD_X4 + CONTRACT_200_MWH)
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    label = "export contract 'beijing' (>= 0.0002 TWh/yr)"
    assert d.isolated[label] == "cannot be met even with unlimited load shedding"
    assert d.isolated[diagnose.DEMAND_ALONE].startswith("forces 310.0 MWh")
    assert "without any contract or target, demand still forces 310.0 MWh" in d.summary
    # local demand has priority over the contract (VOLL > contract penalty): nothing exported
    assert d.contracts["beijing"]["shortfall_mwh"] == pytest.approx(200, abs=1e-3)
    assert d.shortfalls.energy_mwh.sum() == pytest.approx(310, abs=1e-3)


def test_unreachable_share_target(make_project):
    path = make_project(
        "targets: [{name: clean_power, indicator: electricity, min_share: 0.9, enforce: true}]\n"
        + LOAD_X4.replace("scale: 4", "scale: 1")
    )
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    info = d.targets["clean_power"]
    # annual mix: R = wind 170 MWh (100+20+0+50, the 20 MWh surplus of hour 0 exported, which
    # beats curtailing it: +20 in R, +18 in 0.9 T), T = consumption 320 + exports 20 = 340 MWh;
    # shortfall = 0.9 T - R = 306 - 170 = 136 MWh = 40 pp of T
    assert info["unit"] == "MWh"
    assert info["shortfall"] == pytest.approx(0.9 * 340 - 170, abs=1e-2)
    assert info["shortfall_pp"] == pytest.approx(100 * 136 / 340, abs=1e-3)
    assert "renewable-share target 'clean_power' (>= 90.0 % of local electricity) cannot be met" \
        in d.summary
    assert d.shortfalls.empty


def heat_network(folder):
    """Add a heat bus with an 60 MW heat load and a 10 MW (electric) heat pump, COP 3."""
    with (folder / "buses.csv").open("a", encoding="utf-8") as f:
        f.write("heat,heat,zhangjiakou,114.9,40.8\n")
    with (folder / "carriers.csv").open("a", encoding="utf-8") as f:
        f.write("heat,Heat,#d62728,0.0\nheat_pump,Heat pump,#ff7f0e,0.0\n")
    with (folder / "loads.csv").open("a", encoding="utf-8") as f:
        f.write("heat_demand,heat,60.0\n")
    with (folder / "links.csv").open("a", encoding="utf-8") as f:
        f.write("heat_pump,local,heat,heat_pump,10.0,3.0,0.0,1.0\n")


def test_heat_demand_shortfall(make_project):
    path = make_project()
    heat_network(path.parents[1] / "networks" / "toy")
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    row = d.shortfalls.iloc[0]
    assert (row.bus, row.carrier, row.kind) == ("heat", "heat", "unserved")
    assert row.energy_mwh == pytest.approx((60 - 30) * 4, abs=1e-3)  # 30 MW heat from 10 MW el.
    assert "heat demand at bus 'heat' is short by 120.0 MWh in 4 h" in d.summary


def test_excess_supply_is_reported(make_project):
    """Must-run coal (p_min_pu 1, 200 MW) exceeds the 80 MW load plus the 50 MW corridor."""
    path = make_project(
        "overrides: [{component: generators, attribute: p_min_pu, name: [coal], set: 1.0}]\n"
    )
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    row = d.shortfalls.iloc[0]
    assert (row.bus, row.kind) == ("local", "excess")
    # all wind is curtailed; 200 - 80 - 50 = 70 MW cannot be absorbed in each of the 4 hours
    assert row.energy_mwh == pytest.approx(280, abs=1e-3)
    assert "280.0 MWh of excess supply at bus 'local' cannot be absorbed" in d.summary


def test_unbounded_names_the_component(make_project):
    """A link from 'outside' back to 'outside' paid 1 CNY/MWh to run, extendable without limit."""
    path = make_project()
    folder = path.parents[1] / "networks" / "toy"
    (folder / "links.csv").write_text(
        "name,bus0,bus1,carrier,p_nom,p_nom_extendable,marginal_cost,efficiency,p_min_pu,p_max_pu\n"
        "corridor,local,outside,dc,50.0,False,0.0,0.9,0.0,1.0\n"
        "loop,outside,outside,dc,0.0,True,-1.0,1.0,0.0,1.0\n",
        encoding="utf-8",
    )
    sc, n = prepare(path)
    with pytest.raises(InfeasibleError) as info:
        solve(n, sc, path.parents[1])
    message = str(info.value)
    assert info.value.condition in {"unbounded", "infeasible_or_unbounded"}
    assert "unbounded, not short of supply" in message
    assert "Link 'loop' can grow without limit at a negative cost" in message


def test_slack_capacity_covers_the_network(make_project):
    sc, n = prepare(make_project())
    # 2 x (80 MW load + 100 + 200 + 1000 MW generators + 50 MW corridor), at least 1000 MW
    assert diagnose.compute_slack_capacity(n) == pytest.approx(2 * (80 + 1300 + 50))


ZHANGJIAKOU = Path(__file__).parent.parent / "networks" / "zhangjiakou"


@pytest.mark.slow
@pytest.mark.skipif(not ZHANGJIAKOU.is_dir(), reason="networks/zhangjiakou not built")
def test_zhangjiakou_annual_contracts_in_two_weeks(tmp_path):
    """plan-2022's annual contracts (14.1 and 7 TWh) cannot be delivered in two weeks."""
    path = tmp_path / "scenarios" / "two-weeks.yaml"
    path.parent.mkdir()
    path.write_text(
        f"network: {ZHANGJIAKOU.resolve().as_posix()}\nyear: 2022\n"
        "snapshots: {start: '2022-01-10', end: '2022-01-23 23:00'}\n"
        "export_contracts:\n"
        "  - {name: beijing, links: [vsc_zhangbei_beijing, vsc_fengning_beijing], min_energy_twh: 14.1}\n"
        "  - {name: xiongan, links: [uhv_zhangbei_xiongan], min_energy_twh: 7.0}\n",
        encoding="utf-8",
    )
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, tmp_path)
    for name in ("beijing", "xiongan"):
        assert d.contracts[name]["shortfall_mwh"] > 0.5 * d.contracts[name]["required_mwh"]
    assert d.isolated["export contract 'beijing' (>= 14.1 TWh/yr)"] == (
        "cannot be met even with unlimited load shedding")
    assert d.shortfalls.empty


def test_isolation_is_skipped_for_slow_relaxed_solves(make_project, monkeypatch):
    monkeypatch.setattr(diagnose, "ISOLATE_MAX_SECONDS", -1.0)
    path = make_project(LOAD_X4 + CONTRACT_200_MWH)
    sc, n = prepare(path)
    d = diagnose.diagnose_infeasibility(n, sc, path.parents[1])
    assert d.isolation_skipped
    assert not d.isolated
    assert "were not tried one by one" in d.summary
    assert "export contract 'beijing'" in d.summary  # the relaxed findings are still reported


def test_cli_exit_3_with_diagnosis_and_results_untouched(make_project, tmp_path, capsys):
    import logging

    from energy_model.cli import main

    path = make_project(CONTRACT_200_MWH)
    results = tmp_path / "results"
    previous = results / "toy-2022"
    previous.mkdir(parents=True)
    (previous / "run.json").write_text('{"status": "ok"}\n', encoding="utf-8")
    try:
        code = main(["run", str(path), "--results", str(results)])
    finally:
        logging.getLogger().handlers.clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err[-1].startswith("infeasible: scenario 'toy-2022'")
    assert "Diagnosis: scenario 'toy-2022' is infeasible: export contract 'beijing'" in err[-1]
    assert sorted(p.name for p in results.iterdir()) == ["toy-2022"]
    assert [p.name for p in previous.iterdir()] == ["run.json"]
