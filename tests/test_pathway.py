"""Pathway over investment periods: spec, weightings, costs and a tiny hand-computed optimum.

The tiny network: one local bus with a constant 10 MW load, two snapshots of 4380 h each
(day, night), an existing coal unit (retired after 2031), an existing oil unit, and solar
candidates (available by day only) per period at the 2030 table's cost. Periods 2030 and 2035
stand for 5 years each, discount rate 0, so every number below can be worked out by hand.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from energy_model.exceptions import ScenarioError
from energy_model.pathway.build import (
    build_pathway_network,
    compute_candidate_cost,
    compute_period_weightings,
    load_base_network,
    load_cost_table,
)
from energy_model.pathway.solve import solve_myopic, solve_perfect
from energy_model.pathway.spec import PathwaySpec, load_pathway_spec

ROOT = Path(__file__).parent.parent
HOURS = 4380.0  # each of the two snapshots stands for half a year
LOAD_MW = 10.0
EUR_TO_CNY = 7.8747
# solar, 2030 table: 300 EUR/kW, FOM 1.95 %/a, lifetime 40 a; at r = 0 the annuity is 1/40
SOLAR_2030 = 300.0 * 1000 * (1 / 40 + 0.0195) * EUR_TO_CNY  # CNY/(MW a)
OPTIONS = {"threads": 1, "solver": "simplex", "output_flag": False, "log_to_console": False}

FILES = {
    "network.csv": "name,pypsa_version\ntiny,1.4.0\n",
    "snapshots.csv": ",snapshot,objective,stores,generators\n"
    "0,2030-01-01 00:00:00,4380,4380,4380\n1,2030-01-01 12:00:00,4380,4380,4380\n",
    "carriers.csv": "name,co2_emissions,color,nice_name\nAC,0,#000000,AC\n"
    "solar,0,#f9d002,Solar\ncoal,0.34,#545454,Coal\noil,0.27,#333333,Oil\n"
    "electricity_demand,0,#264653,Demand\n",
    "buses.csv": "name,carrier,location,unit,x,y\ntown,AC,zhangjiakou,MW,0,0\n",
    "generators.csv": "name,bus,capital_cost,carrier,lifetime,marginal_cost,p_nom\n"
    "town_coal,town,0,coal,32,{coal},20\n"
    "town_oil,town,0,oil,inf,{oil},20\n"
    "town_solar,town,0,solar,40,0,0\n",
    "generators-p_max_pu.csv": "snapshot,town_solar\n2030-01-01 00:00:00,1\n2030-01-01 12:00:00,0\n",
    "loads.csv": "name,bus,carrier\ntown_demand,town,electricity_demand\n",
    "loads-p_set.csv": "snapshot,town_demand\n2030-01-01 00:00:00,10\n2030-01-01 12:00:00,10\n",
}
FINAL_ENERGY = (
    "year,sector,fuel,renewable,value_mtce,source\n"
    "2030,industry,coal,false,0,[U] none outside the network (test)\n"
    "2035,industry,coal,false,0,[U] none outside the network (test)\n"
)


@pytest.fixture
def tiny_project(tmp_path: Path):
    """A project folder with the tiny network and the data tables; returns a spec writer."""

    def make(coal_cost: float, spec_text: str, oil_cost: float = 200.0) -> tuple[Path, Path]:
        project = tmp_path / "project"
        network = project / "networks" / "tiny"
        network.mkdir(parents=True, exist_ok=True)
        for name, text in FILES.items():
            (network / name).write_text(text.format(coal=coal_cost, oil=oil_cost), encoding="utf-8")
        data = project / "data"
        data.mkdir(exist_ok=True)
        for name in ("parameters.csv", "coal_equivalent_factor.csv",
                     "costs_2020_pypsa-china-pik_subset.csv", "costs_2030_pypsa-china-pik_subset.csv"):
            shutil.copy(ROOT / "data" / name, data / name)
        (data / "final_energy_tiny.csv").write_text(FINAL_ENERGY, encoding="utf-8")
        (project / "scenarios").mkdir(exist_ok=True)
        path = project / "scenarios" / "pathway-tiny.yaml"
        header = textwrap.dedent("""\
            kind: pathway
            name: pathway-tiny
            network: networks/tiny
            periods: [2030, 2035]
            last_period_years: 5
            discount_rate: 0.0
            segments: 2
            existing_build_year: {coal: 2000, oil: 2000}
            accounting: {final_energy_table: data/final_energy_tiny.csv}
            solver: {options: {threads: 1, solver: simplex}}
            """)
        path.write_text(header + textwrap.dedent(spec_text), encoding="utf-8")
        return project, path

    return make


def _build(project: Path, path: Path, tmp_path: Path):
    spec = load_pathway_spec(path)
    base = load_base_network(spec, project, path)
    return build_pathway_network(spec, project, base, tmp_path / "tables")


def test_period_weightings_by_hand() -> None:
    # 2022 stands for 3 years, 2025 for 5, discounted at 6 % to 2022
    w = compute_period_weightings([2022, 2025], {2022: 3, 2025: 5}, 0.06)
    assert w.at[2022, "objective"] == pytest.approx(1 + 1 / 1.06 + 1 / 1.06**2)
    assert w.at[2025, "objective"] == pytest.approx(sum(1.06 ** -(3 + i) for i in range(5)))
    assert list(w["years"]) == [3.0, 5.0]


def test_candidate_costs_reproduce_the_networks_and_plan_2035() -> None:
    """The 2020 table gives the base network's battery cost, the 2030 table plan-2035's costs."""
    c2020 = load_cost_table(ROOT / "data" / "costs_2020_pypsa-china-pik_subset.csv")
    c2030 = load_cost_table(ROOT / "data" / "costs_2030_pypsa-china-pik_subset.csv")
    battery_2020, life = compute_candidate_cost(c2020, "battery", 0.06, EUR_TO_CNY, max_hours=4)
    assert battery_2020 == pytest.approx(930251.049068, rel=1e-9)  # networks/zhangjiakou
    assert life == 20.0
    # scenarios/plan-2035.yaml overrides (2030 costs)
    assert compute_candidate_cost(c2030, "battery", 0.06, EUR_TO_CNY, 4)[0] == pytest.approx(525365.723226)
    assert compute_candidate_cost(c2030, "electrolysis", 0.06, EUR_TO_CNY)[0] == pytest.approx(328312.07249)
    assert compute_candidate_cost(c2030, "h2_storage", 0.06, EUR_TO_CNY)[0] == pytest.approx(29618.035119)


def test_spec_interpolates_targets_and_demand() -> None:
    spec = PathwaySpec(name="x", network="n", demand={"data_centre": {2022: 1.0, 2035: 6.25}})
    shares = spec.target_shares()
    assert shares[2022] == pytest.approx(0.30)
    assert shares[2030] == pytest.approx(0.30 + 0.20 * 8 / 13)
    assert shares[2035] == pytest.approx(0.50)
    assert spec.target_shares(last=0.70)[2035] == pytest.approx(0.70)
    assert spec.demand_scale("data_centre", 2035) == pytest.approx(6.25)
    assert spec.demand_scale("data_centre", 2025) == pytest.approx(6.25 ** (3 / 13))
    assert spec.demand_scale("heat", 2030) == 1.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("periods: [2030, 2025]\n", "<root>"),
        ("segmentz: 3\n", "segmentz"),
        ("targets: {anchors: {2030: 1.5}}\n", "targets.anchors.2030"),
        ("mga: {slacks: [0.02], technologies: [nuclear]}\n", "mga.technologies.0"),
    ],
)
def test_bad_spec_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nnetwork: networks/x\n" + text, encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_pathway_spec(path)
    assert err.value.exit_code == 2
    assert f"key '{key}'" in str(err.value)
    assert str(path) in str(err.value)


def test_spec_name_must_equal_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("name: bad\nnetwork: networks/x\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="file stem"):
        load_pathway_spec(path)


def test_the_shipped_spec_validates() -> None:
    spec = load_pathway_spec(ROOT / "scenarios" / "pathway-2035.yaml")
    assert spec.periods == [2022, 2025, 2030, 2035]
    assert spec.potentials_mw == {"wind": 40000.0, "solar": 30000.0}


def test_growth_limit_and_retirement_by_hand(tiny_project, tmp_path: Path) -> None:
    """Cheap solar, growth limit 6 MW per period, coal retired in 2035, no share target.

    Solar (cost ~105 kCNY/(MW a)) saves 438 kCNY/(MW a) of coal by day, so it is built up to the
    day load: 6 MW in 2030 (the limit), 4 MW more in 2035. By night coal (100 CNY/MWh) runs in
    2030; it retires after 2031 (build year 2000, lifetime 32), so oil (200) runs in 2035.
    """
    project, path = tiny_project(100.0, "targets: {enforce: false}\ngrowth_limits_mw: {solar: 6}\n")
    pn = _build(project, path, tmp_path)
    result, _ = solve_perfect(pn, project, OPTIONS)
    built = result.built
    assert built["town_solar-2030"] == pytest.approx(6.0, abs=1e-6)
    assert built["town_solar-2035"] == pytest.approx(4.0, abs=1e-6)
    costs = result.costs.set_index("period")
    opex_2030 = (4 * HOURS + LOAD_MW * HOURS) * 100.0  # coal: 4 MW by day, 10 MW by night
    opex_2035 = LOAD_MW * HOURS * 200.0  # oil by night, solar by day
    assert costs.at[2030, "opex_cny_per_a"] == pytest.approx(opex_2030, rel=1e-6)
    assert costs.at[2035, "opex_cny_per_a"] == pytest.approx(opex_2035, rel=1e-6)
    assert costs.at[2035, "capex_new_cny_per_a"] == pytest.approx(10 * SOLAR_2030, rel=1e-6)
    total = 5 * (6 * SOLAR_2030 + opex_2030) + 5 * (10 * SOLAR_2030 + opex_2035)
    assert result.total_cost == pytest.approx(total, rel=1e-6)
    assert result.objective == pytest.approx(total, rel=1e-6)
    capacity = result.capacities
    coal = capacity[(capacity["carrier"] == "coal")].set_index("period")["capacity"]
    assert coal.get(2030) == pytest.approx(20.0)
    assert 2035 not in coal.index  # retired


@pytest.mark.slow
def test_share_target_binds_by_hand(tiny_project, tmp_path: Path) -> None:
    """Cheap coal and oil (10 CNY/MWh): only the 25 % target builds solar.

    With no other final energy the share is the annual renewable mix R/T of the 87.6 GWh load:
    25 % needs 21.9 GWh = 5 MW x 4380 h, built once in 2030 (it serves 2035 as well).
    """
    project, path = tiny_project(10.0, "targets: {anchors: {2030: 0.25, 2035: 0.25}}\n", oil_cost=10.0)
    pn = _build(project, path, tmp_path)
    result, ratios = solve_perfect(pn, project, OPTIONS)
    assert result.built["town_solar-2030"] == pytest.approx(5.0, abs=1e-5)
    assert result.built["town_solar-2035"] == pytest.approx(0.0, abs=1e-5)
    shares = result.shares.set_index("period")
    assert shares.loc[2030, "achieved_share"] == pytest.approx(0.25, abs=1e-6)
    assert shares.loc[2035, "achieved_share"] == pytest.approx(0.25, abs=1e-6)
    assert shares["shadow_price_cny_per_pp_a"].gt(0).any()
    assert set(ratios) == {2030, 2035}
    opex = (5 * HOURS + LOAD_MW * HOURS) * 10.0  # fossil: 5 MW by day, 10 MW by night
    total = 5 * (5 * SOLAR_2030 + opex) + 5 * (5 * SOLAR_2030 + opex)
    assert result.total_cost == pytest.approx(total, rel=1e-6)


@pytest.mark.slow
def test_myopic_carries_capacity_forward_by_hand(tiny_project, tmp_path: Path) -> None:
    """Myopic foresight on the binding-target case builds the same 5 MW in 2030 (the 2030 vintage
    is also the cheapest way to meet 2035) and keeps it for 2035: same total cost."""
    project, path = tiny_project(10.0, "targets: {anchors: {2030: 0.25, 2035: 0.25}}\n", oil_cost=10.0)
    pn = _build(project, path, tmp_path)
    opex = (5 * HOURS + LOAD_MW * HOURS) * 10.0
    total = 5 * (5 * SOLAR_2030 + opex) + 5 * (5 * SOLAR_2030 + opex)
    myopic = solve_myopic(pn, project, OPTIONS)
    assert myopic.built["town_solar-2030"] == pytest.approx(5.0, abs=1e-5)
    assert myopic.total_cost == pytest.approx(total, rel=1e-6)
    assert (myopic.shares["margin_pp"] > -1e-4).all()


def test_reused_model_matches_a_fresh_build(tiny_project, tmp_path: Path) -> None:
    """Share rows re-made at new mix ratios (after a solve at other ratios, a re-weighted
    objective and fixed candidates, all undone) give the fresh build's objective and shares."""
    from energy_model.optimization.model import build_multi_period_model, run_highs, write_solution
    from energy_model.pathway.constraints import evaluate_period, pathway_constraints
    from energy_model.pathway.lp import PathwayModel

    project, path = tiny_project(10.0, "targets: {anchors: {2030: 0.25, 2035: 0.30}}\n", oil_cost=10.0)
    shares = {2030: 0.25, 2035: 0.30}
    ratios = {2030: 0.27, 2035: 0.33}
    fresh = _build(project, path, tmp_path / "fresh")
    m = build_multi_period_model(fresh.n, pathway_constraints(fresh, project, shares, ratios))
    assert run_highs(m, OPTIONS).optimal
    write_solution(fresh.n)
    expected = float(m.objective.value)
    expected_shares = {p: evaluate_period(fresh, p, shares[p], project).share for p in shares}

    pn = _build(project, path, tmp_path / "reused")
    pm = PathwayModel(pn, project, OPTIONS)
    pm.set_targets(shares, {2030: 0.5, 2035: 0.5})
    assert pm.solve().optimal
    weights = pn.n.investment_period_weightings.copy()
    weights.loc[2035, "objective"] = 0.0
    pm.set_weightings(weights)
    pm.set_targets(shares, {2030: 0.1})
    pm.set_contract_periods([2030])
    pm.set_candidates({"town_solar-2030": 3.0}, ["town_solar-2035"])
    assert pm.solve().optimal
    assert pn.n.investment_period_weightings.loc[2035, "objective"] == 0.0
    pm.reset()
    pm.set_targets(shares, ratios)
    assert pm.solve().optimal
    pm.write()
    assert float(pm.m.objective.value) == pytest.approx(expected, rel=1e-6)
    for p, share in expected_shares.items():
        assert evaluate_period(pn, p, shares[p], project).share == pytest.approx(share, rel=1e-6)
    assert share > shares[2035]  # the ratio 0.33 over-fulfils 2035: a case where the rows matter


@pytest.mark.slow
def test_target_out_of_reach_reports_the_largest_share(tiny_project, tmp_path: Path) -> None:
    """Solar growth limited to 2 MW per period: by day 2 MW (2030) and 4 MW (2035) of the 10 MW
    load are the most the network can make renewable, i.e. 2 x 4380 / 87600 = 10 % and 20 %
    (no other final energy). A 25 % target is out of reach in both periods: perfect foresight
    raises with those shares (after restarting from the largest mix ratio); myopic foresight
    solves each period at its largest share and reports it."""
    from energy_model.pathway.solve import TargetOutOfReachError

    project, path = tiny_project(10.0, "targets: {anchors: {2030: 0.25, 2035: 0.25}}\n"
                                 "growth_limits_mw: {solar: 2}\n", oil_cost=10.0)
    pn = _build(project, path, tmp_path)
    with pytest.raises(TargetOutOfReachError, match="out of reach") as err:
        solve_perfect(pn, project, OPTIONS)
    assert err.value.exit_code == 3
    assert err.value.reachable[2030] == pytest.approx(0.10, abs=1e-5)
    assert err.value.reachable[2035] == pytest.approx(0.20, abs=1e-5)
    myopic = solve_myopic(pn, project, OPTIONS)
    # 2030 is solved 1e-5 below its largest share, so 2035 inherits up to 1e-5 less solar
    assert myopic.unreached == pytest.approx({2030: 0.10, 2035: 0.20}, abs=2e-5)
    shares = myopic.shares.set_index("period")
    assert not shares["target_met"].any()
    assert shares.loc[2035, "achieved_share"] == pytest.approx(0.20, abs=1e-4)


def test_cli_bad_spec_exits_2(tmp_path: Path, capsys) -> None:
    from energy_model.cli import main

    path = tmp_path / "scenarios" / "bad.yaml"
    path.parent.mkdir()
    path.write_text("name: bad\nnetwork: networks/x\nperiodz: [2030]\n", encoding="utf-8")
    assert main(["pathway", str(path), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err
    assert "key 'periodz'" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_bundle_end_to_end(tiny_project, tmp_path: Path) -> None:
    """The runner writes every table, figure and the page; every period meets its target."""
    import pandas as pd

    from energy_model.pathway.runner import run_pathway

    project, path = tiny_project(10.0, """\
        targets: {anchors: {2030: 0.25, 2035: 0.25}}
        cost_curve: [0.30]
        mga: {slacks: [0.05], technologies: [solar]}
        """, oil_cost=10.0)
    folder = run_pathway(path, project / "results", project)
    for name in ("shares.csv", "capacities.csv", "costs.csv", "cost_curve.csv", "mga.csv",
                 "capacities.png", "cost_curve.png", "mga_ranges.png", "index.html", "run.json"):
        assert (folder / name).is_file(), name
    shares = pd.read_csv(folder / "shares.csv")
    assert (shares[shares["enforced"]]["margin_pp"] > -1e-4).all()
    mga = pd.read_csv(folder / "mga.csv").set_index("sense")
    assert mga.at["min", "value_mw"] == pytest.approx(5.0, abs=1e-4)  # the target needs 5 MW
    assert mga.at["max", "value_mw"] > 5.0
    curve = pd.read_csv(folder / "cost_curve.csv").set_index("variant")
    assert curve.at["target_30", "total_cost_bn_cny"] > curve.at["no_targets", "total_cost_bn_cny"]


def test_scenario_loader_refuses_a_pathway_spec_and_the_pathway_prefix(tmp_path: Path) -> None:
    """A kind: pathway file is not a single-year scenario (exit 2, key 'kind'); a single-year
    scenario may not take a pathway's result-folder name; a pathway must carry the prefix."""
    from energy_model.scenario import is_pathway_file, load_scenario

    pathway = tmp_path / "pathway-x.yaml"
    pathway.write_text("kind: pathway\nname: pathway-x\nnetwork: networks/x\n", encoding="utf-8")
    assert is_pathway_file(pathway)
    with pytest.raises(ScenarioError, match="key 'kind'") as err:
        load_scenario(pathway)
    assert err.value.exit_code == 2
    single = tmp_path / "pathway-y.yaml"
    single.write_text("name: pathway-y\nnetwork: networks/x\nyear: 2022\n", encoding="utf-8")
    assert not is_pathway_file(single)
    with pytest.raises(ScenarioError, match="prefix of pathway result folders"):
        load_scenario(single)
    unprefixed = tmp_path / "route.yaml"
    unprefixed.write_text("kind: pathway\nname: route\nnetwork: networks/x\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="must start with 'pathway-'"):
        load_pathway_spec(unprefixed)
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [pathway\n", encoding="utf-8")
    assert not is_pathway_file(broken)  # the scenario loader reports the YAML error


def test_cli_run_dispatches_a_pathway_spec(tiny_project, tmp_path: Path, capsys) -> None:
    """`run` hands a kind: pathway file to the pathway runner (exit 0, its bundle; a bad key of
    the pathway schema exits 2); a command that cannot run a pathway refuses it with exit 2."""
    from energy_model.cli import main

    project, path = tiny_project(100.0, "targets: {enforce: false}\nforesight: [perfect]\n")
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results), "-q"]) == 0
    assert (results / "pathway-tiny" / "index.html").is_file()
    assert main(["validate", str(path), "-q"]) == 0
    capsys.readouterr()
    assert main(["crosscheck", str(path), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "key 'kind'" in err
    assert len(err.strip().splitlines()) == 1
    bad = project / "scenarios" / "pathway-bad.yaml"
    bad.write_text("kind: pathway\nname: pathway-bad\nnetwork: networks/tiny\nperiodz: [1]\n",
                   encoding="utf-8")
    assert main(["run", str(bad), "--results", str(results)]) == 2
    assert "key 'periodz'" in capsys.readouterr().err
