"""Physics that cannot hold and solves that stop early: exit 3 with the right diagnosis.

Tiny variants of the toy network (two buses, 4 hours): a bus with demand and nothing that could
supply it, a CO2 cap that no dispatch meets, a solve stopped by its time limit; and solver
options that write files, which land in the result folder and are recorded as passed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from energy_model.checks import check_supply
from energy_model.cli import main
from energy_model.exceptions import InfeasibleError
from energy_model.network import load_network


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def network_of(scenario: Path) -> Path:
    return scenario.parent.parent / "networks" / "toy"


def run(scenario: Path, results: Path, capsys) -> tuple[int, str]:
    code = main(["run", str(scenario), "--results", str(results)])
    return code, capsys.readouterr().err.strip()


def add_island(folder: Path) -> None:
    with (folder / "buses.csv").open("a", encoding="utf-8") as handle:
        handle.write("island,AC,zhangjiakou,0.0,0.0\n")
    with (folder / "loads.csv").open("a", encoding="utf-8") as handle:
        handle.write("town,island,5.0\n")


def test_bus_without_any_supply_is_infeasible_naming_the_bus(make_project, tmp_path, capsys):
    """Before: PyPSA's 'Empty LHS with non-zero RHS' ValueError, exit 1 (unexpected error)."""
    scenario = make_project()
    add_island(network_of(scenario))
    code, err = run(scenario, tmp_path / "results", capsys)
    assert code == 3, err
    assert len(err.splitlines()) == 1
    assert "bus 'island' has a demand of up to 5 MW but nothing could ever supply it" in err
    assert not (tmp_path / "results" / "toy-2022").exists()


def test_check_supply_counts_links_lines_and_extendable_capacity(toy_copy):
    add_island(toy_copy)
    n = load_network(toy_copy)
    with pytest.raises(InfeasibleError, match="bus 'island'"):
        check_supply(n)
    n.add("Link", "feeder", bus0="local", bus1="island", p_nom=10.0)  # a link into the island
    check_supply(n)
    n.links.at["feeder", "p_nom"] = 0.0  # no capacity and not extendable: cannot supply
    with pytest.raises(InfeasibleError, match="bus 'island'"):
        check_supply(n)
    n.links.at["feeder", "p_nom_extendable"] = True
    check_supply(n)


def test_infeasible_global_constraint_is_named(make_project, tmp_path, capsys):
    """Coal emits 1 t/MWh, a cap of 0 t: hour 3 has no wind, so nothing meets the demand.

    Before: the diagnosis blamed a supply shortage at bus 'local' (load shedding relaxes it).
    """
    scenario = make_project()
    folder = network_of(scenario)
    carriers = folder / "carriers.csv"
    carriers.write_text(carriers.read_text(encoding="utf-8").replace(
        "coal,Coal,#555555,0.0", "coal,Coal,#555555,1.0"), encoding="utf-8")
    (folder / "global_constraints.csv").write_text(
        "name,type,carrier_attribute,sense,constant\nco2_cap,primary_energy,co2_emissions,<=,0.0\n",
        encoding="utf-8",
    )
    code, err = run(scenario, tmp_path / "results", capsys)
    assert code == 3, err
    assert "infeasible because of the global constraint(s) 'co2_cap'" in err
    assert "co2_emissions <= 0" in err
    assert "unbounded" not in err


def test_time_limit_is_reported_as_a_time_limit(make_project, tmp_path, capsys):
    """Before: '... is time limit ... so the problem is unbounded' (the diagnosis of an LP)."""
    scenario = make_project("solver: {options: {time_limit: 0.0}}\n")
    code, err = run(scenario, tmp_path / "results", capsys)
    assert code == 3, err
    assert "stopped at its time limit (time_limit = 0.0)" in err
    assert "unbounded" not in err


def test_solver_files_go_into_the_result_folder(make_project, tmp_path, capsys, monkeypatch):
    """A solution file the user asks for is written into the bundle, never into the cwd."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    scenario = make_project(
        "solver: {options: {threads: 1, write_solution_to_file: true, solution_file: sol.txt}}\n"
    )
    code, err = run(scenario, tmp_path / "results", capsys)
    assert code == 0, err
    bundle = tmp_path / "results" / "toy-2022"
    assert (bundle / "sol.txt").is_file()
    assert list(cwd.iterdir()) == []
    options = json.loads((bundle / "run.json").read_text(encoding="utf-8"))["solver"]["options"]
    assert options["solution_file"] == "sol.txt"
    assert options["write_solution_to_file"] is True
    assert options["threads"] == 1
    assert options["log_file"] == "solver.log"
