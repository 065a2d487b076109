"""End-to-end command line: a toy scenario run into a temporary results folder."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pypsa
import pytest

from energy_model.cli import main

TESTS = Path(__file__).parent
MODEL_ENERGY = TESTS / "data" / "pypsa-examples" / "model-energy"


@pytest.fixture(autouse=True)
def _reset_logging():
    yield
    logging.getLogger().handlers.clear()


def run_cli(*args: str) -> int:
    return main(list(args))


def test_run_writes_complete_bundle(make_project, tmp_path, capsys):
    path = make_project(
        "targets: [{name: toy_target, min_share: 0.2, source: test}]\n"
        "export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.00005}]\n"
    )
    results = tmp_path / "results"
    assert run_cli("run", str(path), "--results", str(results)) == 0
    bundle = results / "toy-2022"
    for name in ("scenario.yaml", "run.json", "metrics.csv", "verdict.csv", "network.nc", "log.txt",
                 "index.html"):
        assert (bundle / name).is_file(), name
    assert list((bundle / "figures").glob("*.png"))
    run = json.loads((bundle / "run.json").read_text())
    assert run["status"] == "ok"
    assert run["objective"] == pytest.approx(56_666.67, rel=1e-6)
    assert {"build", "solve", "post", "metrics", "write", "report", "total"} <= set(run["timings_s"])
    assert run["versions"]["pypsa"].startswith("1.")
    assert any(key.endswith("scenarios/toy-2022.yaml") for key in run["input_checksums"])
    assert any(key.endswith("networks/toy/generators.csv") for key in run["input_checksums"])
    metrics = pd.read_csv(bundle / "metrics.csv", keep_default_na=False)
    assert list(metrics.columns) == ["metric", "variant", "carrier", "bus", "value", "unit"]
    export = metrics.query("metric == 'export' and variant == 'corridor'")
    assert export.value.item() == pytest.approx(50 / 0.9 / 1e6, rel=1e-6)  # TWh at the local end
    assert not any(name.startswith(".") for name in (p.name for p in results.iterdir()))
    out = capsys.readouterr().out
    assert "toy_target" in out
    # the resolved scenario round-trips and re-runs to the same metrics
    again = tmp_path / "again"
    (again / "scenarios").mkdir(parents=True)
    assert run_cli("run", str(path), "--results", str(again)) == 0
    assert (again / "toy-2022" / "metrics.csv").read_bytes() == (bundle / "metrics.csv").read_bytes()
    solved = pypsa.Network(bundle / "network.nc")
    assert solved.generators_t.p["coal"].sum() == pytest.approx(170 + 32 / 0.9, abs=1e-3)


def test_compare_and_report_render_site(make_project, tmp_path, capsys):
    results = tmp_path / "results"
    assert run_cli("run", str(make_project()), "--results", str(results)) == 0
    assert run_cli("compare", "--results", str(results)) == 0
    assert (results / "summary.csv").is_file()
    assert (results / "index.html").is_file()
    assert run_cli("report", "--results", str(results)) == 0
    assert "rendered" in capsys.readouterr().out


def test_bad_input_exit_2_and_previous_result_kept(make_project, tmp_path, capsys):
    path = make_project()
    results = tmp_path / "results"
    assert run_cli("run", str(path), "--results", str(results)) == 0
    before = (results / "toy-2022" / "metrics.csv").read_bytes()
    path.write_text(path.read_text() + "yaer: 2023\n")
    assert run_cli("run", str(path), "--results", str(results)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "key 'yaer'" in err and "unknown key" in err
    assert (results / "toy-2022" / "metrics.csv").read_bytes() == before


def test_infeasible_exit_3_and_nothing_written(make_project, tmp_path, capsys):
    path = make_project("export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.0002}]\n")
    results = tmp_path / "results"
    assert run_cli("run", str(path), "--results", str(results)) == 3
    assert "infeasible" in capsys.readouterr().err
    assert not (results / "toy-2022").exists()
    assert not [p for p in results.iterdir() if p.name.startswith(".")]


def test_validate_reports_ok(make_project, capsys):
    path = make_project()
    assert run_cli("validate", str(path)) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.skipif(not MODEL_ENERGY.is_dir(), reason="PyPSA model-energy example not present")
def test_engine_matches_plain_pypsa_on_model_energy(tmp_path):
    """`energy-model run` on PyPSA's model-energy example gives plain PyPSA's objective (2 weeks)."""
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    (project / "data").mkdir()
    toy_table = (TESTS / "data" / "toy_final_energy.csv").read_text(encoding="utf-8")
    (project / "data" / "final_energy.csv").write_text(toy_table.replace("\n2022,", "\n2019,"))
    shutil.copy(TESTS.parent / "data" / "coal_equivalent_factor.csv", project / "data")
    scenario = project / "scenarios" / "model-energy.yaml"
    scenario.write_text(
        f"network: {MODEL_ENERGY.resolve().as_posix()}\nyear: 2019\n"
        "snapshots: {start: '2019-01-01', end: '2019-01-14 23:00'}\n"
        "accounting: {renewable_carriers: [wind, solar]}\n"
        "solver: {options: {solver: simplex, threads: 1}}\n",
        encoding="utf-8",
    )
    assert run_cli("run", str(scenario), "--results", str(tmp_path / "results")) == 0
    engine = json.loads((tmp_path / "results" / "model-energy" / "run.json").read_text())["objective"]

    pypsa.options.api.legacy_string_dtype = False
    n = pypsa.Network(MODEL_ENERGY)
    n.set_snapshots(n.snapshots[: 14 * 8])
    status, condition = n.optimize(solver_name="highs", include_objective_constant=False,
                                   log_to_console=False)
    assert condition == "optimal"
    assert engine == pytest.approx(n.objective, rel=1e-6)
