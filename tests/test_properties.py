"""Property tests on random small networks (hypothesis), with targets that matter.

For random networks of 1–3 local buses (wind, extendable new wind, coal, load, optional
battery), lossy one-way links between them and an export link to an external market, the
engine first measures two shares under
the enforced rule: the share of the free (cost-optimal, unconstrained) solution ``s_free`` and
the largest reachable share ``s_max`` (Dinkelbach, :mod:`energy_model.optimization.reachable`).
Then it enforces a target drawn from them:

* **feasible**: ``s = s_free + u (s_max - s_free)``, ``u`` in [0.1, 1] (``s_max`` itself when
  ``u`` = 1), for ``electricity`` and ``final_energy`` targets. The solve must succeed, close
  the energy balance at every bus and snapshot, report every share within [0, 100] %, meet the
  target under the enforced rule and cost at least the free optimum.
* **infeasible** (``electricity`` targets, where ``s_max`` is exact): ``s = s_max + d``, ``d``
  in [0.5, 20] pp. The solve must raise :class:`InfeasibleError`, and the diagnosis must report
  a shortfall of at least ``s - s_max`` percentage points.

Examples are derandomised (the same networks on every run) and not shrunk (shrinking re-solves
for minutes). ``make test-slow`` runs ``PROPERTY_EXAMPLES`` examples (default 3; each solves 4-8
LPs of a few variables) and ``PROPERTY_EXAMPLES_SLOW`` more (default 60); ``make test`` runs only
the fixed zero-consumption case.
The enforced targets' distribution is printed with ``pytest --hypothesis-show-statistics``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pypsa
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from energy_model import accounting, checks
from energy_model.exceptions import InfeasibleError
from energy_model.network import configure_pypsa
from energy_model.optimization.diagnose import diagnose_infeasibility
from energy_model.optimization.reachable import compute_max_reachable_share
from energy_model.optimization.solve import solve_scenario as solve
from energy_model.scenario import Scenario

TESTS = Path(__file__).parent
ROOT = TESTS.parent
SHARE_METRICS = ("renewable_share", "renewable_share_electricity", "storage_renewable_fraction",
                 "target_achieved_share", "target_enforced_share")
TOLERANCE_PP = 1e-3

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def networks(draw) -> tuple[pypsa.Network, tuple[str, float, float], str]:
    """A random small network, the target placement (kind, u, d) and the indicator."""
    configure_pypsa()
    hours = draw(st.integers(min_value=2, max_value=4))
    buses = draw(st.integers(min_value=1, max_value=3))
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2022-01-01", periods=hours, freq="h"))
    n.add("Carrier", ["AC", "onwind", "coal", "dc", "export_market", "battery"])
    local = [f"b{i}" for i in range(buses)]
    n.add("Bus", local, carrier="AC", location="zhangjiakou")
    n.add("Bus", "ext", carrier="AC", location="beijing")
    n.add("Generator", "market", bus="ext", carrier="export_market", p_nom=1000.0,
          p_min_pu=-1.0, p_max_pu=0.0, marginal_cost=draw(st.floats(0.0, 200.0)))
    for bus in local:
        # bounds away from 0: hypothesis starts from the smallest values, and a network with
        # no load or no buildable wind has s_free = s_max, a target that tests nothing
        load = draw(st.lists(st.floats(10.0, 100.0), min_size=hours, max_size=hours))
        n.add("Load", f"{bus}_load", bus=bus, p_set=load)
        availability = draw(st.lists(unit, min_size=hours, max_size=hours))
        n.add("Generator", f"{bus}_wind", bus=bus, carrier="onwind",
              p_nom=draw(st.floats(0.0, 200.0)), p_max_pu=availability, marginal_cost=0.0)
        n.add("Generator", f"{bus}_coal", bus=bus, carrier="coal", p_nom=150.0,
              marginal_cost=300.0)
        # new wind the free optimum may not build: it opens a gap between s_free and s_max
        n.add("Generator", f"{bus}_new_wind", bus=bus, carrier="onwind", p_nom_extendable=True,
              p_nom_max=draw(st.floats(50.0, 300.0)), capital_cost=draw(st.floats(1000.0, 20000.0)),
              p_max_pu=draw(st.lists(st.floats(0.2, 1.0), min_size=hours, max_size=hours)),
              marginal_cost=0.0)
    for a, b in zip(local, local[1:], strict=False):
        for start, end in ((a, b), (b, a)):
            n.add("Link", f"{start}_{end}", bus0=start, bus1=end, carrier="dc",
                  p_nom=draw(st.floats(0.0, 100.0)), efficiency=draw(st.floats(0.8, 1.0)))
    n.add("Link", "export", bus0=local[0], bus1="ext", carrier="dc",
          p_nom=draw(st.floats(0.0, 100.0)), efficiency=draw(st.floats(0.8, 1.0)))
    if draw(st.booleans()):
        n.add("StorageUnit", "battery", bus=local[-1], carrier="battery",
              p_nom=draw(st.floats(0.0, 50.0)), max_hours=2.0, efficiency_store=0.9,
              efficiency_dispatch=0.9, cyclic_state_of_charge=True)
    # where the target lies: u in [0.1, 1] between s_free and s_max, or d above s_max
    placement = draw(st.sampled_from(["feasible", "feasible", "infeasible"]))
    u = draw(st.floats(0.1, 1.0))
    d = draw(st.floats(0.005, 0.2))
    indicator = draw(st.sampled_from(["electricity", "final_energy"]))
    return n, (placement, u, d), indicator


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tables")
    (root / "data").mkdir()
    shutil.copy(TESTS / "data" / "toy_final_energy.csv", root / "data" / "final_energy.csv")
    shutil.copy(ROOT / "data" / "coal_equivalent_factor.csv", root / "data")
    return root


def scenario_free(indicator: str) -> Scenario:
    """The scenario without the target enforced (the free optimum)."""
    sc = scenario(0.0, indicator)
    return sc.model_copy(update={"targets": [sc.targets[0].model_copy(update={"enforce": False})]})


def scenario(share: float, indicator: str) -> Scenario:
    return Scenario.model_validate({
        "name": "random", "network": "networks/random", "year": 2022,
        "targets": [{"name": "goal", "indicator": indicator, "min_share": share, "enforce": True}],
        "solver": {"options": {"solver": "simplex", "threads": 1}},
    })


def check_real_target(case, tables) -> None:
    n, (placement, u, d), indicator = case
    base = n.copy()
    probe = scenario(0.0, indicator)
    free = n.copy()
    free_result = solve(free, scenario_free(indicator), tables, diagnose=False)
    s_free = accounting.evaluate_enforced_target(free, probe, probe.targets[0], tables).share
    s_max = compute_max_reachable_share(base.copy(), probe, "goal", tables)
    assert s_max >= s_free - 1e-6, (s_max, s_free)  # the maximum is at least the free share

    if placement == "infeasible" and indicator == "electricity" and s_max + d <= 0.999:
        share = s_max + d
        event(f"infeasible target: {bucket(d)} pp above the largest reachable share")
        sc = scenario(share, indicator)
        with pytest.raises(InfeasibleError):
            solve(base.copy(), sc, tables, diagnose=False)
        diagnosis = diagnose_infeasibility(base.copy(), sc, tables, isolate=False)
        shortfall_pp = diagnosis.targets["goal"]["shortfall_pp"]
        assert shortfall_pp >= 100 * (share - s_max) - TOLERANCE_PP, (shortfall_pp, share, s_max)
        assert shortfall_pp <= 100 * share + TOLERANCE_PP
        return

    share = s_free + u * (s_max - s_free)
    event(f"feasible {indicator} target: {bucket(share - s_free)} pp above the free share")
    sc = scenario(share, indicator)
    result = solve(n, sc, tables, diagnose=False)

    # balance closes at every bus and snapshot (solve already ran all physical checks)
    net, gross = checks.compute_bus_balance(n)
    assert (net.abs() <= checks.BALANCE_RTOL * np.maximum(gross, 1.0)).all().all()

    metrics = accounting.compute_share_metrics(n, sc, tables, result.duals)
    shares = metrics[metrics.metric.isin(SHARE_METRICS) & metrics.unit.eq("%")]
    for _, row in shares.iterrows():
        value = float(row.value)
        assert -TOLERANCE_PP <= value <= 100 + TOLERANCE_PP, row.to_dict()

    enforced = metrics.query("metric == 'target_enforced_share' and variant == 'goal'").value
    assert float(enforced.iloc[0]) >= 100 * share - TOLERANCE_PP
    # the target is not free: it costs at least the free optimum
    assert result.objective >= free_result.objective - 1e-6 * max(1.0, abs(free_result.objective))


def bucket(pp: float) -> str:
    """Coarse class of a distance in shares [-] as percentage points, for hypothesis events."""
    value = 100 * pp
    for edge in (0.1, 1.0, 5.0, 10.0, 20.0):
        if value < edge:
            return f"< {edge:g}"
    return ">= 20"


PROPERTY_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a solve takes minutes
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@pytest.mark.slow  # > 15 s on 2 idle cores (about 20 LPs); make test-slow
@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "3")), **PROPERTY_SETTINGS)
@given(case=networks())
def test_random_networks_with_real_targets(case, tables):
    check_real_target(case, tables)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES_SLOW", "60")), **PROPERTY_SETTINGS,
          database=None)
@given(case=networks())
def test_random_networks_with_real_targets_many(case, tables):
    check_real_target(case, tables)


def test_zero_consumption_with_enforced_target(tables):
    """One bus, wind, no load: the share of nothing is reported within bounds, not a crash.

    (Found by the property test above: accounting divided by zero here.)
    """
    configure_pypsa()
    n = pypsa.Network()
    n.set_snapshots(pd.date_range("2022-01-01", periods=2, freq="h"))
    n.add("Carrier", ["AC", "onwind", "coal"])
    n.add("Bus", "b0", carrier="AC", location="zhangjiakou")
    n.add("Generator", "wind", bus="b0", carrier="onwind", p_nom=10.0, p_max_pu=[0.5, 1.0],
          marginal_cost=1.0)
    n.add("Generator", "coal", bus="b0", carrier="coal", p_nom=10.0, marginal_cost=300.0)
    n.add("Load", "load", bus="b0", p_set=[0.0, 0.0])
    sc = scenario(0.0, "electricity")
    result = solve(n, sc, tables, diagnose=False)
    metrics = accounting.compute_share_metrics(n, sc, tables, result.duals)
    checks.check_shares(metrics, sc)
    electricity = metrics.query("metric == 'renewable_share_electricity'")
    assert len(electricity) > 0 and (electricity.value == 0).all()
    assert float(metrics.query("metric == 'target_enforced_share'").value.iloc[0]) == 0.0
    assert result.objective == pytest.approx(0.0)  # nothing to serve: nothing dispatched
