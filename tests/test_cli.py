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


def test_run_writes_complete_bundle(toy_run):
    """The shared run of the toy (a target, an export contract): a complete bundle."""
    results = toy_run.results
    bundle = toy_run.bundle
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
    assert "toy_target" in toy_run.out
    # (the same scenario run again gives the same metrics: the batch test below re-runs it)
    solved = pypsa.Network(bundle / "network.nc")
    assert solved.generators_t.p["coal"].sum() == pytest.approx(170 + 32 / 0.9, abs=1e-3)


def test_compare_and_report_render_site(toy_run, tmp_path, capsys):
    _, results = toy_run.copy_to(tmp_path)
    assert run_cli("compare", "--results", str(results)) == 0
    assert (results / "summary.csv").is_file()
    assert (results / "index.html").is_file()
    assert run_cli("report", "--results", str(results)) == 0
    assert "rendered" in capsys.readouterr().out


def test_bad_input_exit_2_and_previous_result_kept(toy_run, tmp_path, capsys):
    path, results = toy_run.copy_to(tmp_path)
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


@pytest.mark.slow  # > 15 s on 2 idle cores (a run with figures and a plain PyPSA solve); make test-slow
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


# --------------------------------------------------------------------------------------
# Console: options anywhere, quiet solver, batches, JSON, paths, snapshot windows


def test_options_after_the_subcommand_and_no_solver_banner_on_the_console(toy_run, tmp_path, capfd):
    """Options work after the subcommand; the console shows one line per scenario and the
    verdict table, never HiGHS's banner, which goes to solver.log."""
    out, err = toy_run.out, toy_run.err  # the console of `run <scenario> --results <dir>`
    results = toy_run.results
    assert "Running HiGHS" not in out + err
    assert "Running HiGHS" in (results / "toy-2022" / "solver.log").read_text()
    lines = out.strip().splitlines()
    assert lines[0].startswith("done  toy-2022") and lines[0].endswith(str(results / "toy-2022"))
    assert sum("toy_target" in line for line in lines) == 1  # the verdict table, once
    assert err == ""  # nothing logged at the default level
    run = json.loads((results / "toy-2022" / "run.json").read_text())
    assert run["window_share_of_year"] == 1.0
    assert run["run_date"].endswith("Z")
    # -q and --results before the subcommand: errors only
    path, copied = toy_run.copy_to(tmp_path)
    capfd.readouterr()
    assert run_cli("-q", "--results", str(copied), "validate", str(path)) == 0
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_run_and_validate_process_every_scenario_then_report_failures(toy_run, tmp_path, capsys):
    good, _ = toy_run.copy_to(tmp_path)  # the scenario of the shared run, run again here
    bad = good.with_name("toy-bad.yaml")
    bad.write_text(good.read_text() + "yaer: 2023\n", encoding="utf-8")
    results = tmp_path / "fresh"
    assert run_cli("run", str(bad), str(good), "--results", str(results), "--json") == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert [r["status"] for r in payload["runs"]] == ["failed", "ok"]
    assert payload["failed"] == 1
    assert payload["runs"][0]["exit_code"] == 2 and "key 'yaer'" in payload["runs"][0]["error"]
    assert payload["runs"][1]["result_dir"] == str(results / "toy-2022")
    assert "1 of 2 scenarios failed: toy-bad (bad input)" in captured.err
    assert (results / "toy-2022" / "run.json").is_file()
    # the same inputs run again (another run, another folder) give the same metrics, byte for byte
    metrics = (results / "toy-2022" / "metrics.csv").read_bytes()
    assert metrics == (toy_run.bundle / "metrics.csv").read_bytes()

    assert run_cli("validate", str(bad), str(good), "--results", str(results)) == 2
    captured = capsys.readouterr()
    assert f"ok  {good}" in captured.out
    assert "1 of 2 inputs failed" in captured.err and str(bad) in captured.err

    assert run_cli("compare", "--results", str(results), "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["site"] == str(results / "index.html")
    assert payload["results"] == str(results)


def test_project_root_resolves_the_network_and_not_found_names_the_path(make_project, tmp_path, capsys):
    project = make_project().parent.parent
    elsewhere = tmp_path / "elsewhere" / "toy-2022.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_text("network: networks/toy\nyear: 2022\n", encoding="utf-8")
    assert run_cli("validate", str(elsewhere), "--project-root", str(project)) == 0
    assert run_cli("validate", str(elsewhere)) == 2
    err = capsys.readouterr().err
    assert str((tmp_path / "networks" / "toy").resolve()) in err  # the absolute path it tried
    assert str(elsewhere.resolve()) in err


def test_snapshot_window_scales_annual_export_contracts(make_project, tmp_path):
    """Two of the toy's four hours: a 150 MWh/yr contract becomes 75 MWh for the window.

    Unscaled it would be infeasible (at most 2 h x 50 MW x 0.9 = 90 MWh can be delivered); scaled,
    exporting is unprofitable (coal 300 CNY/MWh > market 100), so exactly 75 MWh are delivered:
    75 / 0.9 MWh withdrawn at the local end.
    """
    path = make_project(
        "snapshots: {start: '2022-01-01 00:00', end: '2022-01-01 01:00'}\n"
        "export_contracts: [{name: beijing, links: [corridor], min_energy_twh: 0.00015}]\n"
    )
    results = tmp_path / "results"
    assert run_cli("run", str(path), "--results", str(results)) == 0
    bundle = results / "toy-2022"
    run = json.loads((bundle / "run.json").read_text())
    assert run["window_share_of_year"] == pytest.approx(0.5)
    assert "min_energy_twh: 0.00015" in (bundle / "scenario.yaml").read_text()  # as written
    assert "50.00 % of the year: export contract beijing scaled from 0.00015 to 7.5e-05 TWh" in (
        bundle / "log.txt"
    ).read_text()
    metrics = pd.read_csv(bundle / "metrics.csv", keep_default_na=False)
    export = metrics.query("metric == 'export' and variant == 'corridor'")
    assert export.value.item() == pytest.approx(75 / 0.9 / 1e6, rel=1e-6)


def test_version_and_an_example_in_every_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--version")
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("energy-model ")
    from energy_model.cli import build_parser

    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    assert {"validate", "run", "report", "compare", "crosscheck", "sweep"} <= set(subcommands)
    for name, sub in subcommands.items():
        text = sub.format_help()
        assert "example:" in text and f"energy-model {name}" in text, name
        if name != "sweep":
            assert "--project-root" in text and "--results" in text, name
