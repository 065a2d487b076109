"""PyPSA's own example networks run unmodified through ``energy-model run`` with plain PyPSA's optimum.

The folders in ``tests/data/pypsa-examples`` are PyPSA's, byte for byte: custom columns
(``carriers.marginal_cost``), a global constraint without a bus, bus carriers missing from
``carriers.csv`` and DC lines with zero reactance. The scenario is minimal (network, year, the
renewable carriers); the objective must equal plain ``pypsa`` + HiGHS (without PyPSA's objective
constant, as the engine reports it) to 1e-6.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pypsa
import pytest

from energy_model.cli import main

TESTS = Path(__file__).parent
EXAMPLES = TESTS / "data" / "pypsa-examples"


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def plain_pypsa_objective(folder: Path) -> float:
    pypsa.options.api.legacy_string_dtype = False
    n = pypsa.Network(folder)
    _, condition = n.optimize(solver_name="highs", include_objective_constant=False,
                              log_to_console=False)
    assert condition == "optimal"
    return float(n.objective)


@pytest.mark.slow
@pytest.mark.parametrize("example", ["ac-dc-meshed", "storage-hvdc"])
def test_example_runs_unmodified_with_plain_pypsa_optimum(example, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    (project / "data").mkdir()
    shutil.copy(TESTS.parent / "data" / "coal_equivalent_factor.csv", project / "data")
    table = (TESTS / "data" / "toy_final_energy.csv").read_text(encoding="utf-8")
    (project / "data" / "final_energy.csv").write_text(table.replace("\n2022,", "\n2015,"),
                                                       encoding="utf-8")
    scenario = project / "scenarios" / f"{example}.yaml"
    scenario.write_text(
        f"network: {(EXAMPLES / example).resolve().as_posix()}\nyear: 2015\n"
        "accounting: {renewable_carriers: [wind, solar]}\n",
        encoding="utf-8",
    )
    code = main(["run", str(scenario), "--results", str(tmp_path / "results")])
    assert code == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "results" / example / "run.json").read_text(encoding="utf-8"))
    assert record["objective"] == pytest.approx(plain_pypsa_objective(EXAMPLES / example), rel=1e-6)
