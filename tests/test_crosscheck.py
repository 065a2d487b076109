"""Independent Pyomo formulation against PyPSA/linopy on PyPSA's examples, toy networks and
enforced renewable-share targets (segment-aggregated Zhangjiakou network)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pypsa
import pytest
import yaml

from energy_model import accounting as acc
from energy_model import cli
from energy_model.analysis.crosscheck import (
    OBJECTIVE_RTOL,
    CrosscheckUnsupportedError,
    build_pyomo_model,
    classify_share_roles,
    run_crosscheck,
    solve_pyomo_model,
)
from energy_model.network import apply_scenario, load_network
from energy_model.scenario import (
    AccountingConfig,
    ExportContract,
    Scenario,
    Target,
    TimeResolution,
    load_scenario,
    resolve_project_path,
)
from energy_model.timeseries import apply_time_resolution

pypsa.options.api.legacy_string_dtype = False

EXAMPLES = Path(__file__).parent / "data" / "pypsa-examples"
OPTIONS = {"threads": 1, "solver": "simplex"}

# PyPSA's CSV importer leaves meta.json/crs.json open (ResourceWarning at garbage collection).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _reference_objective(name: str) -> float:
    """Objective PyPSA stored with its own solved example (includes the objective constant)."""
    network_csv = pd.read_csv(EXAMPLES / "reference-results" / name / "network.csv")
    return float(network_csv["objective"].iloc[0])


def _objective_constant(n: pypsa.Network) -> float:
    """Capital cost of the capacity that extendable assets already have [currency]."""
    total = 0.0
    for component, attr in [
        ("Generator", "p_nom"),
        ("Link", "p_nom"),
        ("StorageUnit", "p_nom"),
        ("Store", "e_nom"),
        ("Line", "s_nom"),
    ]:
        static = n.components[component].static
        if static.empty:
            continue
        ext = static[static[f"{attr}_extendable"].astype(bool)]
        total += float((ext["capital_cost"] * ext[attr]).sum())
    return total


@pytest.mark.parametrize("name", ["ac-dc-meshed", "storage-hvdc"])
def test_pyomo_matches_pypsa_and_pypsas_stored_result(name: str) -> None:
    n = pypsa.Network(EXAMPLES / name)
    constant = _objective_constant(n)
    result = run_crosscheck(n, solver_options=OPTIONS)
    assert result.ok, result.summary()
    assert result.rel_diff <= OBJECTIVE_RTOL
    assert result.pypsa_max_violation <= 1e-6
    assert result.pypsa_cost_in_pyomo == pytest.approx(result.objective_pypsa, rel=1e-9)
    # PyPSA's stored optimum subtracts the capital cost of already existing extendable capacity
    assert result.objective_pyomo - constant == pytest.approx(_reference_objective(name), rel=1e-6)
    assert set(result.build_seconds) == {"linopy", "pyomo"}
    if name == "ac-dc-meshed":  # unique optimum: dispatch identical, incl. KVL flows on AC and DC lines
        assert result.dispatch_diffs["Line-p0"] < 1e-6
        assert result.max_dispatch_diff < 1e-4


def test_model_energy_segmented_matches() -> None:
    """Stores, storage units, hydrogen links and 3-hourly weightings, on 100 tsam segments."""
    n = pypsa.Network(EXAMPLES / "model-energy")
    apply_time_resolution(n, TimeResolution(method="segment", segments=100))
    result = run_crosscheck(n, solver_options=OPTIONS)
    assert result.ok, result.summary()
    # capacities are unique here even where hourly dispatch is not
    for label in ["Generator-p_nom", "StorageUnit-p_nom", "Store-e_nom", "Link-p_nom"]:
        assert result.dispatch_diffs[label] < 1e-3 * 1e5


def _toy(with_contract_link: bool = True) -> pypsa.Network:
    sns = pd.date_range("2022-01-01", periods=24, freq="h")
    n = pypsa.Network()
    n.set_snapshots(sns)
    n.add("Carrier", ["AC", "onwind", "coal"])
    n.add("Bus", "local", carrier="AC")
    n.add("Bus", "beijing", carrier="AC")
    wind = 0.5 + 0.4 * np.sin(np.arange(24) / 24 * 2 * np.pi)
    n.add("Load", "demand", bus="local", p_set=80.0)
    n.add("Load", "beijing_demand", bus="beijing", p_set=150.0)
    n.add(
        "Generator",
        "wind",
        bus="local",
        carrier="onwind",
        p_nom_extendable=True,
        capital_cost=500.0,
        p_max_pu=pd.Series(wind, index=sns),
    )
    n.add("Generator", "coal", bus="local", carrier="coal", p_nom=200.0, marginal_cost=40.0)
    n.add("Generator", "beijing_gen", bus="beijing", carrier="coal", p_nom=200.0, marginal_cost=10.0)
    efficiency = pd.Series(np.linspace(0.9, 0.95, 24), index=sns)
    n.add("Link", "export", bus0="local", bus1="beijing", p_nom=100.0, efficiency=efficiency)
    return n


def _scenario(min_twh: float) -> Scenario:
    return Scenario(
        name="toy",
        network="networks/toy",
        year=2022,
        export_contracts=[ExportContract(name="beijing", links=["export"], min_energy_twh=min_twh)],
        solver={"options": OPTIONS},
    )


def test_export_contract_with_time_varying_efficiency_matches(tmp_path: Path) -> None:
    free = run_crosscheck(_toy(), _scenario(0.0), tmp_path)
    bound = run_crosscheck(_toy(), _scenario(0.0012), tmp_path)
    assert free.ok and bound.ok, (free.summary(), bound.summary())
    assert bound.objective_pyomo > free.objective_pyomo * 1.001  # the contract binds


def test_a_different_network_gives_a_different_objective() -> None:
    """The comparison can fail: the Pyomo LP of a changed network no longer matches PyPSA."""
    n = _toy()
    n.optimize(solver_name="highs", include_objective_constant=False, solver_options=OPTIONS)
    changed = _toy()
    changed.generators.loc["coal", "marginal_cost"] = 41.0
    model, _ = build_pyomo_model(changed)
    _, objective = solve_pyomo_model(model, OPTIONS)
    assert abs(objective / n.objective - 1) > 1e-3


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_scheduled_storage_unit_matches(tmp_path: Path) -> None:
    """A storage unit on a fixed daily schedule (p_set: pump 4 h, generate 3 h, as the
    grid-scheduled Fengning plant): both LPs fix its net output, so the objectives agree and the
    schedule costs something against a free storage unit."""
    hours = np.arange(24)
    schedule = np.where(hours < 4, -20.0, np.where((hours >= 17) & (hours < 20), 20.0 * 0.81 * 4 / 3, np.nan))
    scheduled = _toy()
    scheduled.add("StorageUnit", "phs", bus="local", carrier="coal", p_nom=30.0, max_hours=6,
                  efficiency_store=0.9, efficiency_dispatch=0.9, cyclic_state_of_charge=True,
                  p_set=pd.Series(schedule, index=scheduled.snapshots))
    result = run_crosscheck(scheduled, _scenario(0.0), tmp_path)
    assert result.ok, result.summary()
    free = _toy()
    free.add("StorageUnit", "phs", bus="local", carrier="coal", p_nom=30.0, max_hours=6,
             efficiency_store=0.9, efficiency_dispatch=0.9, cyclic_state_of_charge=True)
    unscheduled = run_crosscheck(free, _scenario(0.0), tmp_path)
    assert result.objective_pyomo > unscheduled.objective_pyomo


def test_unsupported_feature_is_refused() -> None:
    n = _toy()
    n.generators.loc["coal", "ramp_limit_up"] = 0.5
    with pytest.raises(CrosscheckUnsupportedError, match="ramp_limit_up"):
        build_pyomo_model(n)


# ----------------------------------------------------------------------------------------------
# enforced renewable-share targets (annual mix rules) in the Pyomo LP
# ----------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
TARGET = "goal"


def _roles_network() -> pypsa.Network:
    """A fresh copy of :func:`_build_roles_network` (built once per process)."""
    return _build_roles_network().copy()


@functools.cache
def _build_roles_network() -> pypsa.Network:
    """Six 2-h snapshots with every component role of the accounting (docs/accounting.md §1).

    Local electricity buses ``north``/``south`` (internal links with losses), a non-local
    ``beijing`` reached by a one-way HVDC link, a two-way tie link and an AC line; a heat bus with
    a heat pump (time-varying COP), a coal stove, a biomass boiler (renewable heat) and heat from a
    gas CHP link (district heat); a straw-fired link (renewable conversion output); a battery on a
    storage bus (charger/discharger links and a store), a store and a storage unit on an
    electricity bus; electrolysis to a hydrogen load. Costs are set so that every role is used
    and changes the optimum when the target binds.
    """
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(6, name="snapshot"))
    n.snapshot_weightings.loc[:, :] = 2.0
    n.add("Carrier", ["AC", "heat", "gas", "straw", "battery", "h2", "onwind", "coal",
                      "export_market", "grid_import", "ac_internal", "hvdc", "ac_line",
                      "heat_pump", "coal_stove", "biomass_boiler", "chp", "biomass",
                      "battery_charger", "flywheel", "electrolysis", "gas_supply", "straw_supply",
                      "h2_demand", "demand"])
    local = "zhangjiakou"
    for bus, carrier in [("north", "AC"), ("south", "AC"), ("heat", "heat"), ("gas", "gas"),
                         ("straw", "straw"), ("battery", "battery"), ("h2", "h2")]:
        n.add("Bus", bus, carrier=carrier, location=local, v_nom=220)
    n.add("Bus", "beijing", carrier="AC", location="beijing", v_nom=220)
    n.add("Generator", "wind", bus="north", carrier="onwind", p_nom_extendable=True,
          p_nom_max=400, capital_cost=60.0, p_max_pu=[0.9, 0.7, 0.2, 0.1, 0.5, 0.8])
    n.add("Generator", "coal", bus="south", carrier="coal", p_nom=300, marginal_cost=25.0)
    n.add("Generator", "market", bus="beijing", carrier="export_market", p_nom=200, p_min_pu=-1,
          p_max_pu=0, marginal_cost=[30.0, 28.0, 35.0, 40.0, 32.0, 29.0])
    n.add("Generator", "import", bus="beijing", carrier="grid_import", p_nom=100,
          marginal_cost=45.0)
    n.add("Generator", "gas_supply", bus="gas", carrier="gas_supply", p_nom=200, marginal_cost=9.0)
    n.add("Generator", "straw_supply", bus="straw", carrier="straw_supply", p_nom=50,
          marginal_cost=6.0)
    n.add("Generator", "stove", bus="heat", carrier="coal_stove", p_nom=60, efficiency=0.5,
          marginal_cost=10.0)
    n.add("Generator", "biomass_boiler", bus="heat", carrier="biomass_boiler", p_nom=20,
          efficiency=0.85, marginal_cost=20.0)
    n.add("Load", "north_demand", bus="north", carrier="demand", p_set=[60, 70, 80, 90, 75, 65.0])
    n.add("Load", "south_demand", bus="south", carrier="demand", p_set=50.0)
    n.add("Load", "heat_demand", bus="heat", carrier="heat", p_set=[60, 65, 70, 75, 70, 65.0])
    n.add("Load", "h2_demand", bus="h2", carrier="h2_demand", p_set=5.0)
    for name, bus0, bus1 in [("north_to_south", "north", "south"),
                             ("south_to_north", "south", "north")]:
        n.add("Link", name, bus0=bus0, bus1=bus1, carrier="ac_internal", p_nom=200,
              efficiency=0.98, marginal_cost=0.1)
    n.add("Link", "hvdc", bus0="north", bus1="beijing", carrier="hvdc", p_nom=80, efficiency=0.97)
    n.add("Link", "south_tie", bus0="south", bus1="beijing", carrier="ac_internal", p_nom=40,
          p_min_pu=-1)
    n.add("Line", "line", bus0="north", bus1="beijing", carrier="ac_line", x=10.0, r=1.0,
          s_nom=50)
    n.add("Link", "heat_pump", bus0="north", bus1="heat", carrier="heat_pump", p_nom=10,
          efficiency=[2.5, 2.8, 3.2, 3.5, 3.0, 2.6])
    n.add("Link", "chp", bus0="gas", bus1="south", bus2="heat", carrier="chp", p_nom=60,
          efficiency=0.4, efficiency2=0.45)
    n.add("Link", "straw_power", bus0="straw", bus1="south", carrier="biomass", p_nom=40,
          efficiency=0.3)
    n.add("Link", "charger", bus0="north", bus1="battery", carrier="battery_charger",
          p_nom_extendable=True, capital_cost=5.0, efficiency=0.95)
    n.add("Link", "discharger", bus0="battery", bus1="north", carrier="battery_charger",
          p_nom_extendable=True, efficiency=0.95)
    n.add("Store", "battery_store", bus="battery", carrier="battery", e_nom_extendable=True,
          capital_cost=2.0, e_cyclic=True)
    n.add("Store", "flywheel", bus="south", carrier="flywheel", e_nom=30, e_cyclic=True,
          standing_loss=0.02)
    n.add("StorageUnit", "phs", bus="south", carrier="battery", p_nom=20, max_hours=4,
          efficiency_store=0.95, efficiency_dispatch=0.95, cyclic_state_of_charge=True)
    n.add("Link", "electrolysis", bus0="south", bus1="h2", carrier="electrolysis", p_nom=20,
          efficiency=0.65)
    return n


def _write_tables(root: Path) -> Path:
    """Project folder with the final-energy and coal-equivalent tables of the roles network."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "final_energy.csv").write_text(
        "year,sector,fuel,renewable,value_mtce,source\n"
        "2022,industry,coal,false,0.0002,test\n"
        "2022,households,biomass,true,0.00003,test\n",
        encoding="utf-8",
    )
    (root / "data" / "coal_equivalent_factor.csv").write_text(
        "year,gce_per_kwh,source\n2010,330,test\n2030,290,test\n", encoding="utf-8"
    )
    return root


def _share_scenario(
    share: float, indicator: str = "final_energy", valuation: str = "coal_equivalent",
    *, ambient: bool = False,
) -> Scenario:
    return Scenario(
        name="roles",
        network="networks/roles",
        year=2022,
        solver={"options": OPTIONS},
        accounting=AccountingConfig(electricity_valuation=valuation, include_ambient_heat=ambient),
        targets=[Target(name=TARGET, indicator=indicator, min_share=share, enforce=True)],
    )


def _pyomo_optimum(
    n: pypsa.Network, sc: Scenario, root: Path, ratios: dict[str, float] | None = None
) -> tuple[float, Any]:
    """Objective of the Pyomo LP alone (final-energy targets at fixed mix ``ratios``)."""
    model, builder = build_pyomo_model(n, sc, root, mix_ratios=ratios)
    condition, objective = solve_pyomo_model(model, OPTIONS)
    assert condition == "optimal"
    return objective, builder


def _reported_share(metrics: pd.DataFrame) -> float:
    """The accounting's enforced (annual_mix) share of the target [-]."""
    hit = metrics[(metrics["metric"] == "target_enforced_share") & (metrics["variant"] == TARGET)]
    return float(hit["value"].iloc[0]) / 100


# free optimum of the roles network: final-energy share 48.6 % (coal-equivalent), 38.4 %
# (calorific with ambient heat), annual mix 70.9 %: each target below binds
ROLE_CASES = [
    pytest.param(0.55, "final_energy", "coal_equivalent", False, id="final_energy-coal_equivalent"),
    pytest.param(0.45, "final_energy", "calorific", True, id="final_energy-calorific-ambient"),
    pytest.param(0.80, "electricity", "coal_equivalent", False, id="electricity"),
]


@pytest.mark.parametrize(("share", "indicator", "valuation", "ambient"), ROLE_CASES)
def test_enforced_target_matches_pypsa_on_every_role(
    tmp_path: Path, share: float, indicator: str, valuation: str, ambient: bool
) -> None:
    """Binding target: objectives and duals agree, and the Pyomo share is the accounting's."""
    root = _write_tables(tmp_path)
    sc = _share_scenario(share, indicator, valuation, ambient=ambient)
    free, _ = _pyomo_optimum(_roles_network(), sc.model_copy(update={"targets": []}), root)

    n = _roles_network()
    result = run_crosscheck(n, sc, root, solver_options=OPTIONS)
    assert result.ok, result.summary()
    assert result.rel_diff <= OBJECTIVE_RTOL
    assert result.objective_pyomo > free + 1e-3 * abs(free)  # the target binds

    target = result.targets[TARGET]
    assert target["share_pyomo"] == pytest.approx(share, abs=1e-9)  # at the Pyomo optimum
    reported = _reported_share(acc.compute_share_metrics(n, sc, root))
    assert reported == pytest.approx(share, abs=1e-7)  # PyPSA's optimum, accounting's code
    assert target["share_pypsa"] == pytest.approx(reported, abs=1e-9)  # same dispatch, both codes

    # the dual is unique here (equal left and right slopes of the optimum in s), so both
    # formulations must give it; envelope theorem: d objective / d s = dual * denominator
    delta = 1e-4
    # (the same LP: final-energy targets at the engine's last fixed mix ratio)
    low, _ = _pyomo_optimum(_roles_network(), _share_scenario(share - delta, indicator, valuation,
                                                              ambient=ambient), root,
                            result.mix_ratios)
    high, _ = _pyomo_optimum(_roles_network(), _share_scenario(share + delta, indicator,
                                                               valuation, ambient=ambient), root,
                             result.mix_ratios)
    left, right = (result.objective_pyomo - low) / delta, (high - result.objective_pyomo) / delta
    # s multiplies variables (s * T, s * D), so the optimum is curved in s: one-sided slopes
    # differ by O(delta), here ~2e-4 relative
    assert left == pytest.approx(right, rel=1e-3)
    assert target["dual_pyomo"] > 0
    assert target["dual_pyomo"] == pytest.approx(target["dual_pypsa"], rel=1e-6)
    slope = target["dual_pyomo"] * target["denominator_pyomo"]
    assert slope == pytest.approx((left + right) / 2, rel=1e-3)


def test_roles_are_classified_as_documented() -> None:
    roles = classify_share_roles(_roles_network(), _share_scenario(0.3))
    assert roles.storage_buses == {"battery"}
    assert roles.renewable_generators == ["wind"]
    assert roles.heat_generators == ["stove", "biomass_boiler"]
    assert sorted(roles.border_link_ports) == [("hvdc", 0), ("south_tie", 0)]
    assert roles.border_line_ends == [("line", 0)]
    assert sorted(roles.internal_links) == ["north_to_south", "south_to_north"]
    assert sorted(roles.storage_link_ports) == [("charger", 0), ("discharger", 1)]
    assert sorted(roles.conversion_ports) == [
        ("chp", 1), ("electrolysis", 0), ("heat_pump", 0), ("straw_power", 1)
    ]
    assert roles.renewable_conversion_ports == [("straw_power", 1)]
    assert roles.district_heat_ports == [("chp", 2)]
    assert roles.heat_pumps == ["heat_pump"]
    assert roles.stores == ["flywheel"] and roles.storage_units == ["phs"]


SEGMENTS = 48


def _zhangjiakou_scenario(tmp_path: Path, indicator: str, share: float) -> Path:
    """plan-2022 on 48 segments with one enforced target, as a scenario file in ``tmp_path``."""
    raw = yaml.safe_load((ROOT / "scenarios" / "plan-2022.yaml").read_text(encoding="utf-8"))
    raw["name"] = "plan-2022-enforced"
    raw["network"] = str(ROOT / raw["network"])
    raw["time"] = {"method": "segment", "segments": SEGMENTS}
    raw["targets"] = [{"name": TARGET, "indicator": indicator, "min_share": share,
                       "enforce": True}]
    path = tmp_path / "scenarios" / "plan-2022-enforced.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _prepared(path: Path) -> tuple[Scenario, pypsa.Network]:
    """Scenario and network of a scenario file, the scenario applied (as the CLI does)."""
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network), sc.allow_custom_columns)
    apply_scenario(n, sc, file=path)
    return sc, n


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_zhangjiakou_segments_enforced_final_energy_target(tmp_path: Path) -> None:
    """33 % of final energy enforced on plan-2022 (48 segments; the free optimum gives 30.4 %)."""
    sc, n = _prepared(_zhangjiakou_scenario(tmp_path, "final_energy", 0.33))
    free, _ = _pyomo_optimum(n.copy(), sc.model_copy(update={"targets": []}), ROOT)
    result = run_crosscheck(n, sc, ROOT)
    assert result.ok, result.summary()
    assert result.rel_diff <= OBJECTIVE_RTOL
    assert result.objective_pyomo > free + 1e-3 * abs(free)  # binds
    target = result.targets[TARGET]
    assert target["share_pyomo"] == pytest.approx(0.33, abs=1e-7)
    reported = _reported_share(acc.compute_share_metrics(n, sc, ROOT))
    assert reported >= 0.33 - 1e-6  # the reported headline share meets the target
    assert reported == pytest.approx(0.33, abs=1e-6)
    assert target["share_pypsa"] == pytest.approx(reported, abs=1e-7)
    # at the converged mix ratio the fixed-ratio LP sits on a kink in s (the ratio was chosen
    # so that the share row is just tight: lowering s frees nothing, raising it needs more
    # local consumption), so its dual is not unique and is not compared here; the roles test
    # above compares duals where they are unique
    assert result.mix_ratios[TARGET] > 0


def test_cli_crosscheck_of_an_enforced_scenario(make_project,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``energy-model crosscheck`` on the toy project with a final-energy target enforced.

    With coal at 50 CNY/MWh the toy exports coal power (90 CNY/MWh at the far end), which
    dilutes the annual mix; enforcing 25 % caps the exports.
    """
    path = make_project(
        f"targets: [{{name: {TARGET}, indicator: final_energy, min_share: 0.25, enforce: true}}]\n"
        "overrides: [{component: generators, name: [coal], attribute: marginal_cost, set: 50}]\n"
        "solver: {options: {solver: simplex, threads: 1}}\n"
    )
    code = cli.main(["crosscheck", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.rstrip().endswith("OK")
    assert f"target {TARGET}: share >= 25.00 %, pyomo 25.0000 %, pypsa 25.0000 %" in out
    objective = float(re.search(r"objective pypsa (\S+),", out).group(1))
    sc, n = _prepared(path)
    free, _ = _pyomo_optimum(n, sc.model_copy(update={"targets": []}), path.parent.parent)
    assert objective > free + 1e-3 * abs(free)  # the target binds


def test_enforced_target_is_no_longer_refused(tmp_path: Path) -> None:
    root = _write_tables(tmp_path)
    model, builder = build_pyomo_model(_roles_network(), _share_scenario(0.3), root,
                                       mix_ratios={TARGET: 0.5})
    assert list(model.renewable_share) == [TARGET]
    assert list(model.renewable_mix) == [TARGET]
    assert builder.shares[TARGET].min_share == 0.3
    with pytest.raises(ValueError, match="project_root"):
        build_pyomo_model(_roles_network(), _share_scenario(0.3))


def test_unsupported_features_are_still_refused_with_an_enforced_target(tmp_path: Path) -> None:
    root = _write_tables(tmp_path)
    n = _roles_network()
    n.generators.loc["coal", "ramp_limit_up"] = 0.5
    with pytest.raises(CrosscheckUnsupportedError, match="ramp_limit_up"):
        run_crosscheck(n, _share_scenario(0.3), root, solver_options=OPTIONS)
    # a renewable link whose electricity port changes sign has no linear renewable output
    n = _roles_network()
    n.links.loc["straw_power", "p_min_pu"] = -1.0
    with pytest.raises(CrosscheckUnsupportedError, match="straw_power"):
        build_pyomo_model(n, _share_scenario(0.3), root, mix_ratios={TARGET: 0.5})
