"""Every PyPSA/linopy internal the engine uses (optimization/compat.py), on a tiny network.

Each test fails loudly when an upgrade of PyPSA or linopy changes the internal it relies on:
a renamed row block, a removed setter, a moved label counter, a solver object no longer kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pypsa
import pytest

from energy_model.network import configure_pypsa
from energy_model.optimization import compat
from energy_model.optimization.model import auxiliary_solver_options, build_model, run_highs


@pytest.fixture(scope="module")
def template() -> pypsa.Network:
    """One bus, a fixed wind farm (p_max_pu series), an extendable gas plant, a load."""
    configure_pypsa()
    n = pypsa.Network()
    n.set_snapshots(pd.RangeIndex(3))
    n.add("Carrier", ["wind", "gas", "AC"])
    n.add("Bus", "b", carrier="AC")
    n.add("Generator", "wind", bus="b", carrier="wind", p_nom=100.0,
          p_max_pu=pd.Series([0.2, 0.5, 0.9]))
    n.add("Generator", "gas", bus="b", carrier="gas", p_nom_extendable=True,
          capital_cost=10.0, marginal_cost=50.0)
    n.add("Load", "demand", bus="b", p_set=pd.Series([60.0, 60.0, 60.0]))
    return n


@pytest.fixture
def network(template: pypsa.Network) -> pypsa.Network:
    """A fresh copy of :func:`template` (tests build models on it and solve it)."""
    return template.copy()


def test_fixed_limit_rows_are_found_by_name(network: pypsa.Network) -> None:
    m = network.optimize.create_model(include_objective_constant=False)
    blocks = {(b.constraint, b.variable, b.side) for b in compat.fixed_limit_rows(m)}
    # PyPSA 1.4 writes the fixed wind farm's dispatch limits as these two row blocks
    assert ("Generator-fix-p-upper", "Generator-p", "upper") in blocks
    assert ("Generator-fix-p-lower", "Generator-p", "lower") in blocks
    for block in blocks:
        assert block[0] in m.constraints and block[1] in m.variables


def test_set_variable_bounds_changes_the_bounds(network: pypsa.Network) -> None:
    m = network.optimize.create_model(include_objective_constant=False)
    variable = m.variables["Generator-p"]
    upper = variable.upper.copy()
    upper[:] = 7.0
    compat.set_variable_bounds(variable, upper=upper)
    assert float(m.variables["Generator-p"].upper.max()) == 7.0


def test_variable_label_count_bounds_every_label(network: pypsa.Network) -> None:
    m = network.optimize.create_model(include_objective_constant=False)
    largest = max(int(v.labels.max()) for v in m.variables.data.values())
    count = compat.variable_label_count(m)
    assert count == largest + 1


def test_detach_solver_model_lets_a_solved_network_be_copied(network: pypsa.Network) -> None:
    m = build_model(network)
    run = run_highs(m, auxiliary_solver_options({}))
    assert run.optimal
    # linopy keeps the live HiGHS object after a direct-API solve ...
    assert getattr(network.model, "solver_model", None) is not None
    compat.detach_solver_model(network)
    assert network.model.solver_model is None
    copy = network.copy()  # ... which n.copy() would refuse
    assert list(copy.generators.index) == ["wind", "gas"]


def test_limits_as_bounds_keep_the_optimum(network: pypsa.Network) -> None:
    """Hand-computed optimum: wind covers 20/50/60 MW, gas the rest (40 MW peak)."""
    objectives = []
    for as_bounds in (False, True):
        n = network.copy()
        m = build_model(n, limits_as_bounds=as_bounds)
        assert run_highs(m, auxiliary_solver_options({})).optimal
        objectives.append(float(m.objective.value))
    gas = np.array([40.0, 10.0, 0.0])
    expected = 10.0 * gas.max() + 50.0 * gas.sum()
    assert objectives == pytest.approx([expected, expected], rel=1e-9)


def test_attach_model_writes_a_solution_into_another_copy(network: pypsa.Network) -> None:
    """A model built and solved on one copy is written into another copy (same snapshots)."""
    built, other = network.copy(), network.copy()
    m = build_model(built)
    assert run_highs(m, auxiliary_solver_options({})).optimal
    window = compat.model_window(built)
    assert window is not None
    compat.attach_model(other, m, window)
    other.optimize.assign_solution()
    # hand-computed: wind covers 20/50/60 MW of the 60 MW load, gas the rest
    assert other.generators_t.p["gas"].tolist() == pytest.approx([40.0, 10.0, 0.0])
    compat.attach_model(other, None)
    assert other._model is None and compat.model_window(other) is None


def test_solver_run_seconds_is_highs_own_clock(network: pypsa.Network) -> None:
    m = build_model(network)
    run = run_highs(m, auxiliary_solver_options({}))
    seconds = compat.solver_run_seconds(m)
    assert 0.0 < seconds <= run.seconds
    assert np.isnan(compat.solver_run_seconds(build_model(network.copy())))


def test_native_solver_is_the_highs_object_after_a_direct_solve() -> None:
    import linopy
    from linopy.solvers import Solver

    from energy_model.optimization.compat import native_solver

    m = linopy.Model()
    x = m.add_variables(lower=0, name="x")
    m.add_constraints(x >= 2, name="c")
    m.add_objective(3 * x)
    solver = Solver.from_name("highs", model=m, io_api="direct", options={"output_flag": False})
    solver.solve(assign=True)
    highs = native_solver(solver)
    assert highs.getObjectiveValue() == pytest.approx(6.0)
    assert len(highs.getBasis().col_status) == 1
