"""Shared fixtures: tiny networks and throw-away project folders."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent
TOY = TESTS / "data" / "networks" / "toy"


@pytest.fixture
def toy_copy(tmp_path: Path) -> Path:
    """A writable copy of the toy network folder."""
    target = tmp_path / "toy"
    shutil.copytree(TOY, target)
    return target


@pytest.fixture
def make_project(tmp_path: Path):
    """Create ``<tmp>/project`` with ``networks/toy``, the project's data tables and one scenario.

    Returns a function ``(yaml_text, name="toy-2022") -> scenario path``.
    """
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copytree(TOY, project / "networks" / "toy")
    (project / "data").mkdir()
    shutil.copy(TESTS / "data" / "toy_final_energy.csv", project / "data" / "final_energy.csv")
    shutil.copy(ROOT / "data" / "coal_equivalent_factor.csv", project / "data")

    def write(text: str = "", name: str = "toy-2022") -> Path:
        body = textwrap.dedent(text)
        header = "network: networks/toy\nyear: 2022\n"
        path = project / "scenarios" / f"{name}.yaml"
        path.write_text(header + body, encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_valid_run_record():
    """Write a minimal but valid ``run.json`` (:class:`energy_model.records.RunRecord`)."""
    from energy_model.records import RunRecord, SolverRecord, Timings, write_run_record

    def write(folder: Path, scenario: str) -> None:
        record = RunRecord(
            scenario=scenario, status="ok", condition="optimal", objective=0.0, duals={},
            lp_size={}, solver=SolverRecord(name="highs", options={}), screening={}, snapshots=1,
            versions={}, git_commit="unknown", input_checksums={}, verdicts=[],
            timings_s=Timings(),
        )
        write_run_record(folder / "run.json", record)

    return write
