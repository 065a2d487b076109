"""Determinism and provenance: same inputs → identical metrics; run.json says what was used.

The second run is a separate ``python -m energy_model`` process with a different hash seed, so
an output that depended on set/dict iteration order or on process state would differ.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from energy_model.cli import main

TESTS = Path(__file__).parent
ROOT = TESTS.parent
SCENARIO = (
    "targets: [{name: toy_target, indicator: electricity, min_share: 0.2}]\n"
    "export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.00005}]\n"
    "solver: {options: {solver: ipm, run_crossover: 'off', threads: 1}}\n"
)


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The toy scenario run twice: in-process and as a separate process (module-wide, ~1 min)."""
    tmp_path = tmp_path_factory.mktemp("determinism")
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    shutil.copytree(TESTS / "data" / "networks" / "toy", project / "networks" / "toy")
    (project / "data").mkdir()
    shutil.copy(TESTS / "data" / "toy_final_energy.csv", project / "data" / "final_energy.csv")
    shutil.copy(ROOT / "data" / "coal_equivalent_factor.csv", project / "data")
    path = project / "scenarios" / "toy-2022.yaml"
    path.write_text("network: networks/toy\nyear: 2022\n" + SCENARIO, encoding="utf-8")
    first = tmp_path / "first"
    assert main(["run", str(path), "--results", str(first)]) == 0
    second = tmp_path / "second"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="12345")
    proc = subprocess.run(
        [sys.executable, "-m", "energy_model", "run", str(path), "--results", str(second)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    logging.getLogger().handlers.clear()
    return path, first / "toy-2022", second / "toy-2022"


@pytest.mark.slow  # > 15 s on 2 idle cores; make test-slow
def test_determinism_provenance_and_staleness(two_runs, capsys):
    """One test on purpose: the two runs cost most of the time (module fixtures run once per
    pytest-xdist worker, so separate tests would repeat them)."""
    path, first, second = two_runs
    # 1. same inputs, identical outputs
    for name in ("metrics.csv", "verdict.csv", "scenario.yaml"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a = json.loads((first / "run.json").read_text(encoding="utf-8"))
    b = json.loads((second / "run.json").read_text(encoding="utf-8"))
    for key in ("objective", "input_checksums", "versions", "solver", "verdicts", "duals"):
        assert a[key] == b[key], key

    # 2. run.json records checksums of every input, versions and solver options
    project = path.parents[1]
    run = json.loads((first / "run.json").read_text(encoding="utf-8"))
    checksums = run["input_checksums"]
    expected = [path, *sorted((project / "networks" / "toy").iterdir()),
                *sorted((project / "data").iterdir())]
    for file in expected:
        key = next((k for k in checksums if k.endswith(file.relative_to(project).as_posix())), None)
        assert key is not None, f"{file.name} has no checksum"
        assert checksums[key] == hashlib.sha256(file.read_bytes()).hexdigest(), file.name
    for package in ("python", "pypsa", "linopy", "highspy", "pandas", "numpy"):
        assert run["versions"][package] not in ("", "not installed"), package
    assert run["solver"]["name"] == "highs"
    assert run["solver"]["options"]["threads"] == 1
    assert run["solver"]["options"]["run_crossover"] == "off"
    assert run["git_commit"]
    assert run["status"] == "ok"

    # 3. validate warns once an input changed
    results = first.parent
    capsys.readouterr()
    assert main(["validate", str(path), "--results", str(results)]) == 0
    assert "stale" not in capsys.readouterr().err
    generators = path.parents[1] / "networks" / "toy" / "generators.csv"
    original = generators.read_text(encoding="utf-8")
    try:
        generators.write_text(original.replace("300.0", "310.0"), encoding="utf-8")
        assert main(["validate", str(path), "--results", str(results)]) == 0
        err = capsys.readouterr().err
    finally:
        generators.write_text(original, encoding="utf-8")
    assert "stale" in err
    assert "networks/toy/generators.csv" in err
