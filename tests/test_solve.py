"""Solve stage on the toy network, whose optimum is computed by hand.

Toy (tests/data/networks/toy): wind 100 MW with availability (1.0, 0.2, 0.0, 0.5), coal 200 MW
at 300 CNY/MWh, load 80 MW, corridor 50 MW with efficiency 0.9 to a market paying 100 CNY/MWh.

Without contract: coal covers 0 + 60 + 80 + 30 = 170 MWh → 51,000 CNY; the 20 MWh wind surplus
in hour 0 is exported, 18 MWh delivered → −1,800 CNY. Optimum 49,200 CNY.

With a 50 MWh delivery contract: 32 MWh more must be delivered, i.e. 32/0.9 MWh more coal at
300 CNY/MWh, each delivered MWh earning 100 → extra cost 32/0.9·300 − 32·100 = 7,466.67 CNY;
optimum 56,666.67 CNY; the contract's dual is (300/0.9 − 100) = 233.33 CNY per delivered MWh.
"""

from __future__ import annotations

import pytest

from energy_model.exceptions import InfeasibleError
from energy_model.network import apply_scenario, load_network
from energy_model.optimization.constraints import export_contract_name
from energy_model.optimization.solve import solve
from energy_model.scenario import load_scenario, resolve_project_path


def prepare(path):
    sc = load_scenario(path)
    n = load_network(resolve_project_path(path, sc.network))
    apply_scenario(n, sc, file=path)
    return sc, n


def test_toy_optimum_matches_hand_calculation(make_project):
    path = make_project()
    sc, n = prepare(path)
    result = solve(n, sc, path.parents[1])
    assert result.condition == "optimal"
    assert result.objective == pytest.approx(49_200, rel=1e-6)
    assert n.generators_t.p["coal"].sum() == pytest.approx(170, abs=1e-4)
    assert n.links_t.p0["corridor"].tolist() == pytest.approx([20, 0, 0, 0], abs=1e-4)
    assert set(result.timings) == {"screen", "build", "solve", "post"}
    assert result.screening["enabled"] is False  # 4 snapshots: below min_snapshots


def test_export_contract_binds_with_hand_computed_dual(make_project):
    path = make_project("export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.00005}]\n")
    sc, n = prepare(path)
    result = solve(n, sc, path.parents[1])
    assert result.objective == pytest.approx(49_200 + 32 / 0.9 * 300 - 32 * 100, rel=1e-6)
    delivered = (n.links_t.p0["corridor"] * 0.9).sum()
    assert delivered == pytest.approx(50, abs=1e-4)
    dual = result.duals[export_contract_name(sc.export_contracts[0])]
    assert abs(dual) == pytest.approx(300 / 0.9 - 100, rel=1e-4)


def test_unreachable_contract_is_infeasible(make_project):
    # The corridor can deliver at most 50 MW * 4 h * 0.9 = 180 MWh.
    path = make_project("export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.0002}]\n")
    sc, n = prepare(path)
    with pytest.raises(InfeasibleError) as info:
        solve(n, sc, path.parents[1])
    assert "not optimal" in str(info.value)
    assert info.value.condition in {"infeasible", "infeasible_or_unbounded"}


def test_solver_options_reach_highs(make_project):
    path = make_project("solver: {options: {solver: simplex, threads: 1}}\n")
    sc, n = prepare(path)
    result = solve(n, sc, path.parents[1])
    assert result.solver_options["solver"] == "simplex"
    assert result.objective == pytest.approx(49_200, rel=1e-6)


def test_fixed_limit_rows_become_variable_bounds(make_project):
    """PyPSA's ``Generator-fix-p-upper`` rows (p <= p_max_pu * p_nom) turn into bounds with the
    same values; the optimum is unchanged (hand-computed 49,200 CNY above)."""
    from energy_model.optimization.constraints import move_fixed_limits_to_bounds

    sc, n = prepare(make_project())
    m = n.optimize.create_model(include_objective_constant=False)
    rows_before = m.ncons
    rhs = m.constraints["Generator-fix-p-upper"].rhs.sel(name="wind").values.copy()
    moved = move_fixed_limits_to_bounds(m)
    assert moved > 0
    assert m.ncons == rows_before - moved
    assert "Generator-fix-p-upper" not in m.constraints
    assert m.variables["Generator-p"].upper.sel(name="wind").values.tolist() == pytest.approx(
        rhs.tolist()
    )
    assert rhs.tolist() == pytest.approx([100, 20, 0, 50])  # availability x 100 MW
    m.solve(solver_name="highs", io_api="direct", output_flag=False)
    assert m.objective.value == pytest.approx(49_200, rel=1e-6)


def test_store_capacity_is_reported_in_mwh(tmp_path):
    """``capacity`` rows: power in MW, a Store's e_nom in MWh."""
    import pandas as pd
    import pypsa

    from energy_model.analysis.metrics import compute_core_metrics
    from energy_model.scenario import Scenario

    pypsa.options.api.legacy_string_dtype = False
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(4))
    n.add("Carrier", ["AC", "gas", "tank"])
    n.add("Bus", "el", carrier="AC")
    n.add("Generator", "gas", bus="el", carrier="gas", p_nom=100, marginal_cost=[10, 50, 10, 50])
    n.add("Load", "demand", bus="el", p_set=20)
    n.add("Store", "tank", bus="el", carrier="tank", e_nom=30, e_cyclic=True)
    sc = Scenario(name="units", network="unused", year=2022)
    result = solve(n, sc, tmp_path)
    metrics = compute_core_metrics(n, sc, result)
    capacity = metrics[metrics["metric"] == "capacity"].set_index("variant")
    assert capacity.loc["Store", "unit"] == "MWh"
    assert capacity.loc["Store", "value"] == pytest.approx(30)
    assert capacity.loc["Generator", "unit"] == "MW"


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_a_solved_network_can_be_solved_again_with_screening(make_project):
    """The mix-ratio iteration solves one network several times; screening copies it each time
    (its coarse run), which PyPSA refuses while the last solve's HiGHS object is attached."""
    path = make_project(
        "solver: {screening: {min_snapshots: 0, coarse_segments: 2}, options: {solver: simplex}}\n"
        "overrides:\n"
        "  - {component: generators, name: [wind], attribute: p_nom_extendable, set: true}\n"
        "  - {component: generators, name: [wind], attribute: capital_cost, set: 10.0}\n"
    )
    sc, n = prepare(path)
    first = solve(n, sc, path.parents[1])
    assert first.screening["enabled"] is True  # the coarse run copies the network
    second = solve(n, sc, path.parents[1])
    assert second.objective == pytest.approx(first.objective, rel=1e-9)


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_enforced_final_energy_target_with_screening(make_project):
    """The mix-ratio iteration with the screening's coarse run on: both LPs get the ratio.

    Coal at 50 CNY/MWh makes the toy export coal power; its free annual-mix share is 23.8 %,
    so 25 % binds.
    """
    from energy_model.accounting import evaluate_enforced_target
    from energy_model.optimization.solve import solve_scenario

    path = make_project(
        "targets: [{name: goal, indicator: final_energy, min_share: 0.25, enforce: true}]\n"
        "overrides:\n"
        "  - {component: generators, name: [coal], attribute: marginal_cost, set: 50}\n"
        "  - {component: generators, name: [wind], attribute: p_nom_extendable, set: true}\n"
        "  - {component: generators, name: [wind], attribute: capital_cost, set: 10.0}\n"
        "  - {component: generators, name: [wind], attribute: p_nom_max, set: 100.0}\n"
        "solver: {screening: {min_snapshots: 0, coarse_segments: 2}, options: {solver: simplex}}\n"
    )
    sc, n = prepare(path)
    result = solve_scenario(n, sc, path.parents[1], diagnose=False)
    assert result.screening["enabled"] is True
    assert len(result.mix_iterations) >= 2  # the free solve, then at least one fixed ratio
    state = evaluate_enforced_target(n, sc, sc.targets[0], path.parents[1])
    assert state.share >= 0.25 - 1e-6
