"""Independent Pyomo formulation against PyPSA/linopy on PyPSA's examples and toy networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pypsa
import pytest

from energy_model.crosscheck import (
    OBJECTIVE_RTOL,
    CrosscheckUnsupportedError,
    build_pyomo_model,
    run_crosscheck,
    solve_pyomo_model,
)
from energy_model.scenario import ExportContract, Scenario, TimeResolution
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


def test_unsupported_feature_is_refused() -> None:
    n = _toy()
    n.generators.loc["coal", "ramp_limit_up"] = 0.5
    with pytest.raises(CrosscheckUnsupportedError, match="ramp_limit_up"):
        build_pyomo_model(n)
