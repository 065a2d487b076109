"""Shared fixtures: tiny networks, throw-away project folders and one solved toy run."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pypsa

TESTS = Path(__file__).parent
ROOT = TESTS.parent
TOY = TESTS / "data" / "networks" / "toy"


@pytest.fixture
def toy_copy(tmp_path: Path) -> Path:
    """A writable copy of the toy network folder."""
    target = tmp_path / "toy"
    shutil.copytree(TOY, target)
    return target


def _project_writer(project: Path):
    """Create ``project`` with ``networks/toy`` and the data tables; return its scenario writer."""
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
def make_project(tmp_path: Path):
    """Create ``<tmp>/project`` with ``networks/toy``, the project's data tables and one scenario.

    Returns a function ``(yaml_text, name="toy-2022") -> scenario path``.
    """
    return _project_writer(tmp_path / "project")


@pytest.fixture(scope="session")
def shipped_network():
    """``(folder, allow_custom_columns=()) -> pypsa.Network``: a fresh copy of a network folder
    loaded by :func:`energy_model.network.load_network` once per test process (loading the
    Zhangjiakou network, a full year, takes seconds; a copy a fraction of that)."""
    from energy_model.network import load_network

    loaded: dict[tuple[Path, tuple[str, ...]], pypsa.Network] = {}

    def get(folder: Path, allow_custom_columns: Iterable[str] = ()) -> pypsa.Network:
        key = (Path(folder).resolve(), tuple(allow_custom_columns))
        if key not in loaded:
            loaded[key] = load_network(folder, key[1])
        return loaded[key].copy()

    return get


@contextlib.contextmanager
def _captured_fds(into: dict[str, str]) -> Iterator[None]:
    """Capture file descriptors 1 and 2 (Python and C writers alike, e.g. HiGHS's banner) into
    ``into["out"]`` and ``into["err"]``, as pytest's ``capfd`` does for a test."""
    sys.stdout.flush()
    sys.stderr.flush()
    streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        targets = {"out": (1, out_file), "err": (2, err_file)}
        saved = {name: os.dup(fd) for name, (fd, _) in targets.items()}
        try:
            for fd, handle in targets.values():
                os.dup2(handle.fileno(), fd)
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
            sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = streams
            for name, (fd, handle) in targets.items():
                os.dup2(saved[name], fd)
                os.close(saved[name])
                handle.seek(0)
                into[name] = handle.read().decode("utf-8", errors="replace")


#: The scenario of the shared toy run: a target and an export contract, so its bundle has
#: a verdict and an export (50 MWh/yr delivered over the corridor of efficiency 0.9).
TOY_RUN_SCENARIO = (
    "targets: [{name: toy_target, min_share: 0.2, source: test}]\n"
    "export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.00005}]\n"
)


@dataclass(frozen=True)
class ToyRun:
    """One ``energy-model run`` of the toy project (scenario ``toy-2022``), shared read-only.

    ``out``/``err`` are what the run wrote to the console (file descriptors 1 and 2).
    """

    scenario: Path
    results: Path
    out: str = field(repr=False)
    err: str = field(repr=False)

    @property
    def bundle(self) -> Path:
        return self.results / "toy-2022"

    def copy_to(self, folder: Path) -> tuple[Path, Path]:
        """Writable copies of the project and the results in ``folder``: (scenario, results)."""
        project = self.scenario.parents[1]
        shutil.copytree(project, folder / "project")
        shutil.copytree(self.results, folder / "results")
        return folder / "project" / "scenarios" / self.scenario.name, folder / "results"


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> ToyRun:
    """The toy project run once per test process through the command line (a solve, metrics,
    figures and pages: several seconds). For tests that only read a solved bundle; a test that
    changes files works on :meth:`ToyRun.copy_to`. Tests of running itself run their own."""
    from energy_model.cli import main

    folder = tmp_path_factory.mktemp("toy_run")
    scenario = _project_writer(folder / "project")(TOY_RUN_SCENARIO)
    results = folder / "results"
    console: dict[str, str] = {}
    try:
        with _captured_fds(console):
            code = main(["run", str(scenario), "--results", str(results)])
    finally:
        logging.getLogger().handlers.clear()
    assert code == 0, console
    return ToyRun(scenario, results, console["out"], console["err"])


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
