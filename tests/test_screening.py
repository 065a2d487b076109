"""Investment screening (energy_model.optimization.screening): fixing unbuilt options never changes the optimum.

Every test compares the screened solve with the plain solve of the same network (screening
switched off): the objectives must agree to 1e-9 relative, whether the candidates are certified,
released because they would pay, or released because the restricted LP is infeasible.

Networks (96 hourly snapshots, one electricity bus):
* wind 100 MW with availability 1, 1, 0, 0, … (two hours on, two off) at 0 CNY/MWh, gas
  200 MW at 100 CNY/MWh, load 50 MW. A 1-MW, 2-h battery earns at most 100 CNY per 4-hour
  cycle (it charges 2 MWh at 0 and saves 2 × 0.9 × 100 − … ≤ 200 CNY per cycle): with
  capital cost 1e6 CNY/MW it never pays, with 100 CNY/MW it always does.
* the hydrogen case adds an H2 bus with a flat 10 MW load, an extendable electrolyser
  (efficiency 0.7) and an extendable H2 store: the electrolyser runs flat out without the store,
  so the hourly split of its capacity rent is degenerate; the store is priced together with the
  electrolyser (its block) so the certificate does not depend on that split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pypsa
import pytest

from energy_model.optimization import screening
from energy_model.optimization.solve import solve
from energy_model.scenario import Scenario, ScreeningConfig, SolverConfig

pypsa.options.api.legacy_string_dtype = False

HOURS = 96


def _scenario(*, enabled: bool = True, coarse_segments: int = 8) -> Scenario:
    config = ScreeningConfig(enabled=enabled, coarse_segments=coarse_segments, min_snapshots=0)
    return Scenario(
        name="screening-test",
        network="unused",
        year=2022,
        solver=SolverConfig(options={"solver": "simplex", "threads": 1}, screening=config),
    )


def _network(battery_cost: float, hydrogen: bool = False) -> pypsa.Network:
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2022-01-01", periods=HOURS, freq="h"))
    n.add("Carrier", ["AC", "wind", "gas", "battery", "H2", "electrolysis", "h2_storage"])
    n.add("Bus", "el", carrier="AC")
    wind = np.tile([1.0, 1.0, 0.0, 0.0], HOURS // 4)
    n.add("Generator", "wind", bus="el", carrier="wind", p_nom=100, p_max_pu=wind, marginal_cost=0)
    n.add("Generator", "gas", bus="el", carrier="gas", p_nom=200, marginal_cost=100)
    n.add("Load", "demand", bus="el", p_set=50)
    n.add(
        "StorageUnit",
        "battery",
        bus="el",
        carrier="battery",
        p_nom_extendable=True,
        p_nom_max=1000,
        max_hours=2,
        efficiency_store=0.95,
        efficiency_dispatch=0.95,
        capital_cost=battery_cost,
        cyclic_state_of_charge=True,
    )
    if hydrogen:
        n.add("Bus", "h2", carrier="H2")
        n.add("Load", "h2_demand", bus="h2", p_set=10)
        n.add(
            "Link",
            "electrolysis",
            bus0="el",
            bus1="h2",
            carrier="electrolysis",
            efficiency=0.7,
            p_nom_extendable=True,
            capital_cost=500,
        )
        n.add(
            "Store",
            "h2_store",
            bus="h2",
            carrier="h2_storage",
            e_nom_extendable=True,
            e_nom_max=5000,
            e_cyclic=True,
            capital_cost=5000,
        )
    return n


def _solve_both(make_network, tmp_path, **kwargs):
    plain_network = make_network()
    plain = solve(plain_network, _scenario(enabled=False), tmp_path)
    screened_network = make_network()
    screened = solve(screened_network, _scenario(**kwargs), tmp_path)
    return plain, screened, plain_network, screened_network


def test_unprofitable_battery_is_screened_and_certified(tmp_path):
    plain, screened, _, n = _solve_both(lambda: _network(battery_cost=1e6), tmp_path)
    assert screened.screening["candidates"] == ["StorageUnit:battery"]
    assert screened.screening["released"] == []
    assert screened.screening["full_lp_solves"] == 1
    assert screened.objective == pytest.approx(plain.objective, rel=1e-9)
    assert n.storage_units.at["battery", "p_nom_opt"] == pytest.approx(0, abs=1e-9)
    assert {"screen", "build", "solve", "certify", "post"} <= set(screened.timings)


def test_profitable_battery_is_released_and_the_optimum_is_unchanged(tmp_path, monkeypatch):
    # Force the proposal: the coarse run would build this cheap battery, so pretend it did not.
    def propose(n, sc, project_root, mix_ratios=None):
        candidate = screening.Candidate("StorageUnit", "battery", "p_nom", 0.0, 100.0)
        return [candidate], screening.ScreeningReport(enabled=True, candidates=[candidate.key])

    monkeypatch.setattr("energy_model.optimization.solve.propose_candidates", propose)
    plain, screened, plain_n, n = _solve_both(lambda: _network(battery_cost=100), tmp_path)
    assert plain_n.storage_units.at["battery", "p_nom_opt"] > 1  # it does pay
    assert screened.screening["released"] == ["StorageUnit:battery"]
    assert screened.screening["full_lp_solves"] == 2
    assert screened.screening["pricing_savings_cny_per_yr"]["StorageUnit:battery"] > 0
    assert screened.objective == pytest.approx(plain.objective, rel=1e-9)
    assert n.storage_units.at["battery", "p_nom_opt"] == pytest.approx(
        plain_n.storage_units.at["battery", "p_nom_opt"], rel=1e-6
    )


def test_candidate_needed_for_feasibility_is_released(tmp_path, monkeypatch):
    def propose(n, sc, project_root, mix_ratios=None):
        candidate = screening.Candidate("Link", "electrolysis", "p_nom", 0.0, 500.0)
        return [candidate], screening.ScreeningReport(enabled=True, candidates=[candidate.key])

    monkeypatch.setattr("energy_model.optimization.solve.propose_candidates", propose)
    plain, screened, _, _ = _solve_both(lambda: _network(1e6, hydrogen=True), tmp_path)
    assert screened.screening["released"] == ["Link:electrolysis"]
    assert screened.objective == pytest.approx(plain.objective, rel=1e-9)


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_hydrogen_store_is_priced_with_its_electrolyser(tmp_path):
    plain, screened, plain_n, n = _solve_both(lambda: _network(1e6, hydrogen=True), tmp_path)
    assert plain_n.stores.at["h2_store", "e_nom_opt"] == pytest.approx(0, abs=1e-6)
    assert "Store:h2_store" in screened.screening["candidates"]
    assert "Link:electrolysis" not in screened.screening["candidates"]  # it is built
    assert screened.screening["released"] == []
    assert screened.objective == pytest.approx(plain.objective, rel=1e-9)
    members = screening.block_members(n, screening.Candidate("Store", "h2_store", "e_nom", 0.0, 5000.0))
    assert members == [("Link", "electrolysis"), ("Store", "h2_store")]


def test_battery_block_stops_at_the_electricity_bus(tmp_path):
    n = _network(1e6, hydrogen=True)
    members = screening.block_members(n, screening.Candidate("StorageUnit", "battery", "p_nom", 0.0, 1e6))
    assert members == [("StorageUnit", "battery")]


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_small_networks_and_switched_off_screening_solve_everything(tmp_path):
    n = _network(1e6)
    sc = _scenario().model_copy(
        update={"solver": SolverConfig(screening=ScreeningConfig(min_snapshots=HOURS + 1))}
    )
    result = solve(n, sc, tmp_path)
    assert result.screening["enabled"] is False
    assert "min_snapshots" in result.screening["reason"]
    assert result.screening["candidates"] == []
    off = solve(_network(1e6), _scenario(enabled=False), tmp_path)
    assert off.screening["reason"].startswith("switched off")


def test_pricing_detects_a_profitable_candidate_directly(tmp_path):
    """Price the cheap battery at the duals of the restricted LP, by hand.

    Without a battery the price is 0 CNY/MWh in the wind hours (wind spills) and 100 CNY/MWh in
    the gas hours. A price-taking battery of p_nom_max = 1000 MW charges 2 h at 0 (1.9 MWh per
    MW stored) and sells 1.9 x 0.95 = 1.805 MWh per MW at 100 in each of the 24 four-hour
    cycles: 4,332 CNY per MW, minus 100 CNY/MW capital cost -> saving 4,232,000 CNY.
    """
    n = _network(battery_cost=100)
    m = n.optimize.create_model(include_objective_constant=False)
    candidate = screening.Candidate("StorageUnit", "battery", "p_nom", 0.0, 100.0)
    screening.fix_candidates(m, [candidate])
    status, condition = m.solve(solver_name="highs", io_api="direct", output_flag=False)
    assert condition == "optimal"
    savings, failing = screening.certify(n, m, [candidate])
    assert failing == [candidate]
    assert savings["StorageUnit:battery"] == pytest.approx(1000 * (24 * 2 * 0.95 * 0.95 * 100 - 100), rel=1e-6)


def test_pricing_lp_solves_after_a_highs_run_with_another_thread_count():
    """HiGHS sizes a thread's task scheduler at its first run; a pricing LP (threads=1) run in
    the same thread after a two-thread run (the Pyomo cross-check's appsi solve, or any direct
    HiGHS run) ended "Not Set" before the scheduler was reset (it failed CI's slow tests)."""
    import highspy
    from scipy import sparse

    earlier = highspy.Highs()
    earlier.setOptionValue("output_flag", False)
    earlier.setOptionValue("threads", 2)
    earlier.addVar(0.0, 1.0)
    earlier.changeColCost(0, -1.0)
    earlier.run()
    # min -x0 - 2 x1 s.t. x0 + x1 <= 3, 0 <= x0 <= 2, 0 <= x1 <= 2: optimum x = (1, 2), -5
    value = screening._solve_block(
        np.array([-1.0, -2.0]), sparse.csr_matrix(np.array([[1.0, 1.0]])), np.array([-np.inf]),
        np.array([3.0]), np.zeros(2), np.full(2, 2.0),
    )
    assert value == pytest.approx(-5.0, rel=1e-7)
